"""Margin losses: the binary hinge of SVMs and torch's multi-class hinge (MultiMarginLoss)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ._reduction import check_non_negative, check_reduction, reduce


class HingeLoss(nn.Module):
    r"""Binary hinge loss for raw scores and labels in {-1, 1} (labels 0 are read as -1).

    .. math:: \ell = \max(0, m - y \cdot \hat{y})

    torch has no module for this one; ``HingeEmbeddingLoss`` scores distances, not predictions.
    """

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = check_non_negative("margin", margin)
        self.reduction = check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        check_reduction(self.reduction)
        # 0/1 labels as produced by a binary data set become -1/1; -1/1 labels pass unchanged
        sign = torch.where(target == 0, -1, target).to(input.dtype)
        return reduce(torch.clamp(self.margin - sign * input, min=0), self.reduction)


class MultiMarginLoss(nn.Module):
    r"""Multi-class hinge loss, like ``torch.nn.MultiMarginLoss``.

    .. math:: \ell(x, y) = \frac{1}{C} \sum_{i \ne y} w_y \max(0, m - x_y + x_i)^p, \quad p \in \{1, 2\}
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                 size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            raise ValueError("size_average and reduce are deprecated in torch; use reduction")
        if p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        if weight is not None and weight.dim() != 1:
            raise ValueError("weight must be a 1-D tensor with one entry per class")
        self.p = p
        self.margin = check_non_negative("margin", margin)
        self.register_buffer("weight", weight)
        self.reduction = check_reduction(reduction)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        check_reduction(self.reduction)
        rows = input[None] if input.dim() == 1 else input
        idx = target.reshape(-1, 1)
        if rows.dim() != 2 or idx.shape[0] != rows.shape[0]:
            raise ValueError(f"expected input (N, C) or (C,) and target (N,) or (), got "
                             f"{tuple(input.shape)} and {tuple(target.shape)}")
        z = rows + (self.margin - rows.gather(1, idx))
        # strict z > 0, like torch's kernel, so a term exactly at the margin passes no gradient
        z = torch.where(z > 0, z, 0)
        if self.p == 2:
            z = z * z
        per_sample = z.scatter(1, idx, 0).sum(1) / rows.shape[1]
        if self.weight is not None:
            per_sample = per_sample * self.weight[idx.squeeze(1)]
        if input.dim() == 1:
            per_sample = per_sample.squeeze(0)
        return reduce(per_sample, self.reduction)
