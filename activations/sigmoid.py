"""Sigmoid (logistic)."""
from __future__ import annotations

import torch
from torch import nn

from ._autocast import input_dtype_under_autocast


def sigmoid(z: torch.Tensor) -> torch.Tensor:
    """S(z) = 1 / (1 + e^-z) (see SigmoidFunction)."""
    return 1 / (1 + torch.exp(-z))


class SigmoidFunction(torch.autograd.Function):
    """S(z) = 1 / (1 + e^-z);  S'(z) = S(z) (1 - S(z)).

    Does not overflow into NaN: for z << 0, e^-z is inf and 1 / inf = 0.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        s = sigmoid(z)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (s,) = ctx.saved_tensors
        return grad * (1 - s) * s


class Sigmoid(nn.Module):
    """Sigmoid: S(z) = 1 / (1 + e^-z), S'(z) = S(z)(1 - S(z))."""

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return SigmoidFunction.apply(z)
