"""metrics.csv: one row per logged step, on disk as soon as it is logged, kept across a resume.

A Lightning `Logger` (its public base class), written here because Lightning's CSVLogger deletes an
existing metrics.csv when it starts, so resuming a run in its folder (`ckpt_path=last`) would lose
the epochs logged before the interruption.

- Metrics logged at the same step share one row (an epoch's validation, training loss and epoch
  time become one row). Every `save()` (Lightning calls it after each `log_metrics`) and `finalize()`
  puts the current row on disk, flushed; a later metric of the same step rewrites that last row. A
  killed run therefore loses nothing it had logged.
- A new column (test metrics at the end, say) rewrites the file with the wider header.
- An existing metrics.csv is kept and appended to. When training resumes from a checkpoint, rows of
  the resumed epoch and later ones (logged after that checkpoint was written, before the
  interruption) are dropped, so every epoch appears once, in order. The logger learns where training
  resumes as a callback: train.py adds every logger that is also a Callback to the callbacks.
- Lightning writes an epoch's checkpoint before it hands that epoch's training metrics to the loggers,
  so a run killed between the two would resume with the checkpoint's epoch row missing its training
  loss. Each checkpoint therefore carries the metrics of its epoch as callbacks saw them
  (`trainer.callback_metrics` computed during that epoch, the values the loggers get next), and a
  resume fills in whatever that row lacks.
"""
from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any, Mapping

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import Logger
from pytorch_lightning.utilities import rank_zero_only

FILE_NAME = "metrics.csv"
CHECKPOINT_KEY = "metrics.csv epoch row"  # in each full checkpoint: {"epoch": int, "metrics": {name: float}}


def _plain(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.item()
    return value


class CSVLogger(Logger, pl.Callback):
    def __init__(self, save_dir: str, name: str = "", version: str | int = ""):
        super().__init__()
        self._save_dir = str(save_dir)
        self._name = str(name or "")
        self._version = version if version not in (None, "") else ""
        self.path = Path(self.log_dir) / FILE_NAME
        self.header: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self._on_disk = 0             # leading rows that are in the file
        self._tail_changed = False    # the last of them has taken more metrics since it was written
        self._tail_at = 0             # file offset where the last row in the file starts
        self._open_row = False        # the last row may still take metrics of its step
        self._resumed_row: dict[str, Any] | None = None  # the checkpoint's epoch metrics, on a resume
        self._before_epoch: dict[str, Any] = {}  # callback_metrics as the current epoch started
        if self.path.is_file():
            with open(self.path, newline="") as fh:
                reader = csv.DictReader(fh)
                self.header = list(reader.fieldnames or [])
                self.rows = [{k: v for k, v in r.items() if v not in (None, "")} for r in reader]
            self._on_disk = len(self.rows)  # closed rows: only appended after

    # ------------------------------------------------------------ Logger's interface
    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str | int:
        return self._version

    @property
    def root_dir(self) -> str:
        return os.path.join(self._save_dir, self._name)

    @property
    def log_dir(self) -> str:
        version = self._version if isinstance(self._version, str) else f"version_{self._version}"
        return os.path.join(self.root_dir, version)

    @property
    def save_dir(self) -> str:
        return self._save_dir

    @rank_zero_only
    def log_hyperparams(self, params: Any = None, *args: Any, **kwargs: Any) -> None:
        """Nothing to do: the run's whole config is in <run folder>/.hydra/config.yaml."""

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> None:
        values = {k: _plain(v) for k, v in metrics.items()}
        if step is not None:
            values["step"] = int(step)
        if self._open_row and step is not None and str(self.rows[-1].get("step")) == str(step):
            self.rows[-1].update(values)
            self._tail_changed = self._on_disk == len(self.rows)
        else:
            self._write()  # the previous step's row is complete
            self.rows.append(values)
            self._open_row = True

    @rank_zero_only
    def save(self) -> None:
        self._write()

    @rank_zero_only
    def finalize(self, status: str) -> None:
        self._write()
        self._open_row = False

    # ------------------------------------------------------------ resume
    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # callback_metrics keeps a value until its stage runs again: a key still holding the same
        # object at the checkpoint (a validation that did not run this epoch) is an earlier epoch's
        self._before_epoch = dict(trainer.callback_metrics)

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        metrics = {k: _plain(v) for k, v in trainer.callback_metrics.items()
                   if self._before_epoch.get(k) is not v and not k.endswith("_step")
                   and (not isinstance(v, torch.Tensor) or v.numel() == 1)}
        checkpoint[CHECKPOINT_KEY] = {"epoch": trainer.current_epoch, "metrics": metrics}

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule,
                           checkpoint: dict[str, Any]) -> None:
        self._resumed_row = checkpoint.get(CHECKPOINT_KEY)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.ckpt_path is not None and trainer.is_global_zero:
            self.drop_epochs_from(trainer.current_epoch)
            if self._resumed_row is not None:
                self.complete_epoch(self._resumed_row["epoch"], self._resumed_row["metrics"])

    def complete_epoch(self, epoch: int, metrics: Mapping[str, Any]) -> bool:
        """Add to the last row of `epoch` the metrics it lacks; returns whether the file changed."""
        rows = [r for r in self.rows if r.get("epoch") not in (None, "") and int(float(r["epoch"])) == epoch]
        missing = {k: v for k, v in metrics.items() if rows and k not in rows[-1]}
        if not missing:
            return False
        rows[-1].update(missing)
        self.header = sorted(set(self.header) | set(missing))
        self._rewrite_all()
        return True

    def drop_epochs_from(self, epoch: int) -> int:
        """Remove the rows of `epoch` and later epochs (about to be trained again); returns how many."""
        self._write()
        self._open_row = False
        keep = [r for r in self.rows if r.get("epoch") in (None, "") or int(float(r["epoch"])) < epoch]
        dropped = len(self.rows) - len(keep)
        if dropped:
            self.rows = keep
            self._rewrite_all()
        return dropped

    # ------------------------------------------------------------ the file
    def _write(self) -> None:
        """Put the rows not yet on disk, and the last one if it has grown since, into the file."""
        first = self._on_disk - 1 if self._tail_changed else self._on_disk
        if first >= len(self.rows):
            return
        keys = {k for r in self.rows[first:] for k in r}
        if not self.path.is_file() or not keys <= set(self.header):
            self.header = sorted(set(self.header) | keys)
            self._rewrite_all()
            return
        # plain file writes, flushed when the file closes: a killed process loses none of them
        with open(self.path, "r+", newline="") as fh:
            if self._tail_changed:
                fh.seek(self._tail_at)
            else:
                fh.seek(0, os.SEEK_END)
            for row in self.rows[first:]:
                self._tail_at = fh.tell()
                fh.write(self._line(row))
            fh.truncate()
        self._on_disk, self._tail_changed = len(self.rows), False

    def _rewrite_all(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w", newline="") as fh:
            fh.write(",".join(self.header) + "\n")
            for row in self.rows:
                self._tail_at = fh.tell()
                fh.write(self._line(row))
        tmp.replace(self.path)  # atomic: a kill leaves the old file or the new one, never half of one
        self._on_disk, self._tail_changed = len(self.rows), False

    def _line(self, row: Mapping[str, Any]) -> str:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerow([row.get(k, "") for k in self.header])
        return buf.getvalue()
