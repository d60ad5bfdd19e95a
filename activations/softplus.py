"""Softplus."""
from __future__ import annotations

import torch
from torch import nn

from ._ops import check_real, exp_, mask_gt
from .sigmoid import SigmoidFn


class _SoftplusFn(torch.autograd.Function):
    """Softplus(z) = log(1 + e^(beta z)) / beta, or z where beta z > threshold (as torch);
    Softplus'(z) = S(beta z) = e^(beta z) / (1 + e^(beta z)), or 1 above the threshold."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
        u = z * beta
        above = mask_gt(u, threshold)  # 1.0 where the linear branch applies
        e = exp_(u.clamp_max_(threshold))  # e^(beta z), capped where it is not used
        out = torch.log1p(e)
        if beta != 1.0:
            out.div_(beta)
        torch.lerp(out, z.detach(), above, out=out)  # exact z where above == 1
        ctx.beta, ctx.threshold = beta, threshold
        ctx.save_for_backward(z, e, above)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        z, e, above = ctx.saved_tensors
        if torch.is_grad_enabled():
            s = SigmoidFn.apply(z * ctx.beta)  # differentiable S(beta z) for double backward
            return torch.maximum(s, above) * grad, None, None
        d = torch.add(e, 1)
        torch.div(e, d, out=d)  # S(beta z) in [0, 1]
        # max with the 0/1 mask gives exactly 1 above the threshold
        return torch.maximum(d, above, out=d).mul_(grad), None, None


class Softplus(nn.Module):
    """Softplus: log(1 + e^(beta z)) / beta, reverting to z where beta z > threshold;
    derivative S(beta z), the sigmoid."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = check_real("beta", beta)
        if self.beta == 0.0:
            raise ValueError("beta must be non-zero, got 0")
        self.threshold = check_real("threshold", threshold)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _SoftplusFn.apply(z, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"
