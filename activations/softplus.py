"""Softplus."""
from __future__ import annotations

import torch
from torch import nn

from ._args import check_real
from ._autocast import float32_under_autocast


class SoftplusFunction(torch.autograd.Function):
    """Softplus(z) = log(1 + e^(beta z)) / beta, and z where beta z > threshold (as torch);
    Softplus'(z) = S(beta z) = 1 / (1 + e^(-beta z)), and 1 above the threshold.

    log(1 + e^u) is written max(u, 0) + log(1 + e^-|u|) (log1p), which never overflows.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor, beta: float, threshold: float) -> torch.Tensor:
        ctx.beta, ctx.threshold = beta, threshold
        ctx.save_for_backward(z)
        u = z * beta
        soft = (u.clamp(min=0) + torch.log1p(torch.exp(-u.abs()))) / beta
        return torch.where(u > threshold, z, soft)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (z,) = ctx.saved_tensors
        u = z * ctx.beta
        return torch.where(u > ctx.threshold, grad, grad / (1 + torch.exp(-u))), None, None


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
        return SoftplusFunction.apply(z, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"
