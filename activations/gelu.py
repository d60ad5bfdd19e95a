"""GELU, exact and tanh-approximated."""
from __future__ import annotations

import math

import torch
from torch import nn

from ._autocast import input_dtype_under_autocast
from ._fused import fused
from ._ops import LOG2E, blockwise, exp_, times_grad
from .sigmoid import SigmoidFn

_SQRT1_2 = math.sqrt(0.5)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_K = math.sqrt(2.0 / math.pi)
_C = 0.044715


@fused("gelu.fwd")
def _fwd(z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(z * Phi(z), Phi(z)), Phi(z) = (1 + erf(z / sqrt 2)) / 2; one pass when compiled. Phi is kept for the
    backward: writing it costs less than a second erf there (fwd+bwd 0.86x torch instead of 1.2-1.4x)."""
    cdf = 0.5 * (1 + torch.erf(z * _SQRT1_2))
    return z * cdf, cdf


@fused("gelu.bwd")
def _bwd(g: torch.Tensor, z: torch.Tensor, cdf: torch.Tensor) -> torch.Tensor:
    """g * (Phi(z) + z * phi(z)), phi(z) = e^(-z^2/2) / sqrt(2 pi)."""
    return g * (cdf + z * (torch.exp(-0.5 * (z * z)) * _INV_SQRT_2PI))


@fused("gelu_tanh.fwd")
def _tanh_fwd(z: torch.Tensor) -> torch.Tensor:
    """z * S(2u), u = sqrt(2/pi) (z + 0.044715 z^3) (S the sigmoid); one pass when compiled."""
    return z / (1 + torch.exp((-2.0 * _K) * (z + _C * (z * z * z))))


@fused("gelu_tanh.bwd")
def _tanh_bwd(g: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """g * (S + z * S(1 - S) * 2 sqrt(2/pi) (1 + 3 * 0.044715 z^2)), S = S(2u).

    1 - S is computed as S(-2u) = 1 / (1 + e^(2u)), not by subtraction, which cancels where S is
    near 1 (float32 error 1.6e-6 at z = 4.8)."""
    v = (2.0 * _K) * (z + _C * (z * z * z))  # 2u
    s, t = 1 / (1 + torch.exp(-v)), 1 / (1 + torch.exp(v))
    return g * (s + z * (s * t) * ((2.0 * _K) * (1 + (3.0 * _C) * (z * z))))


class _GELUFn(torch.autograd.Function):
    """GELU(z) = z * Phi(z), Phi(z) = (1 + erf(z / sqrt 2)) / 2;
    GELU'(z) = Phi(z) + z * phi(z), phi(z) = e^(-z^2/2) / sqrt(2 pi)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        if _fwd.ok(z):  # one kernel for the output and Phi
            out, cdf = _fwd(z)
            ctx.save_for_backward(z, cdf)
            return out
        cdf = torch.mul(z, _SQRT1_2).erf_().add_(1).mul_(0.5)
        ctx.save_for_backward(z, cdf)
        return z * cdf

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        z, cdf = ctx.saved_tensors
        if torch.is_grad_enabled():
            # double backward: Phi rebuilt from differentiable ops so that d/dz flows through it
            cdf = 0.5 * (1 + torch.erf(z * _SQRT1_2))
            return (cdf + z * torch.exp(-0.5 * z * z) * _INV_SQRT_2PI) * grad
        if _bwd.ok(grad, z, cdf):
            return _bwd(grad, z, cdf)
        pdf = exp_(torch.mul(z, z), -0.5)
        d = torch.addcmul(cdf, pdf, z, value=_INV_SQRT_2PI, out=pdf)
        return d.mul_(grad)


class _GELUTanhFn(torch.autograd.Function):
    """GELU(z) ~ z/2 * (1 + tanh(u)), u = sqrt(2/pi) (z + 0.044715 z^3).

    Since (1 + tanh(u))/2 = S(2u) (the sigmoid), GELU(z) = z * S(2u) and
    GELU'(z) = S(2u) + z * S(2u)(1 - S(2u)) * 2 sqrt(2/pi) (1 + 3 * 0.044715 z^2).
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        if _tanh_fwd.ok(z):  # one kernel; the backward recomputes S(2u) from z
            ctx.save_for_backward(z, None)
            return _tanh_fwd(z)
        out = torch.empty_like(z, memory_format=torch.contiguous_format)

        def exp_2u(z, e):
            """e <- e^-2u = e^(-2 sqrt(2/pi) (z + c z^3)), returned for chaining."""
            torch.addcmul(z, torch.mul(z, z, out=e), z, value=_C, out=e)
            return e.mul_(-2.0 * _K * LOG2E).exp2_()

        if not ctx.needs_input_grad[0]:  # z S(2u), S(2u) = 1 / (1 + e^-2u)
            blockwise(lambda z, out: exp_2u(z, out).add_(1).reciprocal_().mul_(z), z.detach(), out)
            return out
        d = torch.empty_like(out)  # GELU'(z), made here while S(2u) is at hand

        def piece(z, d, out):
            exp_2u(z, d)
            s = torch.add(d, 1).reciprocal_()  # S(2u) = 1 / (1 + e^-2u), in a piece-sized temporary
            torch.mul(z, s, out=out)
            # 1 - S(2u) = e^-2u S(2u), not a subtraction, which cancels where S(2u) is near 1
            # (float32 error 2e-6 at z = 4.9); e^-2u = inf (z < -10.06 in float32) gives
            # inf * 0 = NaN where 1 - S(2u) = 1
            d.mul_(s).nan_to_num_(1.0)
            w = torch.mul(z, z).mul_(6.0 * _K * _C).add_(2.0 * _K).mul_(out)  # z S 2u'
            torch.addcmul(s, w, d, out=d)  # S + z S (1 - S) 2u'

        blockwise(piece, z.detach(), d, out)
        ctx.save_for_backward(z, d)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        z, d = ctx.saved_tensors
        if torch.is_grad_enabled():
            # differentiable S(2u) and 1 - S(2u) = S(-2u) for double backward
            v = 2.0 * _K * (z + _C * z * z * z)
            s, t = SigmoidFn.apply(v), SigmoidFn.apply(-v)
            du = 2.0 * _K * (1 + 3.0 * _C * z * z)
            return (s + z * s * t * du) * grad
        if d is None:
            return _tanh_bwd(grad, z)
        return d * grad


class GELU(nn.Module):
    """Gaussian error linear unit: GELU(z) = z * Phi(z) (approximate='none'), or the tanh
    approximation z/2 * (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))) (approximate='tanh')."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        fn = _GELUTanhFn if self.approximate == "tanh" else _GELUFn
        return fn.apply(z)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"
