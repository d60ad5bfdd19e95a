"""Lightning's `self.log` without a full state move when the state is already on the value's device.

Each `self.log(name, value)` ends in `_ResultMetric.to(value.device)`, which rebuilds the metric's whole
`__dict__` (47 entries: module hooks, metric settings, states) through `apply_to_collection` to move its
tensors, even when they are already there: 280 us of the 330 us a log call costs (Lightning 2.6, this
CPU), about 1 ms an epoch for the classifiers' three per-epoch logs, on a 21 ms plain-loop epoch
(bench/loop_overhead.py). `install()` wraps that method: when every state tensor (`value`, and
`cumulated_batch_size` for means) already sits on the target device, it returns at once; any other
call (another device, dtype arguments, a logged torchmetrics object) goes to Lightning's own code.
States reset from defaults on another device are seen by the check and moved by the original.
"""
from __future__ import annotations

import torch

_MARK = "_refzoo_fast_to"


def _states_on(metric, device: torch.device) -> bool:
    for name in metric._defaults:  # torchmetrics' registry of state names
        state = getattr(metric, name, None)
        if not isinstance(state, torch.Tensor) or state.device != device:
            return False
    return True


def install() -> bool:
    """Wrap `_ResultMetric.to` once; False (and nothing changed) where Lightning's layout differs."""
    try:
        from pytorch_lightning.trainer.connectors.logger_connector.result import _ResultMetric
    except ImportError:
        return False
    if getattr(_ResultMetric, _MARK, False):
        return True
    original = _ResultMetric.to

    def to(self, *args, **kwargs):
        if (len(args) == 1 and not kwargs and isinstance(args[0], torch.device)
                and getattr(self, "is_tensor", False) and _states_on(self, args[0])):
            return self
        return original(self, *args, **kwargs)

    to.__doc__ = original.__doc__
    _ResultMetric.to = to
    setattr(_ResultMetric, _MARK, True)
    return True
