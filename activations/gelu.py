"""GELU, exact and tanh-approximated."""
from __future__ import annotations

import math

import torch
from torch import nn

from ._autocast import input_dtype_under_autocast
from .tanh import tanh

SQRT_HALF = math.sqrt(0.5)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
K = math.sqrt(2.0 / math.pi)
C = 0.044715


class GELUFunction(torch.autograd.Function):
    """GELU(z) = z Phi(z), Phi(z) = (1 + erf(z / sqrt 2)) / 2 (the standard normal CDF);
    GELU'(z) = Phi(z) + z phi(z), phi(z) = e^(-z^2 / 2) / sqrt(2 pi) (its density)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(z)
        return z * 0.5 * (1 + torch.erf(z * SQRT_HALF))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (z,) = ctx.saved_tensors
        cdf = 0.5 * (1 + torch.erf(z * SQRT_HALF))
        pdf = torch.exp(-0.5 * z * z) * INV_SQRT_2PI
        return grad * (cdf + z * pdf)


class GELUTanhFunction(torch.autograd.Function):
    """GELU(z) ~ z/2 (1 + tanh(u)), u = sqrt(2/pi) (z + 0.044715 z^3);
    GELU'(z) = (1 + tanh(u)) / 2 + z/2 (1 - tanh(u)^2) sqrt(2/pi) (1 + 3 * 0.044715 z^2)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(z)
        u = K * (z + C * z * z * z)
        return 0.5 * z * (1 + tanh(u))

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (z,) = ctx.saved_tensors
        t = tanh(K * (z + C * z * z * z))
        du = K * (1 + 3 * C * z * z)
        return grad * (0.5 * (1 + t) + 0.5 * z * (1 - t * t) * du)


class GELU(nn.Module):
    """Gaussian error linear unit: GELU(z) = z Phi(z) (approximate='none'), or the tanh
    approximation z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))) (approximate='tanh')."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        fn = GELUTanhFunction if self.approximate == "tanh" else GELUFunction
        return fn.apply(z)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"
