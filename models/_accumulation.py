"""Exact gradient accumulation, including an epoch's last (partial) window.

Lightning divides each micro-batch loss by N = accumulate_grad_batches and steps every N micro-batches
(and at the epoch's end). With equal micro-batches, the accumulated gradient is the gradient of the mean
loss over the N*B samples, i.e. one big batch. Two things break that: a short last micro-batch, and a
last window of fewer than N micro-batches, which Lightning still divides by N. Weighting each micro-batch
mean by n_i * N / W, where W is the number of samples in its window, makes every step equal to one batch
of that window's samples. Every automatically optimized zoo model applies it (models/_base.py).

The window sizes come from public trainer attributes and the in-memory datamodules' `train_set` and
`batch_size`; with another datamodule the sizes are unknown and Lightning's 1/N stays.
"""
from __future__ import annotations

import math

import pytorch_lightning as pl


def window_weight(trainer: pl.Trainer, batch_idx: int, n: int) -> float:
    """Factor for the micro-batch `batch_idx` of `n` samples; 1.0 without accumulation or for full windows."""
    acc = int(trainer.accumulate_grad_batches)
    if acc == 1:
        return 1.0
    dm = trainer.datamodule
    train_set = getattr(dm, "train_set", None)
    batch_size = getattr(dm, "batch_size", None)
    num_batches = trainer.num_training_batches
    if train_set is None or not batch_size or not math.isfinite(num_batches):
        return 1.0  # sizes unknown: keep Lightning's 1/N
    per_rank = -(-train_set[0].shape[0] // trainer.world_size)  # the loader shards samples evenly over ranks
    start = (batch_idx // acc) * acc
    stop = min(start + acc, int(num_batches))
    window = sum(max(0, min(batch_size, per_rank - j * batch_size)) for j in range(start, stop))
    return n * acc / window if window else 1.0
