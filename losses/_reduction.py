"""Argument checks and the final reduction shared by every loss.

torch validates `reduction` only when the loss is called; we check at construction as well, so a
bad config fails before training starts, and again when reducing, in case the attribute was changed.
"""
from __future__ import annotations

import torch
from torch import Tensor

REDUCTIONS = ("mean", "sum", "none")


def check_reduction(reduction: str, allowed: tuple[str, ...] = REDUCTIONS) -> str:
    """Return `reduction` unchanged, or raise torch's ValueError for an unknown value."""
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def check_non_negative(name: str, value: float) -> float:
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return value


def check_positive(name: str, value: float) -> float:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """'mean' averages every element (an empty loss gives nan, as torch does), 'sum' adds, 'none' keeps."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    check_reduction(reduction)
    raise AssertionError("unreachable")


def grad_scale(grad: Tensor, reduction: str, count: int) -> Tensor:
    """d(reduced loss)/d(one element) times the upstream gradient: grad/count for 'mean', else grad."""
    if reduction == "mean" and count:
        return grad / count
    return grad


def weighted_mean(total: Tensor, weight_sum: Tensor) -> Tensor:
    """total / weight_sum, nan when nothing counted (as torch), with a zero gradient rather than nan."""
    counted = weight_sum != 0
    ratio = total / torch.where(counted, weight_sum, torch.ones_like(weight_sum))
    return torch.where(counted, ratio, torch.full_like(ratio, float("nan")))


def sum_to(grad: Tensor | None, shape: torch.Size) -> Tensor | None:
    """Undo broadcasting in a hand-written backward: add the gradient over broadcast dimensions."""
    if grad is None or grad.shape == shape:
        return grad
    return grad.sum_to_size(shape)
