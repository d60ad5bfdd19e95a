"""A sample-weighted mean of per-batch values kept as tensors: no host sync until the epoch ends."""
from __future__ import annotations

import torch
from torch import nn


class RunningMean(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("total", torch.zeros((), dtype=torch.float64), persistent=False)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64), persistent=False)

    def reset(self) -> None:
        self.total.zero_()
        self.count.zero_()

    @torch.no_grad()
    def update(self, value: torch.Tensor, n: int) -> None:
        self.total.add_(value.to(self.total.dtype), alpha=n)
        self.count.add_(n)

    def compute(self) -> torch.Tensor:
        return (self.total / self.count.clamp_min(1)).float()
