"""A run folder always says how the run ended: metrics.json with status ok, diverged, failed or interrupted.

train() writes ok and diverged itself. A run that raises writes "failed" with the error line
(`record_failure`, called by train.py's handler); a run stopped by Ctrl+C (SIGINT) writes "interrupted"
with the last completed epoch (`InterruptRecord`, a Lightning callback: Lightning catches the
KeyboardInterrupt, tells callbacks through `on_exception`, then exits). Only the first process of a
multi-process run writes, as train() does.

The same callback writes the run's story into the run folder's log file (train.log) through the
`refzoo.record` logger, which configs/hydra/default.yaml sends to the file only (the console shows the
progress bar and the summary): what ran, one line per epoch with its metrics, the test metrics.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytorch_lightning as pl
from omegaconf import DictConfig

from .record import collect_metrics, run_facts, write_metrics_json
from .run_folder import is_secondary_process

log = logging.getLogger("refzoo")
record_log = logging.getLogger("refzoo.record")


def error_line(err: BaseException) -> str:
    """`Type: first line of the message`: what metrics.json and compare.py show for a failed run."""
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0]}" if text else type(err).__name__


def record_failure(cfg: DictConfig, err: BaseException, choices: dict[str, str] | None = None) -> None:
    """metrics.json with status "failed" and the error line; a diverged run already wrote its own."""
    from .divergence import DivergedError  # the guard imports Lightning callbacks; only needed here

    if isinstance(err, DivergedError) or is_secondary_process():
        return
    try:
        folder = Path(cfg.paths.output_dir)
        facts = {**run_facts(cfg, choices), "status": "failed", "error": error_line(err)}
        write_metrics_json(folder / "metrics.json", {}, facts)
    except Exception as record_err:  # noqa: BLE001 - recording must never hide the error being reported
        log.warning("could not write metrics.json: %s", error_line(record_err))


def _numbers(metrics: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.6g}" for k, v in metrics.items()) or "(no metrics)"


class RunRecord(pl.Callback):
    """Epoch lines in train.log; on Ctrl+C, metrics.json with status "interrupted", the last completed
    epoch and the metrics so far."""

    def __init__(self, cfg: DictConfig, choices: dict[str, str] | None = None):
        self.cfg = cfg
        self.choices = choices
        self.last_completed_epoch: int | None = None
        self._unlogged: int | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            facts = run_facts(self.cfg, self.choices)
            record_log.info("fit: %s; run folder %s", " ".join(f"{k}={v}" for k, v in facts.items()),
                            self.cfg.paths.output_dir)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.last_completed_epoch = trainer.current_epoch
        self._unlogged = trainer.current_epoch

    def _log_epoch(self, trainer: pl.Trainer) -> None:
        # called once the epoch's hooks have all run (the model logs its train means in its own epoch-end
        # hook, after the callbacks'): at the next epoch's start, or when fit ends
        if self._unlogged is not None and trainer.is_global_zero:
            record_log.info("epoch %d: %s", self._unlogged, _numbers(collect_metrics(trainer.callback_metrics)))
        self._unlogged = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._log_epoch(trainer)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._log_epoch(trainer)

    def on_test_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            record_log.info("test: %s", _numbers(collect_metrics(trainer.callback_metrics)))

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if not isinstance(exception, KeyboardInterrupt) or not trainer.is_global_zero:
            return
        done = self.last_completed_epoch
        facts: dict[str, Any] = {**run_facts(self.cfg, self.choices), "status": "interrupted",
                                 "last_completed_epoch": done, "epochs": 0 if done is None else done + 1,
                                 "global_steps": trainer.global_step,
                                 "error": "KeyboardInterrupt: stopped by the user (SIGINT)"}
        write_metrics_json(Path(self.cfg.paths.output_dir) / "metrics.json",
                           collect_metrics(trainer.callback_metrics), facts)
        log.info("interrupted after %s completed epochs; resume with ckpt_path=last hydra.run.dir=%s",
                 facts["epochs"], self.cfg.paths.output_dir)
