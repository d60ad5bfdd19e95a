"""Argument checks and the final reduction shared by every loss.

torch validates `reduction` only when the loss is called; we check at construction as well, so a
bad config fails before training starts, and again when reducing, in case the attribute was changed.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor

REDUCTIONS = ("mean", "sum", "none")


def legacy_reduction(size_average: bool | None, reduce: bool | None, reduction: str) -> str:
    """The `reduction` meant by torch's pre-1.0 arguments, with a deprecation warning.

    If either legacy argument is given they decide and `reduction` is ignored (torch's rule):
    ``reduce=False`` -> 'none'; otherwise ``size_average=False`` -> 'sum'; otherwise 'mean'
    (None counts as True). ``MSELoss(None, None, 'sum')`` therefore means 'sum', silently.
    """
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    meant = "none" if not reduce else "mean" if size_average else "sum"
    warnings.warn(f"size_average and reduce are deprecated, as in torch; use reduction='{meant}'",
                  UserWarning, stacklevel=3)
    return meant


def check_reduction(reduction: str, allowed: tuple[str, ...] = REDUCTIONS) -> str:
    """Return `reduction` unchanged, or raise torch's ValueError for an unknown value."""
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def check_non_negative(name: str, value: float) -> float:
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return value


def reduce(loss: Tensor, reduction: str) -> Tensor:
    """'mean' averages every element (an empty loss gives nan, as torch does), 'sum' adds, 'none' keeps."""
    check_reduction(reduction)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def weighted_mean(total: Tensor, weight_sum: Tensor) -> Tensor:
    """total / weight_sum; nan when nothing counted (as torch), with a zero gradient rather than nan
    (a plain 0 / 0 would send 0 * inf = nan back to the inputs)."""
    counted = weight_sum != 0
    ratio = total / torch.where(counted, weight_sum, torch.ones_like(weight_sum))
    return torch.where(counted, ratio, torch.full_like(ratio, float("nan")))


def checking_values() -> bool:
    """Whether to run checks that read tensor values (a target index in range, p in [0, 1]).

    They cost a pass over the data and a host sync; while torch.compile traces the loss they are
    skipped, as torch's own compiled losses skip them (they return nan or garbage instead)."""
    return not torch.compiler.is_compiling()
