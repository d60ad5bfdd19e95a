"""Linear (fully connected) layer."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import init

from ._autocast import matmul_inputs
from ._params import create_weight_and_bias


class _LinearFn(torch.autograd.Function):
    """y = x W^T + b  over the last axis of x (any leading axes are rows).

    backward, with g = dL/dy:   dx = g W,   dW = g^T x,   db = sum over rows of g.
    Only the inputs are saved, so the backward is itself differentiable (double backward works).
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        # b + x W^T in one call: addmm adds the bias inside the matrix product
        y = rows @ weight.t() if bias is None else torch.addmm(bias, rows, weight.t())
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        return y.view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        x, weight = ctx.saved_tensors
        g_rows = g.reshape(-1, g.shape[-1])
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = (g_rows @ weight).view(x.shape)
        if ctx.needs_input_grad[1]:
            dw = g_rows.t() @ x.reshape(-1, x.shape[-1])
        if ctx.has_bias and ctx.needs_input_grad[2]:
            db = g_rows.sum(0)
        return dx, dw, db


def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """y = x W^T + b with the written-out backward (the functional form, used by the RNN layers too)."""
    context, x, weight, bias = matmul_inputs(x, weight, bias)
    with context:
        return _LinearFn.apply(x, weight, bias)


class Linear(nn.Module):
    """y = x W^T + b, W of shape (out_features, in_features); torch.nn.Linear's arguments, parameter
    names and initialization (W, b ~ U(-1/sqrt(in_features), 1/sqrt(in_features)), drawn in the
    same order, so the same seed gives the same weights)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        create_weight_and_bias(self, (out_features, in_features), out_features, bias, device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # kaiming_uniform_ with a = sqrt(5) is U(-1/sqrt(fan_in), 1/sqrt(fan_in)), torch's choice
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1]
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"
