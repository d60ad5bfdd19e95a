"""Leave callbacks out of the per-batch hook calls they do nothing in.

Lightning calls every hook of every callback on every batch (about 6 hooks a training step and 2 a
validation batch), each inside a profiler context and with the callback's `state_key` built as a string
(ModelCheckpoint's formats a dict: 1.2 us), though most callbacks leave most hooks as Callback's no-ops.
Its dispatcher skips an attribute that is not callable, so setting the unused per-batch hooks to None
on the instance removes those calls. Only per-batch hooks are touched: Lightning reaches them solely
through that dispatcher, while hooks such as on_save_checkpoint are called directly.
"""
from __future__ import annotations

from typing import Iterable

import pytorch_lightning as pl
from pytorch_lightning.callbacks import ModelCheckpoint

PER_BATCH_HOOKS = (
    "on_train_batch_start", "on_train_batch_end", "on_before_backward", "on_after_backward",
    "on_before_optimizer_step", "on_before_zero_grad",
    "on_validation_batch_start", "on_validation_batch_end", "on_test_batch_start", "on_test_batch_end",
    "on_predict_batch_start", "on_predict_batch_end",
)


def _unused(callback: pl.Callback, hook: str) -> bool:
    if getattr(type(callback), hook) is getattr(pl.Callback, hook):
        return True
    # ModelCheckpoint's batch hook only saves every n train steps or after a train time interval;
    # without either it returns at once (Lightning 2.4-2.6)
    return (hook == "on_train_batch_end" and isinstance(callback, ModelCheckpoint)
            and type(callback).on_train_batch_end is ModelCheckpoint.on_train_batch_end
            and (getattr(callback, "_every_n_train_steps", 1) or 0) < 1
            and getattr(callback, "_train_time_interval", True) is None)


def skip_unused_batch_hooks(callbacks: Iterable[pl.Callback]) -> list[str]:
    """Set each callback's no-op per-batch hooks to None; returns 'Class.hook' for each one skipped."""
    skipped = []
    for callback in callbacks:
        for hook in PER_BATCH_HOOKS:
            if callable(getattr(callback, hook, None)) and _unused(callback, hook):
                setattr(callback, hook, None)
                skipped.append(f"{type(callback).__name__}.{hook}")
    return skipped
