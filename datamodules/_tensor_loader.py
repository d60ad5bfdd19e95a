"""Serve in-memory tensors in batches by slicing: no Dataset, no per-item collate.

On small data the per-item `__getitem__` + `collate` of a DataLoader costs more than the model's
step, so datamodules that fit in memory hand Lightning this iterable instead. The shuffle order is a
pure function of (seed, epoch), which keeps runs reproducible and resumable mid-training, and each
DDP rank takes its own strided shard (padded to equal length, as DistributedSampler does).
"""
from __future__ import annotations

import math
from typing import Callable

import torch


class TensorBatchLoader:
    def __init__(self, tensors: tuple[torch.Tensor, ...], batch_size: int, *, shuffle: bool = False,
                 drop_last: bool = False, seed: int = 0, epoch_fn: Callable[[], int] | None = None,
                 rank: int = 0, world_size: int = 1):
        if batch_size < 1:
            raise ValueError(f"data.batch_size must be a positive integer, got {batch_size}")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            raise ValueError("all tensors must have the same first dimension")
        self.tensors = tensors
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch_fn = epoch_fn
        self.rank = rank
        self.world_size = world_size
        self._calls = 0

    @property
    def num_samples(self) -> int:
        """Samples this rank sees per epoch."""
        return math.ceil(self.tensors[0].shape[0] / self.world_size)

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def _indices(self) -> torch.Tensor | None:
        n = self.tensors[0].shape[0]
        epoch = self.epoch_fn() if self.epoch_fn is not None else self._calls
        self._calls += 1
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            idx = torch.randperm(n, generator=g)
        elif self.world_size == 1:
            return None  # contiguous slices are views: no copy at all
        else:
            idx = torch.arange(n)
        if self.world_size > 1:
            total = self.num_samples * self.world_size
            if total > n:  # pad by wrapping so every rank takes the same number of steps
                idx = torch.cat([idx, idx[: total - n]])
            idx = idx[self.rank:total:self.world_size]
        return idx

    def __iter__(self):
        idx = self._indices()
        m = self.num_samples if idx is not None else self.tensors[0].shape[0]
        stop = (m // self.batch_size) * self.batch_size if self.drop_last else m
        for start in range(0, stop, self.batch_size):
            if idx is None:
                yield tuple(t[start:start + self.batch_size] for t in self.tensors)
            else:
                sel = idx[start:start + self.batch_size]
                yield tuple(t[sel] for t in self.tensors)


def bootstrap_sample(tensors: tuple[torch.Tensor, ...], seed: int) -> tuple[torch.Tensor, ...]:
    """A bootstrap sample (bagging): n rows drawn uniformly with replacement from the n rows of `tensors`,
    the same rows from each tensor; a pure function of `seed`."""
    n = tensors[0].shape[0]
    rows = torch.randint(n, (n,), generator=torch.Generator().manual_seed(seed))
    return tuple(t[rows] for t in tensors)
