"""Logs `time/epoch_end_s`: seconds since training started, once per epoch, after that epoch's validation.

compare.py reads it from metrics.csv to report the wall seconds a configuration needs to reach a
target validation metric (without it compare.py falls back to wall_seconds x epoch fraction). It is
logged through the module's `log`, so it shares the epoch's row in metrics.csv with the epoch's other
metrics, and its last value (the training seconds) lands in metrics.json.
"""
from __future__ import annotations

import time

import pytorch_lightning as pl


class EpochTimer(pl.Callback):
    def __init__(self, name: str = "time/epoch_end_s"):
        self.name = name
        self.started: float | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # Lightning runs the epoch's validation before this hook, so the time covers it too
        if self.started is None:
            return
        # rank 0's clock: every rank logs the same name, and only rank 0's loggers write
        pl_module.log(self.name, time.perf_counter() - self.started, rank_zero_only=True)
