"""The cheatsheet's weight penalties, added to the training loss of linear and logistic regression.

    L1 (lasso):  l1 * sum_j |w_j|
    L2 (ridge):  l2 * sum_j w_j^2

over the weights only: the bias is not shrunk (it only shifts the prediction).
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor


def check_strengths(l1: float, l2: float) -> None:
    for key, value in (("model.l1", l1), ("model.l2", l2)):
        if not float(value) >= 0.0:
            raise ValueError(f"{key} must be a non-negative number, got {value}")


def weight_penalty(weights: Iterable[Tensor], l1: float, l2: float) -> Tensor | None:
    """l1 * sum|w| + l2 * sum w^2 over `weights`; None when both strengths are 0 (no extra graph)."""
    if not l1 and not l2:
        return None
    total: Tensor | None = None
    for w in weights:
        term = 0
        if l1:
            term = term + l1 * w.abs().sum()
        if l2:
            term = term + l2 * w.pow(2).sum()
        total = term if total is None else total + term
    return total if total is not None else torch.zeros(())
