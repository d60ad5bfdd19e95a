"""Losses under mixed precision (torch.autocast, Lightning's "bf16-mixed" / "16-mixed").

torch keeps its own losses on autocast's float32 list: low-precision inputs are upcast and the loss
is computed in float32. Ours are written as many small ops, and autocast would cast each one its own
way (matmuls to bfloat16, the rest as given), mixing dtypes inside one loss and summing in
bfloat16. `float32_under_autocast` gives each loss torch's rule instead.
"""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

import torch

# the same public per-device check the activations use
from activations._autocast import LOW_PRECISION, autocast_device

F = TypeVar("F", bound=Callable[..., object])


def to_float32(value: object) -> object:
    """float16/bfloat16 tensors as float32 (differentiable: the gradient comes back in their dtype)."""
    if isinstance(value, torch.Tensor) and value.dtype in LOW_PRECISION:
        return value.float()
    return value


def float32_under_autocast(forward: F) -> F:
    """Decorator for a loss module's forward. Rule: when autocast is enabled for the device of the
    first tensor argument, float16/bfloat16 tensor arguments are cast to float32 and forward runs
    with autocast disabled, so the loss is float32 (as torch's losses are) and input gradients come
    back in the inputs' dtypes. Otherwise forward is called directly.
    """

    @functools.wraps(forward)
    def wrapper(self, *args, **kwargs):
        first = next((a for a in (*args, *kwargs.values()) if isinstance(a, torch.Tensor)), None)
        device_type = autocast_device(first) if first is not None else None
        if device_type is None:  # autocast is off for that tensor's device
            return forward(self, *args, **kwargs)
        args = tuple(to_float32(a) for a in args)
        kwargs = {k: to_float32(v) for k, v in kwargs.items()}
        with torch.autocast(device_type, enabled=False):
            return forward(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]
