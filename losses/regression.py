"""Regression losses: MSE (L2), L1 (MAE) and Huber. Each is its formula in tensor ops; autograd
differentiates it (the derivatives are in the docstrings)."""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from ._autocast import float32_under_autocast
from ._reduction import check_reduction, legacy_reduction, reduce


def _warn_if_broadcast(input: Tensor, target: Tensor) -> None:
    # torch warns here too: a (N, 1) target against an (N,) input silently builds an (N, N) loss
    if input.shape != target.shape:
        warnings.warn(f"target size {tuple(target.shape)} differs from input size {tuple(input.shape)}: "
                      "they are broadcast, which is rarely intended; give them the same size",
                      UserWarning, stacklevel=2)


class MSELoss(nn.Module):
    r"""Mean squared error (L2), like ``torch.nn.MSELoss``.

    .. math:: MSE = \frac{1}{n} \sum_{i=1}^{n} (\hat{y}_i - y_i)^2, \qquad
              \frac{\partial MSE}{\partial \hat{y}_i} = \frac{2}{n} (\hat{y}_i - y_i)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        _warn_if_broadcast(input, target)
        return reduce((input - target).square(), self.reduction)


class L1Loss(nn.Module):
    r"""Mean absolute error (L1), like ``torch.nn.L1Loss`` (complex inputs too: |.| is the modulus).

    .. math:: MAE = \frac{1}{n} \sum_{i=1}^{n} |\hat{y}_i - y_i|, \qquad
              \frac{\partial MAE}{\partial \hat{y}_i} = \frac{1}{n} \operatorname{sign}(\hat{y}_i - y_i)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        _warn_if_broadcast(input, target)
        return reduce((input - target).abs(), self.reduction)


class HuberLoss(nn.Module):
    r"""Huber loss, like ``torch.nn.HuberLoss``: quadratic near zero, linear in the tails.

    .. math::
        L_\delta(d) = \begin{cases} \frac{1}{2} d^2 & |d| < \delta \\
        \delta\,(|d| - \frac{1}{2}\delta) & \text{otherwise} \end{cases}, \quad d = \hat{y} - y,
        \qquad L_\delta'(d) = \operatorname{clip}(d, -\delta, \delta)

    torch has no legacy ``size_average``/``reduce`` for this one, so neither do we.
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__()
        if not isinstance(delta, (float, int)):
            raise TypeError(f"delta must be a float or int, got {type(delta).__name__}")
        if not delta > 0:  # torch raises RuntimeError for this when called; we do so at once
            raise RuntimeError(f"HuberLoss: delta must be positive, got {delta}")
        self.reduction = check_reduction(reduction)
        self.delta = delta

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        _warn_if_broadcast(input, target)
        d = input - target
        loss = torch.where(d.abs() < self.delta, 0.5 * d * d, self.delta * (d.abs() - 0.5 * self.delta))
        return reduce(loss, self.reduction)
