"""ELU."""
from __future__ import annotations

import torch
from torch import nn

from ._ops import check_real, mask_gt, times_grad


class _ELUFn(torch.autograd.Function):
    """R(z) = z if z > 0 else a*(e^z - 1);  R'(z) = 1 if z > 0 else a*e^z = R(z) + a."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, alpha: float) -> torch.Tensor:
        t = z.clamp_max(0).expm1_().mul_(alpha)  # a*(e^min(z,0) - 1): 0 where z > 0
        if 0.0 <= alpha <= 1.0:
            # for 0 <= a <= 1, a*(e^z - 1) >= z on z <= 0, so the max picks the right branch
            out = torch.maximum(t, z, out=t)
        else:
            out = t.add_(z.clamp_min(0))
        ctx.alpha = alpha
        ctx.save_for_backward(z, out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        z, out = ctx.saved_tensors
        m = mask_gt(z)
        one = torch.ones((), dtype=out.dtype)
        d = out + ctx.alpha  # a*e^z on z <= 0
        if torch.is_grad_enabled():
            return torch.lerp(d, one, m) * grad, None
        return torch.lerp(d, one, m, out=d).mul_(grad), None


class ELU(nn.Module):
    """Exponential linear unit: R(z) = z if z > 0 else alpha*(e^z - 1);
    R'(z) = 1 if z > 0 else alpha*e^z (= R(z) + alpha).

    `inplace` is accepted for compatibility with `torch.nn.ELU` and ignored (always a new tensor).
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = check_real("alpha", alpha)
        self.inplace = inplace

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _ELUFn.apply(z, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"
