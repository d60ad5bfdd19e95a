"""Linear (identity-like) activation."""
from __future__ import annotations

import torch
from torch import nn

from ._args import check_real
from ._autocast import input_dtype_under_autocast


class LinearFunction(torch.autograd.Function):
    """R(z) = m * z;  R'(z) = m."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.slope = slope
        return z * slope

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return grad * ctx.slope, None


class LinearActivation(nn.Module):
    """The cheatsheet's linear activation R(z) = m * z with derivative R'(z) = m.

    With the default slope 1.0 it is the identity (torch's closest counterpart is `nn.Identity`);
    the result is always a new tensor.
    """

    def __init__(self, slope: float = 1.0) -> None:
        super().__init__()
        self.slope = check_real("slope", slope)

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return LinearFunction.apply(z, self.slope)

    def extra_repr(self) -> str:
        return f"slope={self.slope}"
