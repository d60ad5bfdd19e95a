"""SiLU (swish)."""
from __future__ import annotations

import torch
from torch import nn

from ._autocast import input_dtype_under_autocast


class SiLUFunction(torch.autograd.Function):
    """SiLU(z) = z S(z), S(z) = 1 / (1 + e^-z);  SiLU'(z) = S(z) (1 + z (1 - S(z))).

    The backward computes S(z) again from z, so that it is differentiable (double backward).
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(z)
        return z / (1 + torch.exp(-z))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (z,) = ctx.saved_tensors
        s = 1 / (1 + torch.exp(-z))
        return grad * s * (1 + z * (1 - s))


class SiLU(nn.Module):
    """Sigmoid linear unit (swish): SiLU(z) = z S(z), SiLU'(z) = S(z)(1 + z(1 - S(z))).

    `inplace` is accepted for compatibility with `torch.nn.SiLU` and ignored (always a new tensor).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return SiLUFunction.apply(z)
