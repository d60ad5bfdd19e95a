"""Layers under torch.autocast (Lightning's "bf16-mixed" / "16-mixed").

Autocast rounds the inputs of every matrix product (linear, conv, the RNN cells) to its low-precision
dtype and runs normalization and pooling in the input's dtype. Our autograd Functions are made of
several torch ops, which autocast would otherwise treat one by one (and their saved tensors would mix
dtypes in backward), so the layer does it once: `matmul_inputs` rounds the tensors of a product
layer to autocast's dtype and the Function then runs with autocast off. The casts are ordinary
differentiable ops: the gradients come back in the parameters' own dtype, as with torch's layers.
"""
from __future__ import annotations

import contextlib

import torch

LOW_PRECISION = (torch.float16, torch.bfloat16)


def autocast_dtype(x: torch.Tensor) -> torch.dtype | None:
    """Autocast's low-precision dtype if autocast is on for x's device, else None."""
    try:
        if not torch.is_autocast_enabled(x.device.type):
            return None
    except RuntimeError:  # a device type autocast does not know (meta, ...)
        return None
    return torch.get_autocast_dtype(x.device.type)


def matmul_inputs(x: torch.Tensor, *tensors: torch.Tensor | None):
    """(context, x, *tensors): under autocast, every floating tensor rounded to autocast's dtype and a
    context that turns autocast off for the Function; otherwise the tensors unchanged."""
    dtype = autocast_dtype(x)
    if dtype is None or not x.is_floating_point():
        return (contextlib.nullcontext(), x, *tensors)
    cast = [t.to(dtype) if t is not None and t.is_floating_point() else t for t in (x, *tensors)]
    return (torch.autocast(x.device.type, enabled=False), *cast)


def autocast_off(x: torch.Tensor):
    """A context with autocast off for x's device when it is on (normalization, pooling, dropout run
    in their input's dtype, as torch's kernels do); a null context otherwise."""
    if autocast_dtype(x) is None:
        return contextlib.nullcontext()
    return torch.autocast(x.device.type, enabled=False)
