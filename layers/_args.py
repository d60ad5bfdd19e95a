"""Argument handling shared by the layers: pairs like torch's `_pair`, and the checks torch's kernels
make at the first forward, made here at construction (same exception type and wording)."""
from __future__ import annotations

import math
from typing import Sequence


def pair(value, name: str) -> tuple[int, int]:
    """An int or a 2-sequence of ints -> (h, w)."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        return int(value[0]), int(value[1])
    return int(value), int(value)


def window_out(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """Number of windows along one axis, as torch's pooling counts them: with ceil_mode a partial
    last window is kept, unless it would start in the right padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def check_pool(kind: str, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int],
               dilation: tuple[int, int] = (1, 1)) -> None:
    """torch's max_pool2d/avg_pool2d argument checks (RuntimeError, as torch raises them)."""
    if min(kernel) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {kernel[0]} kW: {kernel[1]}")
    if min(stride) <= 0:
        raise RuntimeError("stride should not be zero" if min(stride) == 0 else
                           f"stride should be greater than zero, but got dH: {stride[0]} dW: {stride[1]}")
    if min(dilation) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: {dilation[0]} "
                           f"dilationW: {dilation[1]}")
    if min(padding) < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {min(padding)}")
    for p, k, d in zip(padding, kernel, dilation):
        if p > (d * (k - 1) + 1) // 2:
            what = "effective kernel size" if kind == "max" else "kernel size"
            extra = f" and dilation={d}" if kind == "max" else ""
            raise RuntimeError(f"pad should be at most half of {what}, but got pad={p}, kernel_size={k}{extra}")


def check_pool_output(shape: Sequence[int], out_h: int, out_w: int) -> None:
    if out_h < 1 or out_w < 1:
        c, h, w = shape[-3:]
        raise RuntimeError(f"Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{out_h}x{out_w}). "
                           "Output size is too small")
