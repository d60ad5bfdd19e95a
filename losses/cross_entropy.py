"""Cross-entropy (softmax + negative log-likelihood) and the negative log-likelihood alone.

Both accept torch's layouts: input (C,), (N, C) or (N, C, d1, ...), with the class dimension at 1
(or 0 for a single sample). Inputs are brought to rows of shape (M, C) and losses reshaped back.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ._reduction import check_reduction
from ._autocast import float32_under_autocast
from ._softmax_ce import IndexCrossEntropy, IndexNLL, ProbCrossEntropy, counted_nll


def _to_rows(t: Tensor) -> Tensor:
    """(C,) -> (1, C); (N, C) unchanged; (N, C, d1, ...) -> (N * d1 * ..., C)."""
    if t.dim() == 1:
        return t[None]
    if t.dim() == 2:
        return t
    return t.movedim(1, -1).reshape(-1, t.shape[1])


def _loss_shape(input: Tensor) -> tuple[int, ...]:
    """Shape of the unreduced loss: the input's without the class dimension."""
    return () if input.dim() == 1 else (input.shape[0], *input.shape[2:])


def _check_index_target(input: Tensor, target: Tensor) -> None:
    if target.is_floating_point() or target.is_complex():
        raise ValueError(f"class-index targets must be integers, got {target.dtype} "
                         f"(probability targets must have the input's shape {tuple(input.shape)})")
    if tuple(target.shape) != _loss_shape(input):
        raise ValueError(f"expected target of shape {_loss_shape(input)} for input of shape "
                         f"{tuple(input.shape)}, got {tuple(target.shape)}")


class CrossEntropyLoss(nn.Module):
    r"""Cross-entropy of logits against class indices or class probabilities, like
    ``torch.nn.CrossEntropyLoss``.

    .. math::
        CE = -\sum_{c=1}^{M} w_c\, y_{o,c} \log(p_{o,c}), \qquad
        \log p_{o,c} = z_c - \log \sum_k e^{z_k}

    With class indices, ``reduction='mean'`` divides by the summed weights of the non-ignored
    targets; with probabilities, by the number of samples. ``label_smoothing`` eps mixes the target
    with the uniform distribution: (1 - eps) y + eps / C.
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            raise ValueError("size_average and reduce are deprecated in torch; use reduction")
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)
        self.label_smoothing = float(label_smoothing)

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        check_reduction(self.reduction)
        rows = _to_rows(input)
        if target.shape == input.shape and target.is_floating_point():
            loss = ProbCrossEntropy.apply(rows, _to_rows(target), self.weight, self.label_smoothing,
                                          self.reduction)
        else:
            _check_index_target(input, target)
            loss = IndexCrossEntropy.apply(rows, target.reshape(-1), self.weight, self.ignore_index,
                                           self.label_smoothing, self.reduction)
        return loss.reshape(_loss_shape(input)) if self.reduction == "none" else loss


class NLLLoss(nn.Module):
    r"""Negative log-likelihood of log-probabilities against class indices, like ``torch.nn.NLLLoss``.

    .. math:: \ell_n = -w_{y_n}\, x_{n, y_n}

    Targets equal to ``ignore_index`` contribute nothing; ``'mean'`` divides by the summed weights
    of the remaining targets (nan when every target is ignored, as in torch).
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            raise ValueError("size_average and reduce are deprecated in torch; use reduction")
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = check_reduction(reduction)

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        # The common case first, in as few Python steps as possible (at 4096 x 1000 this loss costs
        # ~0.6 ms, and the general path's checks cost a tenth of it): (N, C) log-probabilities, N
        # targets, no class weights, a mean or sum, on the CPU (elsewhere the check below would be a
        # host sync per call). Whatever fails here (float or int32 targets, an index outside [0, C))
        # goes to the general path, which reports bad input as it always does.
        # (not while torch.compile traces us: a traced gather raises at run time, outside this `try`)
        if (input.dim() == 2 and target.dim() == 1 and target.shape[0] == input.shape[0] != 0
                and self.weight is None and self.reduction in ("mean", "sum") and input.device.type == "cpu"
                and not torch.compiler.is_compiling()):
            if 0 <= self.ignore_index < input.shape[1]:
                counted = bool((target != self.ignore_index).all())
            else:
                # an ignored target (default -100) lies outside [0, C), where gather raises: trying is
                # the check, and saves three small ops and a sync
                counted = True
            if counted:
                try:
                    return counted_nll(input, target, self.reduction)
                except (RuntimeError, IndexError):  # an index outside [0, C) or not int64: ignored or bad
                    pass
        check_reduction(self.reduction)
        _check_index_target(input, target)
        rows, flat = _to_rows(input), target.reshape(-1)
        loss = IndexNLL.apply(rows, flat, self.weight, self.ignore_index, self.reduction)
        return loss.reshape(_loss_shape(input)) if self.reduction == "none" else loss
