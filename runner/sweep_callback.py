"""Hydra callback: when a multirun ends, compare.py turns the sweep folder into comparison.md/.png.

Hydra skips `on_multirun_end` when a job raised (the sweeper re-raises after the batch), so once a job
has failed the comparison is also rewritten after every later job: the last job leaves it complete.
The report never fails the sweep: an error while comparing is logged, not raised. `ensemble`
(`compare.ensemble=true`) adds each configuration's ensemble of seeds (runner/ensemble.py).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.core.utils import JobStatus
from hydra.types import RunMode
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger("refzoo.compare")


class CompareOnSweepEnd(Callback):
    def __init__(self, metric: str | None = None, target: str | float | None = None, enabled: bool = True,
                 ensemble: bool = False):
        self.metric = metric
        self.target = target
        self.enabled = enabled
        self.ensemble = bool(ensemble)
        self._job_failed = False

    def _compare(self, sweep_dir: str | Path) -> None:
        if not self.enabled:
            return
        try:
            from compare import compare  # at the repo root, next to train.py
            md, png = compare(sweep_dir, metric=self.metric, target=self.target, ensemble=self.ensemble)
            log.info("comparison: %s and %s", md, png)
        except Exception as err:  # noqa: BLE001 - a report must not turn a finished sweep into a failure
            log.warning("could not compare the sweep in %s: %s: %s", sweep_dir, type(err).__name__, err)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        self._job_failed = False

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        if config.hydra.get("mode") != RunMode.MULTIRUN:
            return
        if getattr(job_return, "status", None) == JobStatus.FAILED:
            self._job_failed = True
        if self._job_failed:
            self._compare(config.hydra.sweep.dir)

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        self._compare(config.hydra.sweep.dir)
