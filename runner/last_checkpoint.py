"""checkpoints/last.ckpt, what `ckpt_path=last` resumes from, written at most every `every_n_seconds`.

A full checkpoint every epoch is a large part of a small epoch (bench/loop_overhead.py), so last.ckpt is
written after the first epoch (a broken output folder shows up at once), then whenever
`every_n_seconds` of training have passed since the previous write, and always after the final epoch
(max_epochs, max_steps, early stopping or max_time), so a finished run's last.ckpt is its end state and a
killed one loses at most `every_n_seconds` of training. `every_n_seconds: 0` writes every epoch.
"""
from __future__ import annotations

import time

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint


class LastCheckpoint(ModelCheckpoint):
    clock = staticmethod(time.monotonic)  # seconds; a class attribute so tests can drive it

    def __init__(self, dirpath: str, every_n_seconds: float = 30.0, filename: str = "last"):
        if not every_n_seconds >= 0:
            raise ValueError(f"every_n_seconds must be >= 0, got {every_n_seconds}")
        # monitor=None + top-1 under a fixed name: one file, overwritten in place
        super().__init__(dirpath=dirpath, filename=filename, monitor=None, save_top_k=1, every_n_epochs=1,
                         enable_version_counter=False, save_on_train_epoch_end=True)
        self.every_n_seconds = float(every_n_seconds)
        self._written_at: float | None = None

    def _due(self, trainer: pl.Trainer) -> bool:
        return (self._written_at is None or _final_epoch(trainer)
                or self.clock() - self._written_at >= self.every_n_seconds)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._due(trainer):
            super().on_train_epoch_end(trainer, pl_module)
            self._written_at = self.clock()


def _final_epoch(trainer: pl.Trainer) -> bool:
    """Whether fit ends after this epoch: max_epochs, max_steps, or a stop requested (public trainer state)."""
    # in on_train_epoch_end `current_epoch` still counts this epoch as running (it moves on after the
    # epoch-end hooks); callbacks that stop a run (EarlyStopping, Timer) have set `should_stop` by now,
    # since Lightning runs checkpoint callbacks after all others
    finished = trainer.current_epoch + 1
    max_epochs, max_steps = trainer.max_epochs, trainer.max_steps
    return (trainer.should_stop
            or (max_epochs is not None and max_epochs >= 0 and finished >= max_epochs)
            or (max_steps is not None and max_steps >= 0 and trainer.global_step >= max_steps))
