"""ELU."""
from __future__ import annotations

import torch
from torch import nn

from ._autocast import input_dtype_under_autocast
from ._ops import blockwise, check_real, exp_, mask_gt


class _ELUFn(torch.autograd.Function):
    """R(z) = z if z > 0 else a*(e^z - 1);  R'(z) = 1 if z > 0 else a*e^z = R(z) + a."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, alpha: float) -> torch.Tensor:
        # a*(e^min(z,0) - 1), 0 where z > 0. e^x - 1 through the fast exp2 rather than expm1 (about
        # 5x slower here): near z = 0 the error is absolute, at most ~a * machine epsilon
        if 0.0 <= alpha <= 1.0:
            out = torch.empty_like(z, memory_format=torch.contiguous_format)

            def piece(z, out):
                exp_(torch.clamp_max(z, 0, out=out)).sub_(1).mul_(alpha)
                # for 0 <= a <= 1, a*(e^z - 1) >= z on z <= 0, so the max picks the right branch
                torch.maximum(out, z, out=out)

            blockwise(piece, z.detach(), out)
        else:
            t = exp_(z.clamp_max(0)).sub_(1).mul_(alpha)
            out = t.add_(z.clamp_min(0))
        ctx.alpha = alpha
        # for 0 <= a <= 1 the backward needs only R(z); otherwise it also needs the sign of z
        if 0.0 <= alpha <= 1.0:
            ctx.save_for_backward(out)
        else:
            ctx.save_for_backward(out, z)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        alpha = ctx.alpha
        out = ctx.saved_tensors[0]
        if 0.0 <= alpha <= 1.0:
            # R(z) > 0 exactly where z > 0, and R(z) + a lies in [0, a] where z <= 0, so
            # R'(z) = min(max(sign R(z), R(z) + a), 1): 1 where z > 0 (max(1, z + a) clipped to 1),
            # R(z) + a elsewhere (sign R(z) is 0 or -1 there). Built as max(sign - a, R) + a:
            # one fresh tensor, the rest in place.
            # max/clamp carry a NaN input through; torch (testing z <= 0) passes the gradient on
            # there, so nan_to_num sets R'(z) = 1.
            if torch.is_grad_enabled():
                # out-of-place and differentiable through `out` for double backward
                d = torch.maximum(torch.sign(out) - alpha, out) + alpha
                return d.clamp_max(1).nan_to_num(1.0) * grad, None
            d = torch.empty_like(out, memory_format=torch.contiguous_format)

            def piece(d, out, grad):
                torch.sign(out, out=d).sub_(alpha)
                torch.maximum(d, out, out=d).add_(alpha).clamp_max_(1).nan_to_num_(1.0).mul_(grad)

            blockwise(piece, d, out.detach(), grad)
            return d, None
        z = ctx.saved_tensors[1]
        m = mask_gt(z)  # 1.0 where z > 0
        # NaN only at z = NaN and z = inf ((inf + a) * 0): torch's R'(z) is 1 at both
        if torch.is_grad_enabled():
            return ((out + alpha) * (1 - m) + m).nan_to_num(1.0) * grad, None
        return (out + alpha).mul_(1 - m).add_(m).nan_to_num_(1.0).mul_(grad), None


class ELU(nn.Module):
    """Exponential linear unit: R(z) = z if z > 0 else alpha*(e^z - 1);
    R'(z) = 1 if z > 0 else alpha*e^z (= R(z) + alpha).

    `inplace` is accepted for compatibility with `torch.nn.ELU` and ignored (always a new tensor).
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = check_real("alpha", alpha)
        self.inplace = inplace

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _ELUFn.apply(z, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"
