"""Activations under mixed precision (torch.autocast, Lightning's "bf16-mixed" / "16-mixed").

Our autograd Functions write each activation as several primitives. Under CUDA autocast some of
them (exp, log1p, ...) are upcast to float32 one by one, so the output comes back float32 and the
intermediates mix dtypes; on CPU they run in bfloat16 with a rounding per primitive. Instead, the
whole formula runs once in float32 with autocast off, and the result is rounded once:

- elementwise activations return the input's dtype (`input_dtype_under_autocast`), as torch's own
  bfloat16 kernels do, which compute in float32 internally and round the result;
- Softmax, LogSoftmax and Softplus return float32 (`float32_under_autocast`), as torch's versions
  do under CUDA autocast, where they sit on the float32 list.

losses/_autocast.py imports LOW_PRECISION and autocast_device from here (activations are the lower
layer, so they do not import losses). The check is torch's public per-device query on the
tensor's own device, once per call.
"""
from __future__ import annotations

import functools
from typing import Callable, TypeVar

import torch

F = TypeVar("F", bound=Callable[..., torch.Tensor])

LOW_PRECISION = (torch.float16, torch.bfloat16)

def autocast_device(z: torch.Tensor) -> str | None:
    """z's device type if autocast is enabled for it, else None (also for device types autocast
    does not know, such as meta, where torch.is_autocast_enabled raises)."""
    try:
        return z.device.type if torch.is_autocast_enabled(z.device.type) else None
    except RuntimeError:
        return None


def _in_float32(forward: F, keep_dtype: bool) -> F:
    @functools.wraps(forward)
    def wrapper(self, z: torch.Tensor) -> torch.Tensor:
        device_type = autocast_device(z)
        if device_type is None:  # autocast is off for z's device
            return forward(self, z)
        with torch.autocast(device_type, enabled=False):
            # .float() and .to() are differentiable: the gradient comes back in z's dtype
            out = forward(self, z.float() if z.dtype in LOW_PRECISION else z)
        return out.to(z.dtype) if keep_dtype else out

    return wrapper  # type: ignore[return-value]


def input_dtype_under_autocast(forward: F) -> F:
    """Decorator for an elementwise activation's forward(self, z). Rule: when autocast is enabled
    for z's device, a float16/bfloat16 z is computed in float32 with autocast disabled and the
    result rounded once to z's dtype; otherwise forward is called directly (one check)."""
    return _in_float32(forward, keep_dtype=True)


def float32_under_autocast(forward: F) -> F:
    """Decorator for forward(self, z) of an activation on autocast's float32 list (Softmax,
    LogSoftmax, Softplus). Rule: when autocast is enabled for z's device, a float16/bfloat16 z is
    upcast and the result is float32, computed with autocast disabled; otherwise forward is called
    directly (one check)."""
    return _in_float32(forward, keep_dtype=False)
