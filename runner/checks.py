"""Config checks that run before any training: one readable line naming the key and what is allowed."""
from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import DictConfig


class ConfigError(ValueError):
    """A bad config value; train.py prints its message as one line and exits non-zero."""


def resolve_ckpt_path(cfg: DictConfig) -> str | None:
    """`ckpt_path`: null, `last` (this run folder's checkpoints/last.ckpt) or a file path that must exist."""
    ckpt = cfg.get("ckpt_path")
    if ckpt in (None, "", "null"):
        return None
    if ckpt == "last":
        path = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
        if not path.is_file():
            raise ConfigError(f"ckpt_path=last: no checkpoint at {path}; pass hydra.run.dir=<the run folder> "
                              f"to resume that run, or ckpt_path=<file>")
        return str(path)
    path = Path(str(ckpt)).expanduser()
    if not path.is_file():
        raise ConfigError(f"ckpt_path: {path} does not exist (allowed: null, last, or a path to a .ckpt file)")
    try:
        # weights-only: reading the file must not execute code from it
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # noqa: BLE001 - any failure means "not a checkpoint we can use"
        raise ConfigError(f"ckpt_path: {path} is not a readable Lightning checkpoint ({type(err).__name__})") from None
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise ConfigError(f"ckpt_path: {path} is not a Lightning checkpoint (no 'state_dict' inside)")
    return str(path)


def check_trainer(cfg: DictConfig) -> None:
    accel = str(cfg.trainer.get("accelerator", "cpu"))
    if accel in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.accelerator={accel} but no GPU is available here; use trainer=cpu "
                          f"(or trainer=auto to take a GPU when there is one)")
    allowed_precision = {"32-true", "32", "64-true", "64", "16-mixed", "bf16-mixed", "bf16-true", "16-true",
                         "transformer-engine"}
    prec = str(cfg.trainer.get("precision", "32-true"))
    if prec not in allowed_precision:
        raise ConfigError(f"trainer.precision={prec} is not one of {sorted(allowed_precision)}")
    acc = cfg.trainer.get("accumulate_grad_batches", 1)
    if not isinstance(acc, int) or acc < 1:
        raise ConfigError(f"trainer.accumulate_grad_batches must be a positive integer, got {acc}")
    epochs = cfg.trainer.get("max_epochs", 1)
    if epochs is not None and (not isinstance(epochs, int) or epochs < -1 or epochs == 0):
        raise ConfigError(f"trainer.max_epochs must be a positive integer (or -1 for no limit), got {epochs}")


# torch.optim's validation messages -> the config key a user should change
_OPTIMIZER_KEYS = {"learning rate": "lr", "momentum": "momentum", "weight_decay": "weight_decay",
                   "epsilon": "eps", "beta parameter at index 0": "betas[0]", "beta parameter at index 1": "betas[1]",
                   "rho": "rho", "alpha": "alpha", "lr_decay": "lr_decay", "initial_accumulator_value":
                   "initial_accumulator_value", "dampening": "dampening", "Nesterov": "nesterov"}


def optimizer_key(message: str) -> str:
    for fragment, key in _OPTIMIZER_KEYS.items():
        if fragment in message:
            return f"optimizer.{key}"
    return "optimizer"


# optimizers whose step re-evaluates the model through a closure (line searches, Hessian products)
CLOSURE_OPTIMIZERS = {"optimizers.LBFGS", "optimizers.BFGS", "optimizers.ConjugateGradient", "optimizers.Newton",
                      "torch.optim.LBFGS"}


def _target(node) -> str:
    return str(node.get("_target_", "")) if node is not None else ""


def check_closure_optimizer(cfg: DictConfig) -> None:
    """Closure optimizers re-run forward/backward inside step(): that rules out a few combinations."""
    name = _target(cfg.get("optimizer"))
    if name not in CLOSURE_OPTIMIZERS:
        return
    short = name.rsplit(".", 1)[-1]
    if int(cfg.trainer.get("accumulate_grad_batches", 1)) > 1:
        raise ConfigError(f"optimizer {short} needs a closure and cannot accumulate gradients: set "
                          f"trainer.accumulate_grad_batches=1 (and a full batch, e.g. data.batch_size=100000)")
    prec = str(cfg.trainer.get("precision", "32-true"))
    if "mixed" in prec:
        raise ConfigError(f"optimizer {short} needs a closure, which Lightning does not support with "
                          f"trainer.precision={prec}; use trainer.precision=32-true or 64-true")
    model = _target(cfg.get("model"))
    if model.endswith("GAN"):
        raise ConfigError(f"optimizer {short} needs a closure; the gan model steps two optimizers by hand "
                          f"(allowed: sgd, momentum, nesterov, adagrad, adadelta, rmsprop, adam, adamw)")


def check_manual_optimization(cfg: DictConfig) -> None:
    """The GAN steps its two optimizers by hand; Lightning refuses trainer accumulation and clipping for
    such a model, so the GAN has its own keys for both."""
    if not _target(cfg.get("model")).endswith("GAN"):
        return
    acc = cfg.trainer.get("accumulate_grad_batches", 1)
    clip = cfg.trainer.get("gradient_clip_val")
    for given, own in ((acc != 1 and f"trainer.accumulate_grad_batches={acc}", "model.accumulate_grad_batches"),
                       (clip is not None and f"trainer.gradient_clip_val={clip}", "model.clip_val")):
        if given:
            raise ConfigError(f"{given} does not apply to model=gan, which steps its optimizers itself: "
                              f"use {own} instead")


def check_regression_data(cfg: DictConfig) -> None:
    """Linear regression fits real-valued targets; a classification set (one that declares
    num_classes) would have it regress class indices, which trains but means nothing."""
    if _target(cfg.get("model")).endswith("LinearRegression") and "num_classes" in cfg.get("data", {}):
        raise ConfigError("model=linear needs regression data (a data config with output_dim): use data=diabetes "
                          "or experiment=linear_diabetes; for classes use model=logistic")


def check_config(cfg: DictConfig) -> str | None:
    """Run every check; returns the resolved checkpoint path."""
    if cfg.get("optimized_mode") not in ("min", "max"):
        raise ConfigError(f"optimized_mode must be 'min' or 'max', got {cfg.get('optimized_mode')!r}")
    check_trainer(cfg)
    check_closure_optimizer(cfg)
    check_manual_optimization(cfg)
    check_regression_data(cfg)
    return resolve_ckpt_path(cfg)
