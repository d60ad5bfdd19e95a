"""Margin losses: the binary hinge of SVMs and torch's multi-class hinge (MultiMarginLoss).
Each is its formula in tensor ops; autograd differentiates it."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ._autocast import float32_under_autocast
from ._reduction import checking_values, check_non_negative, check_reduction, legacy_reduction, reduce


class HingeLoss(nn.Module):
    r"""Binary hinge loss for raw scores and labels in {-1, 1} (labels 0 are read as -1).

    .. math:: \ell = \max(0, m - y \cdot \hat{y})

    torch has no module for this one; ``HingeEmbeddingLoss`` scores distances, not predictions.
    """

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__()
        self.margin = check_non_negative("margin", margin)
        self.reduction = check_reduction(reduction)

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        # 0/1 labels as produced by a binary data set become -1/1; -1/1 labels pass unchanged
        sign = torch.where(target == 0, -1, target).to(input.dtype)
        return reduce(torch.clamp(self.margin - sign * input, min=0), self.reduction)


class MultiMarginLoss(nn.Module):
    r"""Multi-class hinge loss, like ``torch.nn.MultiMarginLoss``.

    .. math:: \ell(x, y) = \frac{1}{C} \sum_{i \ne y} w_y \max(0, m - x_y + x_i)^p, \quad p \in \{1, 2\}

    Input (N, C), (C,) or a 0-d score (one class); target (N,), () or (1,). A term counts only
    where m - x_y + x_i > 0, as in torch, so a NaN score drops its terms instead of making the loss
    NaN. The margin m may be negative. ``reduction='none'`` returns shape (N,), or () for a 0-d target.
    """

    def __init__(self, p: int = 1, margin: float = 1.0, weight: Tensor | None = None,
                 size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        if p not in (1, 2):
            raise ValueError(f"MultiMarginLoss: only p == 1 and p == 2 are supported, got p == {p}")
        if weight is not None and weight.dim() != 1:  # torch raises ValueError for this when called
            raise ValueError(f"MultiMarginLoss: weight must be a 1-D tensor with one entry per class, "
                             f"got {weight.dim()}-D")
        self.p = p
        self.margin = margin
        self.register_buffer("weight", weight)
        self.reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        self._check(input, target)
        rows = input.reshape(-1, 1 if input.dim() == 0 else input.shape[-1])
        target_col = target.reshape(-1, 1)
        z = self.margin - rows.gather(1, target_col) + rows
        others = torch.arange(rows.shape[1], device=rows.device) != target_col
        per_sample = torch.where(others & (z > 0), z, 0).pow(self.p).sum(1) / rows.shape[1]
        if self.weight is not None:
            per_sample = per_sample * self.weight[target_col.squeeze(1)]
        if self.reduction == "none" and target.dim() == 0:
            return per_sample.reshape(())
        return reduce(per_sample, self.reduction)

    def _check(self, input: Tensor, target: Tensor) -> None:
        """torch's rules and exception types."""
        if input.dim() > 2 or (input.dim() > 0 and input.shape[-1] == 0):
            raise RuntimeError(f"MultiMarginLoss: expected a non-empty input of shape (C,) or (N, C), "
                               f"or a 0-d score, got {tuple(input.shape)}")
        samples, classes = (input.shape[0] if input.dim() == 2 else 1), (input.shape[-1] if input.dim() else 1)
        if target.dim() > 1 or target.numel() != samples:
            raise RuntimeError(f"MultiMarginLoss: target must be 1-D with one class index per sample "
                               f"({samples}), got shape {tuple(target.shape)}")
        if target.dtype != torch.int64:
            raise RuntimeError(f"MultiMarginLoss: target must be int64 class indices, got {target.dtype}")
        if self.weight is not None and self.weight.numel() != classes:
            raise RuntimeError(f"MultiMarginLoss: weight has {self.weight.numel()} entries for "
                               f"{classes} classes")
        if self.weight is not None and self.weight.dtype != input.dtype:
            raise RuntimeError(f"MultiMarginLoss: weight has dtype {self.weight.dtype} but input has "
                               f"{input.dtype}; they must match")
        if checking_values() and target.numel() and not bool(((target >= 0) & (target < classes)).all()):
            raise RuntimeError(f"MultiMarginLoss: target out of range: class indices must be in [0, {classes})")
