"""Logs `time/epoch_end_s`: seconds since training started, once per epoch, after that epoch's validation.

It goes to the loggers (metrics.csv, TensorBoard), not into metrics.json: compare.py reads it from
metrics.csv to report the wall seconds a configuration needs to reach a
target validation metric. Without it compare.py falls back to wall_seconds x epoch fraction.
"""
from __future__ import annotations

import time

import pytorch_lightning as pl


class EpochTimer(pl.Callback):
    def __init__(self, name: str = "time/epoch_end_s"):
        self.name = name
        self._start: float | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning runs the epoch's validation before this hook, so the time covers it too
        if self._start is None or trainer.sanity_checking:
            return
        elapsed = time.perf_counter() - self._start
        # straight to the loggers (rank 0 only; validation has just synchronized the ranks): through
        # pl_module.log it cost ~0.7 ms an epoch, 3% of a digits epoch, for one number
        for logger in trainer.loggers:
            logger.log_metrics({self.name: elapsed, "epoch": trainer.current_epoch}, step=trainer.global_step)
