"""Sample-weighted means of per-batch values kept as tensors: no host sync until the epoch ends."""
from __future__ import annotations

import torch
from torch import Tensor, nn


class RunningMean(nn.Module):
    """A sample-weighted mean of per-batch values kept as tensors: no host sync until the epoch ends."""

    def __init__(self):
        super().__init__()
        self.register_buffer("total", torch.zeros((), dtype=torch.float64), persistent=False)
        self.register_buffer("count", torch.zeros((), dtype=torch.float64), persistent=False)

    def reset(self) -> None:
        self.total.zero_()
        self.count.zero_()

    @torch.no_grad()
    def update(self, value: Tensor, n: int) -> None:
        self.total.add_(value.detach().to(self.total.dtype), alpha=n)
        self.count.add_(n)

    def compute(self) -> Tensor:
        return (self.total / self.count.clamp_min(1)).float()


class EpochMeans(nn.Module):
    """One RunningMean per metric name ("val/loss"); `pop(stage)` returns the stage's means and resets them."""

    def __init__(self, *names: str):
        super().__init__()
        self.names = tuple(names)
        self.means = nn.ModuleDict({n.replace("/", "__"): RunningMean() for n in self.names})

    def update(self, name: str, value: Tensor, n: int) -> None:
        self.means[name.replace("/", "__")].update(value, n)

    def reset(self, stage: str) -> None:
        for name in self.names:
            if name.startswith(f"{stage}/"):
                self.means[name.replace("/", "__")].reset()

    def pop(self, stage: str) -> dict[str, Tensor]:
        out = {}
        for name in self.names:
            if name.startswith(f"{stage}/"):
                mean = self.means[name.replace("/", "__")]
                if mean.count > 0:  # a stage that logged nothing (e.g. no test batches) reports nothing
                    out[name] = mean.compute()
                mean.reset()
        return out
