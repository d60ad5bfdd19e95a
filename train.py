"""refzoo's entry point: compose a config with Hydra, then instantiate -> fit -> test -> summary.

    python train.py                                   # MLP on scikit-learn's digits, CPU
    python train.py model=cnn optimizer=nesterov      # swap any config group from the command line
    python train.py -m optimizer=sgd,adam seed=0,1,2  # a sweep; the sweep folder gets a comparison
"""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Sequence

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from datamodules import DataError
from runner import ConfigError, check_config, collect_metrics, print_summary, write_metrics_json
from runner.launch import end_process_group, process_facts  # importing it registers the run-folder resolvers
from runner.checks import optimizer_key
from runner.divergence import DivergedError, DivergenceGuard
from runner.quiet import quiet_library_notices
from runner.rng_state import RngStateCheckpoint
from runner.threads import apply_threads
from runner.record import run_facts
from runner.outcome import RunRecord, record_failure
from runner.validate import best_checkpoint, check_model_fits, refuse_null_groups, validate_config

log = logging.getLogger("refzoo")


def _hydra_choices() -> dict[str, str]:
    if not HydraConfig.initialized():
        return {}
    return {k: v for k, v in HydraConfig.get().runtime.choices.items() if isinstance(v, str)}


def _instantiate(node: DictConfig, key: str, **kwargs: Any) -> Any:
    """Instantiate one config node; a constructor's ValueError becomes a ConfigError naming the key."""
    try:
        # plain lists/dicts, not OmegaConf containers: hyperparameters must pickle into weights-only checkpoints
        return instantiate(node, _convert_="all", **kwargs)
    except InstantiationException as err:
        cause = err.__cause__ or err
        if isinstance(cause, (ValueError, TypeError)):
            msg = str(cause)
            raise ConfigError(msg if msg.startswith(f"{key}.") else f"{key}: {msg}") from None
        raise


def _instantiate_all(group: DictConfig | None, key: str) -> list[Any]:
    if not group:
        return []
    return [_instantiate(node, f"{key}.{name}") for name, node in group.items()
            if isinstance(node, DictConfig) and "_target_" in node]


def train(cfg: DictConfig, extra_callbacks: Sequence[pl.Callback] = ()) -> dict[str, float]:
    """Train and test one configuration; returns the final metrics (also written to metrics.json).

    `extra_callbacks` join the configured ones (bench/loop_overhead.py times train.py's loop with one).
    """
    started = time.perf_counter()
    run_dir = Path(cfg.paths.output_dir)
    validate_config(cfg)  # value types, trainer values, the judge file (runner/validate.py)
    ckpt_path = check_config(cfg)
    try:
        threads = apply_threads(cfg.get("threads", "auto"))
    except ValueError as err:
        raise ConfigError(str(err)) from None
    pl.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = _instantiate(cfg.data, "data")
    model = _instantiate(cfg.model, "model")
    check_model_fits(cfg, model, ckpt_path)  # the checkpoint's keys and shapes, batch norm vs batch size
    # part of every run's contract, whatever the callbacks group says: exact resume, no NaN checkpoints
    callbacks = [*_instantiate_all(cfg.get("callbacks"), "callbacks"), RngStateCheckpoint(), DivergenceGuard(),
                 RunRecord(cfg, _hydra_choices()), *extra_callbacks]
    loggers = _instantiate_all(cfg.get("logger"), "logger")
    # a logger that is also a callback learns where a resumed run starts (runner/csv_logger.py)
    callbacks += [lg for lg in loggers if isinstance(lg, pl.Callback)]
    trainer: pl.Trainer = _instantiate(cfg.trainer, "trainer", callbacks=callbacks, logger=loggers or False)
    launch = process_facts(trainer)  # world size and cluster environment; each rank logs its rank
    # an optimizer with bad hyperparameters must fail now, not after the first epoch's data is loaded
    try:
        model.configure_optimizers()
    except ValueError as err:
        raise ConfigError(f"{optimizer_key(str(err))}: {err}") from None

    status = "ok"
    fit_metrics: dict[str, float] = {}
    test_metrics: dict[str, float] = {}
    diverged: DivergedError | None = None
    if cfg.get("train", True):
        if ckpt_path is not None:
            log.info("resuming from %s", ckpt_path)
        try:
            trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        except DivergedError as err:
            diverged, status = err, "diverged"
        fit_metrics = collect_metrics(trainer.callback_metrics)
    if cfg.get("test", True) and status == "ok":
        best = best_checkpoint(trainer)  # "" when there is none or its file is gone
        # the path itself rather than "best", which Lightning resolves with a warning when, as here, there is
        # more than one ModelCheckpoint (the best weights and last.ckpt); it takes the first one, this one
        test_ckpt = best or (None if cfg.get("train", True) else ckpt_path)
        results = trainer.test(model, datamodule=datamodule, ckpt_path=test_ckpt, verbose=False, weights_only=True)
        test_metrics = collect_metrics(*results)

    metrics = {**fit_metrics, **test_metrics}
    if trainer.checkpoint_callback is not None and trainer.checkpoint_callback.best_model_score is not None:
        metrics[f"best/{trainer.checkpoint_callback.monitor}"] = float(trainer.checkpoint_callback.best_model_score)
    facts = {**run_facts(cfg, _hydra_choices()), "epochs": trainer.current_epoch,
             "global_steps": trainer.global_step, "wall_seconds": round(time.perf_counter() - started, 3),
             "threads": threads, **launch,
             "status": status}
    if diverged is not None:
        facts.update(diverged_at_step=diverged.step, learning_rate=diverged.lr, error=str(diverged))
    if trainer.is_global_zero:
        write_metrics_json(run_dir / "metrics.json", metrics, facts)
        print_summary(facts, metrics, run_dir)
    end_process_group(trainer)  # under DDP: every rank is past its last collective
    if diverged is not None:
        raise diverged
    return metrics


def _in_multirun() -> bool:
    from hydra.types import RunMode

    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


@hydra.main(config_path="configs", config_name="train", version_base="1.3")
def main(cfg: DictConfig) -> float | None:
    quiet_library_notices()
    try:
        metrics = train(cfg)
    except Exception as err:  # noqa: BLE001 - one job of a sweep must not end the sweep
        record_failure(cfg, err, _hydra_choices())  # single runs too: the folder says how the run ended
        if _in_multirun():
            # the sweep goes on; compare.py shows this job as a failed row
            if isinstance(err, DivergedError):
                log.error("%s", err)  # train() already wrote metrics.json with status "diverged"
                return float("nan")
            log.exception("job failed: %s", err)  # record_failure wrote metrics.json
            return float("nan")
        if isinstance(err, ConfigError):
            log.error("config error: %s", err)
            sys.exit(2)
        if isinstance(err, DivergedError):
            log.error("%s", err)
            sys.exit(3)
        if isinstance(err, DataError):  # a dataset missing or unreadable, or data settings that cannot work
            log.error("data error: %s", err)
            sys.exit(2)
        raise
    return metrics.get(cfg.get("optimized_metric"))


if __name__ == "__main__":
    os.environ.setdefault("PROJECT_ROOT", str(Path(__file__).resolve().parent))
    refuse_null_groups(sys.argv[1:], Path(__file__).resolve().parent / "configs")  # before Hydra composes
    main()
