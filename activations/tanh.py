"""Tanh."""
from __future__ import annotations

import torch
from torch import nn

from ._autocast import input_dtype_under_autocast


def tanh(z: torch.Tensor) -> torch.Tensor:
    """tanh(z) = 1 / (1 + 2/t) with z's sign, t = e^(2|z|) - 1 (see TanhFunction)."""
    return torch.copysign(1 / (1 + 2 / torch.expm1(2 * z.abs())), z)


class TanhFunction(torch.autograd.Function):
    """tanh(z) = (e^z - e^-z) / (e^z + e^-z);  tanh'(z) = 1 - tanh(z)^2.

    Evaluated as tanh(|z|) = 1 / (1 + 2/t), t = e^(2|z|) - 1 (expm1), with z's sign: that is
    t / (t + 2), accurate near 0 (expm1 keeps the small difference) and rounded once near +-1, and
    its edge cases fall out of the formula: t = 0 gives 0, t = inf gives 1. The backward takes
    1 - tanh^2 as (1 - tanh)(1 + tanh), which does not round tanh^2 where tanh is near +-1.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        y = tanh(z)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (y,) = ctx.saved_tensors
        return grad * ((1 - y) * (1 + y))


class Tanh(nn.Module):
    """Hyperbolic tangent: tanh(z) = (e^z - e^-z)/(e^z + e^-z), tanh'(z) = 1 - tanh(z)^2."""

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return TanhFunction.apply(z)
