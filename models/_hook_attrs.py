"""A LightningModule base whose hook bookkeeping skips nn.Module's attribute checks.

Lightning sets `module._current_fx_name` before and after every hook it calls (about 47 times a
training step of the default MLP, validation included). nn.Module.__setattr__ first checks whether
the name is a parameter, buffer or submodule: 1.3 us a call against 0.1 us for a plain attribute
(timeit, this CPU), about 1 ms an epoch at batch 64 on digits. The name only ever holds a string or
None, so a plain attribute write is what nn.Module would do anyway.
"""
from __future__ import annotations

from typing import Any

import pytorch_lightning as pl

PLAIN_ATTRS = frozenset({"_current_fx_name"})


class LightningModuleBase(pl.LightningModule):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in PLAIN_ATTRS and (value is None or isinstance(value, str)):
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)
