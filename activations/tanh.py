"""Tanh."""
from __future__ import annotations

import torch
from torch import nn

from ._autocast import input_dtype_under_autocast


class TanhFunction(torch.autograd.Function):
    """tanh(z) = (e^z - e^-z) / (e^z + e^-z);  tanh'(z) = 1 - tanh(z)^2.

    Evaluated as tanh(|z|) = t / (t + 2), t = e^(2|z|) - 1 (expm1), with z's sign: accurate near
    0, and near +-1 the final division is the only rounding that matters. Where e^(2|z|)
    overflows, tanh is +-1. The backward takes 1 - tanh^2 as (1 - tanh)(1 + tanh), which does not
    round tanh^2 where tanh is near +-1.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        t = torch.expm1(2 * z.abs())
        y = torch.copysign(torch.where(torch.isinf(t), 1.0, t / (t + 2)), z)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (y,) = ctx.saved_tensors
        return grad * ((1 - y) * (1 + y))


class Tanh(nn.Module):
    """Hyperbolic tangent: tanh(z) = (e^z - e^-z)/(e^z + e^-z), tanh'(z) = 1 - tanh(z)^2."""

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return TanhFunction.apply(z)
