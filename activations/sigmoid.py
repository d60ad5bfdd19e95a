"""Sigmoid (logistic)."""
from __future__ import annotations

import torch
from torch import nn

from ._autocast import input_dtype_under_autocast
from ._fused import fused
from ._ops import exp_of, times_grad


@fused("sigmoid.fwd")
def _fwd(z: torch.Tensor) -> torch.Tensor:
    """S(z) = 1 / (1 + e^-z), one pass when compiled."""
    return 1 / (1 + torch.exp(-z))


@fused("sigmoid.bwd")
def _bwd(g: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """g * S'(z) = g * s * (1 - s)."""
    return g * (s * (1 - s))


class SigmoidFn(torch.autograd.Function):
    """S(z) = 1 / (1 + e^-z);  S'(z) = S(z) * (1 - S(z)).

    Stable as written: e^-z overflows to inf for z << 0 and 1 / inf = 0, never NaN.
    Large tensors run the same formulas as fused kernels (activations/_fused.py).
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        s = _fwd(z) if _fwd.ok(z) else exp_of(z, -1.0).add_(1).reciprocal_()
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (s,) = ctx.saved_tensors
        if _bwd.ok(grad, s):
            return _bwd(grad, s)
        return times_grad(torch.addcmul(s, s, s, value=-1), grad)  # s - s^2 = s(1 - s)


class Sigmoid(nn.Module):
    """Sigmoid: S(z) = 1 / (1 + e^-z), S'(z) = S(z)(1 - S(z))."""

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return SigmoidFn.apply(z)
