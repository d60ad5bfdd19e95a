"""Softplus."""
from __future__ import annotations

import torch
from torch import nn

from ._autocast import float32_under_autocast
from ._fused import fused
from ._ops import check_real, exp_, mask_gt
from .sigmoid import SigmoidFn


@fused("softplus.fwd")
def _fwd(z: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
    """log(1 + e^(beta z)) / beta, or z where beta z > threshold; one pass when compiled."""
    u = z * beta
    return torch.where(u > threshold, z, torch.log1p(torch.exp(u)) / beta)


@fused("softplus.bwd")
def _bwd(g: torch.Tensor, z: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
    """g * S(beta z) = g / (1 + e^(-beta z)), or g where beta z > threshold."""
    u = z * beta
    return torch.where(u > threshold, g, g / (1 + torch.exp(-u)))


def _saturates(dtype: torch.dtype, threshold: float) -> bool:
    """True when, in `dtype`, log(1 + e^t) rounds to t and S(t) to 1 at t = threshold (as this file
    computes them). Then Softplus at the cap equals the cap, so max(Softplus at min(z, t), z) is z
    exactly above the threshold and the Softplus below it, and S(min(z, t)) is exactly 1 above it:
    no 0/1 mask is needed (float32 with the default threshold 20; not float64, where e^-20
    shows)."""
    key = (dtype, threshold)
    if key not in _SATURATES:
        t = torch.tensor([threshold], dtype=dtype)
        e = exp_(t.clone())
        _SATURATES[key] = bool(torch.log1p(e) == t) and bool(e / (e + 1) == 1)
    return _SATURATES[key]


_SATURATES: dict = {}


class _SoftplusFn(torch.autograd.Function):
    """Softplus(z) = log(1 + e^(beta z)) / beta, or z where beta z > threshold (as torch);
    Softplus'(z) = S(beta z) = e^(beta z) / (1 + e^(beta z)), or 1 above the threshold."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
        ctx.beta, ctx.threshold = beta, threshold
        ctx.fused = _fwd.ok(z, beta, threshold)
        if ctx.fused:  # one kernel; the backward recomputes S(beta z) from z
            ctx.save_for_backward(z)
            return _fwd(z, beta, threshold)
        if beta == 1.0 and z.is_floating_point() and _saturates(z.dtype, threshold):
            # two fresh tensors and no mask (see _saturates)
            e = exp_(z.clamp_max(threshold))
            out = torch.log1p(e)
            torch.maximum(out, z.detach(), out=out)
            ctx.save_for_backward(z, e, None)
            return out
        u = z * beta
        above = mask_gt(u, threshold)  # 1.0 where the linear branch applies
        e = exp_(u.clamp_max_(threshold))  # e^(beta z), capped where it is not used
        out = torch.log1p(e)
        if beta != 1.0:
            out.div_(beta)
        # exact z where above == 1; a select, not lerp, whose (z - out) * 0 is NaN at z = +-inf
        out = torch.where(above.bool(), z.detach(), out)
        ctx.save_for_backward(z, e, above)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        if ctx.fused:
            (z,) = ctx.saved_tensors
            if not torch.is_grad_enabled():
                return _bwd(grad, z, ctx.beta, ctx.threshold), None, None
            s = SigmoidFn.apply(z * ctx.beta)  # double backward, as below
            return torch.maximum(s, mask_gt(z * ctx.beta, ctx.threshold)) * grad, None, None
        z, e, above = ctx.saved_tensors
        if torch.is_grad_enabled():
            s = SigmoidFn.apply(z * ctx.beta)  # differentiable S(beta z) for double backward
            if above is None:  # S rounds to exactly 1 above the threshold (see _saturates)
                return s * grad, None, None
            return torch.maximum(s, above) * grad, None, None
        d = torch.add(e, 1)
        torch.div(e, d, out=d)  # S(beta z) in [0, 1]
        if above is not None:
            # max with the 0/1 mask gives exactly 1 above the threshold
            torch.maximum(d, above, out=d)
        return d.mul_(grad), None, None


class Softplus(nn.Module):
    """Softplus: log(1 + e^(beta z)) / beta, reverting to z where beta z > threshold;
    derivative S(beta z), the sigmoid."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = check_real("beta", beta)
        if self.beta == 0.0:
            raise ValueError("beta must be non-zero, got 0")
        self.threshold = check_real("threshold", threshold)

    @float32_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _SoftplusFn.apply(z, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"
