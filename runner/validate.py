"""Value checks before training, beyond runner/checks.py: one ConfigError line naming the key and what is allowed.

- `validate_config(cfg)` before anything is built: the seed; every optimizer, data and model value whose
  constructor default is a number, a bool or a tuple of numbers (read from the target's signature, so a
  new hyperparameter is checked without a list here); trainer.devices, gradient_clip_val, and
  precision=16-mixed without a GPU; model.judge.path.
- `check_model_fits(cfg, model, ckpt_path)` once the model exists: a checkpoint must hold this model's
  keys and shapes (and the optimizer state when training resumes from it); a model that normalizes over
  the batch cannot train on batches of one.
- `refuse_null_groups(argv)` before Hydra composes: `optimizer=null` is Hydra's multi-line error otherwise.
- `best_checkpoint(trainer)`: the best checkpoint to test, when its file is still there.
"""
from __future__ import annotations

import inspect
import logging
import sys
from pathlib import Path
from typing import Any, Sequence

import torch
from omegaconf import DictConfig, ListConfig, OmegaConf

from datamodules import normalizes_over_batch, one_sample_batch_error

from .checks import ConfigError

log = logging.getLogger("refzoo")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _show(value: Any) -> str:
    if isinstance(value, (DictConfig, ListConfig)):
        value = OmegaConf.to_container(value)
    return repr(value) if isinstance(value, str) else str(value)


def check_seed(cfg: DictConfig) -> None:
    seed = cfg.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ConfigError(f"seed must be an integer, got {_show(seed)}")


def _defaults(target: str) -> dict[str, Any]:
    """The constructor defaults of a `_target_` (empty when it cannot be imported: instantiate reports that)."""
    from hydra.utils import get_object

    try:
        obj = get_object(target)
        params = inspect.signature(obj).parameters
    except Exception:  # noqa: BLE001 - an unknown target is instantiate's error to report
        return {}
    return {name: p.default for name, p in params.items() if p.default is not inspect.Parameter.empty}


def check_node_values(node: Any, key: str, fixed_length_tuples: bool = False) -> None:
    """Values whose default is a bool must be booleans, numbers numbers, tuples of numbers lists of numbers
    (of the same length when `fixed_length_tuples`: an optimizer's betas, not a model's hidden sizes)."""
    if not isinstance(node, DictConfig) or "_target_" not in node:
        return
    defaults = _defaults(str(node._target_))
    for name, default in defaults.items():
        if name not in node or name.startswith("_"):
            continue
        value = node[name]
        where = f"{key}.{name}"
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ConfigError(f"{where} must be true or false, got {_show(value)}")
        elif _is_number(default):
            if not _is_number(value):
                raise ConfigError(f"{where} must be a number, got {_show(value)}")
        elif isinstance(default, tuple) and default and all(_is_number(d) for d in default):
            items = list(value) if isinstance(value, (ListConfig, list, tuple)) else None
            if items is None or not all(_is_number(v) for v in items) or (
                    fixed_length_tuples and len(items) != len(default)):
                count = f"{len(default)} numbers" if fixed_length_tuples else "numbers"
                raise ConfigError(f"{where} must be a list of {count} (default {list(default)}), got {_show(value)}")


def check_trainer_values(cfg: DictConfig) -> None:
    trainer = cfg.get("trainer")
    if trainer is None:
        return
    devices = trainer.get("devices", "auto")
    ok = (devices == "auto" or (_is_number(devices) and isinstance(devices, int) and (devices >= 1 or devices == -1))
          or (isinstance(devices, str) and devices.replace(",", "").strip().isdigit() and devices.strip() != "0")
          or (isinstance(devices, ListConfig) and len(devices) > 0
              and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in devices)))
    if not ok:
        raise ConfigError(f"trainer.devices must be a positive integer, -1 (all), auto, or a list of device "
                          f"indices such as [0, 1], got {_show(devices)}")
    clip = trainer.get("gradient_clip_val")
    if clip is not None and (not _is_number(clip) or clip < 0):
        raise ConfigError(f"trainer.gradient_clip_val must be null (no clipping) or a number >= 0, got {_show(clip)}")
    precision = str(trainer.get("precision", "32-true"))
    accelerator = str(trainer.get("accelerator", "auto"))
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    if precision in ("16-mixed", "16") and on_cpu:
        # Lightning would run bfloat16 instead, with only a warning: a different number format than asked
        raise ConfigError(f"trainer.precision={precision} (float16 autocast) needs a CUDA GPU; on the CPU use "
                          f"trainer.precision=bf16-mixed or 32-true")


def check_judge(cfg: DictConfig) -> None:
    """model.judge.path: a judge file (runner can read it with weights_only) for this data's images and classes."""
    model = cfg.get("model")
    judge = model.get("judge") if isinstance(model, DictConfig) else None
    path = judge.get("path") if isinstance(judge, DictConfig) else None
    if path in (None, ""):
        return
    file = Path(str(path)).expanduser()
    if not file.is_file():
        raise ConfigError(f"model.judge.path: {file} does not exist (leave it null to train and cache a judge)")
    try:
        payload = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - any failure means "not a judge file"
        raise ConfigError(f"model.judge.path: {file} is not a judge file ({type(err).__name__}); leave it null "
                          f"to train and cache a judge") from None
    if not isinstance(payload, dict) or not {"state_dict", "input_shape", "num_classes"} <= set(payload):
        raise ConfigError(f"model.judge.path: {file} is not a judge file (a judge holds state_dict, input_shape "
                          f"and num_classes); leave it null to train and cache a judge")
    shape = [int(s) for s in payload["input_shape"]]
    want_shape = model.get("input_shape")
    if want_shape is not None and [int(s) for s in want_shape] != shape:
        raise ConfigError(f"model.judge.path: {file} judges images of shape {shape}, the data has "
                          f"{[int(s) for s in want_shape]}")
    want_classes = model.get("num_classes")
    if want_classes is not None and int(want_classes) != int(payload["num_classes"]):
        raise ConfigError(f"model.judge.path: {file} has {int(payload['num_classes'])} classes, the data has "
                          f"{int(want_classes)}")


def validate_config(cfg: DictConfig) -> None:
    check_seed(cfg)
    check_node_values(cfg.get("optimizer"), "optimizer", fixed_length_tuples=True)
    check_node_values(cfg.get("data"), "data")
    check_node_values(cfg.get("model"), "model")
    check_node_values(cfg.get("loss"), "loss")
    check_trainer_values(cfg)
    check_judge(cfg)


# -------------------------------------------------------------------------------- once the model exists
def _few(keys: Sequence[str], n: int = 3) -> str:
    shown = ", ".join(keys[:n])
    return shown + (f" and {len(keys) - n} more" if len(keys) > n else "")


def checkpoint_mismatch(saved: dict[str, Any], model: torch.nn.Module) -> str | None:
    """Which keys or shapes differ between a checkpoint's state_dict and the model's, in words; None if none."""
    own = model.state_dict()
    missing = [k for k in own if k not in saved]
    unexpected = [k for k in saved if k not in own]
    shapes = [f"{k} {list(saved[k].shape)} vs {list(own[k].shape)}" for k in own
              if k in saved and hasattr(saved[k], "shape") and tuple(saved[k].shape) != tuple(own[k].shape)]
    parts = []
    if shapes:
        parts.append(f"shapes differ (checkpoint vs model): {_few(shapes)}")
    if missing:
        parts.append(f"the model has keys the checkpoint lacks: {_few(missing)}")
    if unexpected:
        parts.append(f"the checkpoint has keys the model lacks: {_few(unexpected)}")
    return "; ".join(parts) or None


def check_model_fits(cfg: DictConfig, model: torch.nn.Module, ckpt_path: str | None) -> None:
    batch_size = cfg.get("data", {}).get("batch_size") if cfg.get("data") is not None else None
    if batch_size == 1 and cfg.get("train", True) and normalizes_over_batch(model):
        raise ConfigError(one_sample_batch_error(model))
    if ckpt_path is None:
        return
    payload = torch.load(ckpt_path, map_location="cpu", weights_only=True, mmap=True)
    problem = checkpoint_mismatch(payload.get("state_dict", {}), model)
    if problem:
        raise ConfigError(f"ckpt_path: {ckpt_path} does not fit model={type(model).__name__} with these sizes: "
                          f"{problem} (it comes from another model, data set or model.* sizes)")
    if cfg.get("train", True) and "optimizer_states" not in payload:
        last = Path(ckpt_path).parent / "last.ckpt"
        hint = f"ckpt_path={last}" if last.is_file() else "the run's checkpoints/last.ckpt (ckpt_path=last)"
        raise ConfigError(f"ckpt_path: {ckpt_path} holds the weights only (the best epoch's checkpoint), not the "
                          f"optimizer and loop state a resume needs; resume from {hint}, or test these weights "
                          f"with train=false")


def best_checkpoint(trainer: Any) -> str:
    """The best checkpoint's path to test, or "" when there is none or its file is gone (a last.ckpt copied
    out of a deleted run folder remembers its old folder's best): then the final weights are tested."""
    callback = trainer.checkpoint_callback
    best = callback.best_model_path if callback is not None else ""
    if best and not Path(best).is_file():
        log.warning("the best checkpoint %s no longer exists (the run resumed from a copied checkpoint); "
                    "testing the final weights", best)
        return ""
    return best


# -------------------------------------------------------------------------------- before Hydra composes
def config_groups(config_dir: Path) -> list[str]:
    return sorted(p.name for p in config_dir.iterdir() if p.is_dir() and p.name != "hydra")


def refuse_null_groups(argv: Sequence[str], config_dir: Path) -> None:
    """`optimizer=null`: Hydra's error is a multi-line traceback; refuse it in one line, exit 2."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    groups = config_groups(config_dir)
    candidates = [a for a in argv if "=" in a and not a.startswith("-")]
    try:
        overrides = OverridesParser.create().parse_overrides(candidates)
    except Exception:  # noqa: BLE001 - a syntax error is Hydra's to report
        return
    for override in overrides:
        group = override.key_or_group
        if group in groups and not override.is_delete() and override.value() is None:
            options = sorted(p.stem for p in (config_dir / group).glob("*.yaml"))
            print(f"config error: {group}=null: the {group} group takes one of {', '.join(options)} (drop the "
                  f"option instead of setting it to null)", file=sys.stderr)
            raise SystemExit(2)
