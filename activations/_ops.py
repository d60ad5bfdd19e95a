"""Private tensor helpers shared by the activations.

Speed notes (measured on the CPU bench, 4096 x 1024 float32):
- a fresh 16 MB output costs about as much as one extra pass over it, so every forward builds its
  result in one fresh tensor and mutates it in place;
- boolean masks are slow to build and slower to consume (`torch.where`, multiplying by a bool
  tensor), so masks are written as 0.0 / 1.0 floats and applied with arithmetic, max or
  `torch.lerp` on full tensors (exact at weights 0 and 1; lerp against 0-d tensors is slow);
- `torch.exp2` is markedly faster than `torch.exp` here, so e^x is computed as 2^(x * log2(e)).
"""
from __future__ import annotations

import math
from typing import Callable

import torch

LOG2E = 1.0 / math.log(2.0)


def exp_(t: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """In place: t <- e^(scale * t), returned for chaining. Only for fresh, non-grad temporaries."""
    return t.mul_(scale * LOG2E).exp2_()


def exp_of(z: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    """A new tensor e^(scale * z)."""
    return torch.mul(z, scale * LOG2E).exp2_()


def mask_gt(z: torch.Tensor, threshold: float = 0.0) -> torch.Tensor:
    """A new float tensor: 1.0 where z > threshold, else 0.0 (NaN compares false, giving 0.0)."""
    out = torch.empty_like(z, memory_format=torch.contiguous_format)
    return torch.gt(z.detach(), threshold, out=out)


def times_grad(d: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """d * grad, reusing d's storage when no graph of the backward is being recorded.

    `d` must be a temporary owned by the caller. Under `create_graph=True` (double backward) grad
    mode is on and the product has to be an ordinary differentiable op.
    """
    if torch.is_grad_enabled():
        return d * grad
    return d.mul_(grad)


def check_real(name: str, value: object) -> float:
    """The argument as a float; ValueError naming it when it is not a finite real number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite real number, got {value!r}")
    return float(value)


BLOCK_BYTES = 1 << 19  # half the 1 MiB L2 of the bench machine's cores


def blockwise(fn: Callable[..., object], *tensors: torch.Tensor) -> None:
    """fn(*pieces) on matching ~512 KiB pieces of same-shape tensors, so that an in-place chain
    of several passes runs while each piece is in cache (10-20% faster than whole-tensor passes
    for 16 MB tensors); fn(*tensors) once when any tensor is not contiguous or all are small."""
    n = tensors[0].numel()
    step = max(1, BLOCK_BYTES // tensors[0].element_size())
    if n <= step or not all(t.is_contiguous() for t in tensors):
        fn(*tensors)
        return
    flats = [t.view(-1) for t in tensors]
    for i in range(0, n, step):
        fn(*(f[i:i + step] for f in flats))
