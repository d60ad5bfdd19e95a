"""ELU, the exponential linear unit."""
from __future__ import annotations

import torch
from torch import nn

from ._args import check_real
from ._autocast import input_dtype_under_autocast


class ELUFunction(torch.autograd.Function):
    """R(z) = z if z > 0 else alpha (e^z - 1);  R'(z) = 1 if z > 0 else alpha e^z.

    e^z - 1 is expm1(z), exact near z = 0. A NaN input gives a NaN value and a NaN gradient: the
    test z > 0 is false for NaN, so the alpha e^z branch is taken. (torch's own gradient at NaN
    depends on the tensor's size: NaN from its vectorized loop, 1 from its scalar loop, which
    handles tensors of a few elements and the tail of longer ones.)
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.alpha = alpha
        ctx.save_for_backward(z)
        return torch.where(z > 0, z, alpha * torch.expm1(z))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (z,) = ctx.saved_tensors
        return torch.where(z > 0, grad, grad * ctx.alpha * torch.exp(z)), None


class ELU(nn.Module):
    """Exponential linear unit: R(z) = z if z > 0 else alpha (e^z - 1), R'(z) = 1 or alpha e^z.

    `inplace` is accepted for compatibility with `torch.nn.ELU` and ignored (always a new tensor).
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = check_real("alpha", alpha)
        self.inplace = inplace

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return ELUFunction.apply(z, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"
