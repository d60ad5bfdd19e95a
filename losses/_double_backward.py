"""Second derivatives for the fused losses.

The fused autograd Functions compute their first derivative from buffers kept by the forward pass,
which is fast but not itself differentiable. When autograd asks for a differentiable backward
(`create_graph=True`, so grad mode is on inside `backward`), they hand over to this helper, which
re-derives the gradient from the loss written as plain tensor operations and keeps the graph.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor


def wants_graph() -> bool:
    """True inside a backward that must itself be differentiable."""
    return torch.is_grad_enabled()


def composite_grads(composite: Callable[..., Tensor], inputs: Sequence[Tensor | None],
                    needs: Sequence[bool], grad_output: Tensor) -> tuple[Tensor | None, ...]:
    """Gradients of `composite(*inputs)` for the inputs flagged in `needs`, with the graph kept."""
    wanted = [t for t, need in zip(inputs, needs) if need]
    with torch.enable_grad():
        out = composite(*inputs)
        grads = iter(torch.autograd.grad(out, wanted, grad_output, create_graph=True, allow_unused=True))
    result = []
    for t, need in zip(inputs, needs):
        g = next(grads) if need else None
        if need and g is None:
            g = torch.zeros_like(t)
        result.append(g)
    return tuple(result)
