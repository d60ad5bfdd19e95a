"""Kullback-Leibler divergence between a target distribution and a predicted log-distribution."""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from ._autocast import float32_under_autocast
from ._reduction import check_reduction, legacy_reduction

_REDUCTIONS = ("mean", "batchmean", "sum", "none")


class KLDivLoss(nn.Module):
    r"""KL divergence, like ``torch.nn.KLDivLoss``: ``input`` holds log-probabilities, ``target``
    probabilities (or log-probabilities with ``log_target=True``).

    .. math:: D_{KL}(P \| Q) = \sum_x P(x) \log \frac{P(x)}{Q(x)}, \qquad
              \ell = y (\log y - x)

    ``'batchmean'`` divides the sum by the batch size, which is the mathematical KL divergence;
    ``'mean'`` divides by every element, as torch does (it warns about that, and so do we).
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__()
        self.reduction = check_reduction(legacy_reduction(size_average, reduce, reduction), _REDUCTIONS)
        self.log_target = log_target

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        check_reduction(self.reduction, _REDUCTIONS)
        if self.log_target:
            loss = torch.exp(target) * (target - input)
        else:
            # xlogy gives 0 log 0 = 0, so zero-probability targets add nothing
            loss = torch.xlogy(target, target) - target * input
        if self.reduction == "none":
            return loss
        if self.reduction == "sum":
            return loss.sum()
        if self.reduction == "batchmean":
            return loss.sum() / input.shape[0] if input.dim() else loss.sum()
        warnings.warn("KLDivLoss reduction='mean' divides by the batch size and the support size; "
                      "'batchmean' divides by the batch size only and is the KL divergence.",
                      stacklevel=2)
        return loss.mean()
