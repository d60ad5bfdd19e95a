"""Inverted dropout."""
from __future__ import annotations

import torch
from torch import nn


class _DropoutFn(torch.autograd.Function):
    """y = x * m / (1 - p),  m ~ Bernoulli(1 - p) per element (y = 0 * x when p = 1);
    backward: dx = g * m / (1 - p), through the same mask, saved from the forward.

    The mask is drawn as torch draws it on the CPU (bernoulli_ on an empty tensor of x's shape),
    so the same seed drops the same elements as torch.nn.Dropout there.
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: float) -> torch.Tensor:
        if p == 1:
            noise = torch.zeros((), dtype=x.dtype, device=x.device)  # 0 * x keeps NaN/inf as NaN, as torch
        else:
            noise = torch.empty_like(x).bernoulli_(1 - p).div_(1 - p)  # m / (1 - p)
        ctx.save_for_backward(noise)
        return x * noise

    @staticmethod
    def backward(ctx, g: torch.Tensor):
        (noise,) = ctx.saved_tensors
        return g * noise, None


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """Inverted dropout; the identity (x itself) when not training or p = 0, as torch's."""
    if not training or p == 0 or x.numel() == 0:
        return x
    return _DropoutFn.apply(x, p)


class Dropout(nn.Module):
    """Inverted dropout: in training y = x * m / (1 - p) with m ~ Bernoulli(1 - p), so E[y] = x;
    in eval the identity. torch.nn.Dropout's arguments; `inplace` is accepted and ignored (a new
    tensor is always returned)."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return dropout(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
