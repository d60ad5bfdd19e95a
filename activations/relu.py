"""ReLU and LeakyReLU."""
from __future__ import annotations

import torch
from torch import nn

from ._args import check_real
from ._autocast import input_dtype_under_autocast


class ReLUFunction(torch.autograd.Function):
    """R(z) = max(0, z);  R'(z) = 1 if z > 0 else 0.

    As torch: 0 at the kink, and a NaN input gives NaN and passes the gradient on (the test is
    R(z) <= 0, false for NaN).
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        out = z.clamp(min=0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (out,) = ctx.saved_tensors
        return torch.where(out <= 0, 0.0, grad)


class LeakyReLUFunction(torch.autograd.Function):
    """R(z) = z if z > 0 else a z;  R'(z) = 1 if z > 0 else a  (a = negative_slope)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, slope: float) -> torch.Tensor:
        ctx.slope = slope
        ctx.save_for_backward(z)
        return torch.where(z > 0, z, z * slope)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (z,) = ctx.saved_tensors
        return torch.where(z > 0, grad, grad * ctx.slope), None


class ReLU(nn.Module):
    """Rectified linear unit: R(z) = max(0, z), R'(z) = 1 if z > 0 else 0.

    `inplace` is accepted for compatibility with `torch.nn.ReLU` and ignored: the result is always
    a new tensor (values and gradients are the same either way).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return ReLUFunction.apply(z)


class LeakyReLU(nn.Module):
    """Leaky ReLU: R(z) = z if z > 0 else a z, R'(z) = 1 if z > 0 else a (a = negative_slope).

    `inplace` is accepted for compatibility with `torch.nn.LeakyReLU` and ignored (always a new tensor).
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = check_real("negative_slope", negative_slope)
        self.inplace = inplace

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return LeakyReLUFunction.apply(z, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"
