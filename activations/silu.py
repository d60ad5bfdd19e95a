"""SiLU (swish)."""
from __future__ import annotations

import torch
from torch import nn

from ._fused import fused
from ._ops import LOG2E, blockwise
from .sigmoid import SigmoidFn


@fused("silu.fwd")
def _fwd(z: torch.Tensor) -> torch.Tensor:
    """z * S(z) = z / (1 + e^-z); one pass when compiled."""
    return z / (1 + torch.exp(-z))


@fused("silu.bwd")
def _bwd(g: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """g * S(z) (1 + z (1 - S(z))), S(z) = 1 / (1 + e^-z)."""
    s = 1 / (1 + torch.exp(-z))
    return g * (s * (1 + z * (1 - s)))


class _SiLUFn(torch.autograd.Function):
    """SiLU(z) = z * S(z);  SiLU'(z) = S(z) (1 + z (1 - S(z))) = S(z) + SiLU(z) (1 - S(z))."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        if _fwd.ok(z):  # one kernel; the backward recomputes S(z) from z
            out = _fwd(z)
            ctx.save_for_backward(z, None, out)
            return out
        s = torch.empty_like(z, memory_format=torch.contiguous_format)
        out = torch.empty_like(s)

        def piece(z, s, out):
            torch.mul(z, -LOG2E, out=s).exp2_().add_(1).reciprocal_()  # S(z) = 1 / (1 + e^-z)
            torch.mul(z, s, out=out)

        blockwise(piece, z.detach(), s, out)
        ctx.save_for_backward(z, s, out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        z, s, out = ctx.saved_tensors
        if torch.is_grad_enabled():
            s = SigmoidFn.apply(z)  # differentiable S(z) for double backward
            return (s + out * (1 - s)) * grad
        if s is None:
            return _bwd(grad, z)
        d = torch.empty_like(s)

        def piece(d, s, out, grad):
            torch.add(s, out, out=d).addcmul_(out, s, value=-1).mul_(grad)

        blockwise(piece, d, s, out.detach(), grad)
        return d


class SiLU(nn.Module):
    """Sigmoid linear unit (swish): SiLU(z) = z * S(z), SiLU'(z) = S(z)(1 + z(1 - S(z))).

    `inplace` is accepted for compatibility with `torch.nn.SiLU` and ignored (always a new tensor).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _SiLUFn.apply(z)
