"""Cross-entropy (log-softmax + negative log-likelihood) and the negative log-likelihood alone.

Both accept torch's layouts: input (C,), (N, C) or (N, C, d1, ...) with the class dimension at 1
(a single sample (C,) is treated as a batch of one). Each loss is its formula in tensor ops and
autograd differentiates it, through activations/softmax.py's LogSoftmaxFunction (log-sum-exp,
written-out backward); for cross-entropy that gives the softmax-minus-target gradient
d/dz_c [-sum_k a_k log p_k] = (sum_k a_k) p_c - a_c.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from activations.softmax import LogSoftmaxFunction

from ._autocast import float32_under_autocast
from ._reduction import checking_values, check_reduction, legacy_reduction, reduce, weighted_mean


def _batched(input: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """A single sample (C,) becomes a batch of one: (1, C) with target (1,)."""
    return (input[None], target.reshape(1)) if input.dim() == 1 else (input, target)


def _check_weight(name: str, weight: Tensor | None, input: Tensor, same_dtype: bool) -> None:
    classes = input.shape[0] if input.dim() == 1 else input.shape[1]
    if weight is not None and (weight.dim() != 1 or weight.numel() != classes):
        raise RuntimeError(f"{name}: weight must hold one entry per class ({classes}), got shape "
                           f"{tuple(weight.shape)}")
    if same_dtype and weight is not None and weight.dtype != input.dtype:
        # torch's nll_loss refuses a mixed pair too, rather than round one of them
        raise RuntimeError(f"{name}: weight has dtype {weight.dtype} but input has {input.dtype}; "
                           "they must match")


def _check_index_target(name: str, input: Tensor, target: Tensor) -> None:
    """torch's rules for class-index targets, with its exception types."""
    if target.dtype not in (torch.int64, torch.uint8):
        raise RuntimeError(f"{name}: class-index targets must be int64 (or uint8), got {target.dtype} "
                           f"(probability targets must have the input's shape {tuple(input.shape)})")
    if input.dim() == 0:
        raise ValueError(f"{name}: input must have a class dimension, got a 0-d tensor")
    if input.dim() == 1:
        if target.numel() != 1 or target.dim() > 1:
            raise ValueError(f"{name}: for input (C,) the target must be one index, shape () or (1,), "
                             f"got {tuple(target.shape)}")
        return
    batch = target.shape[0] if target.dim() else 0
    if batch != input.shape[0]:
        raise ValueError(f"{name}: input batch size {input.shape[0]} does not match target batch "
                         f"size {batch}")
    expected = (input.shape[0], *input.shape[2:])
    if tuple(target.shape) != expected:
        raise RuntimeError(f"{name}: expected target of shape {expected} for input of shape "
                           f"{tuple(input.shape)}, got {tuple(target.shape)}")


def _picked(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int):
    """(log p at each target class, its weight w_y; 0 where the target is ignore_index)."""
    valid = target != ignore_index
    safe = torch.where(valid, target, 0).long()
    if checking_values() and safe.numel() and not bool(((safe >= 0) & (safe < logp.shape[1])).all()):
        bad = safe[(safe < 0) | (safe >= logp.shape[1])][0].item()
        raise IndexError(f"target {bad} is out of bounds for {logp.shape[1]} classes")
    picked = logp.gather(1, safe.unsqueeze(1)).squeeze(1)
    w_y = weight[safe] if weight is not None else torch.ones_like(picked)
    return picked, torch.where(valid, w_y, 0)


def _index_loss(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
                smoothing: float, reduction: str) -> Tensor:
    r"""-w_y log p_y, mixed with eps/C sum_c w_c (-log p_c) by label smoothing; ignored entries give 0.
    'mean' divides by the summed weights of the counted targets (torch's rule)."""
    picked, w_y = _picked(logp, target, weight, ignore_index)
    loss = -picked * w_y
    if smoothing:
        w = weight.reshape(1, -1, *[1] * (logp.dim() - 2)) if weight is not None else 1
        uniform = torch.where(target != ignore_index, -(logp * w).sum(1), 0)
        loss = (1 - smoothing) * loss + (smoothing / logp.shape[1]) * uniform
    if reduction == "mean":
        return weighted_mean(loss.sum(), w_y.sum())
    return reduce(loss, reduction)


class CrossEntropyLoss(nn.Module):
    r"""Cross-entropy of logits against class indices or class probabilities, like
    ``torch.nn.CrossEntropyLoss``.

    .. math::
        CE = -\sum_{c=1}^{M} w_c\, y_{o,c} \log(p_{o,c}), \qquad
        \log p_{o,c} = z_c - \log \sum_k e^{z_k}

    With class indices, ``reduction='mean'`` divides by the summed weights of the non-ignored
    targets; with probabilities (a target of the input's shape), by the number of samples.
    ``label_smoothing`` eps mixes the target with the uniform distribution: (1 - eps) y + eps / C.
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing <= 1.0:  # torch raises RuntimeError for > 1 when called
            raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing}")
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))
        self.label_smoothing = float(label_smoothing)

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        name, eps = "CrossEntropyLoss", self.label_smoothing
        if target.shape == input.shape:
            return self._probabilities(input, target)
        _check_index_target(name, input, target)
        _check_weight(name, self.weight, input, same_dtype=True)
        z, t = _batched(input, target)
        loss = _index_loss(LogSoftmaxFunction.apply(z, 1), t, self.weight, self.ignore_index, eps, self.reduction)
        return loss.reshape(()) if input.dim() == 1 and self.reduction == "none" else loss

    def _probabilities(self, input: Tensor, target: Tensor) -> Tensor:
        """-sum_c w_c t_c log p_c per sample, t smoothed to (1 - eps) t + eps / C."""
        name = "CrossEntropyLoss"
        if not target.is_floating_point():
            raise RuntimeError(f"{name}: a target of the input's shape holds class probabilities and "
                               f"must be floating point, got {target.dtype}")
        if self.ignore_index >= 0:
            raise RuntimeError(f"{name}: ignore_index={self.ignore_index} has no meaning for "
                               "probability targets (torch refuses it too)")
        if input.dim() == 0:
            raise RuntimeError(f"{name}: input must have a class dimension, got a 0-d tensor")
        _check_weight(name, self.weight, input, same_dtype=False)
        z, t = (input[None], target[None]) if input.dim() == 1 else (input, target)
        classes = z.shape[1]
        if self.label_smoothing:
            t = t * (1 - self.label_smoothing) + self.label_smoothing / classes
        if self.weight is not None:
            t = t * self.weight.reshape(1, -1, *[1] * (z.dim() - 2))
        loss = -(LogSoftmaxFunction.apply(z, 1) * t).sum(1)
        return reduce(loss.squeeze(0) if input.dim() == 1 else loss, self.reduction)


class NLLLoss(nn.Module):
    r"""Negative log-likelihood of log-probabilities against class indices, like ``torch.nn.NLLLoss``.

    .. math:: \ell_n = -w_{y_n}\, x_{n, y_n}

    Targets equal to ``ignore_index`` contribute nothing; ``'mean'`` divides by the summed weights
    of the remaining targets (nan when every target is ignored, as in torch).
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.ignore_index = ignore_index
        self.reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        _check_index_target("NLLLoss", input, target)
        _check_weight("NLLLoss", self.weight, input, same_dtype=True)
        x, t = _batched(input, target)
        loss = _index_loss(x, t, self.weight, self.ignore_index, 0.0, self.reduction)
        return loss.reshape(()) if input.dim() == 1 and self.reduction == "none" else loss
