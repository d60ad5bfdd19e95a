"""Binary cross-entropy on probabilities (BCELoss) and on logits (BCEWithLogitsLoss)."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd import Function

from activations.softplus import SoftplusFunction

from ._autocast import float32_under_autocast
from ._reduction import checking_values, check_reduction, legacy_reduction, reduce

# torch clamps log(p) and log(1 - p) at -100 so that p = 0 or 1 gives a finite loss, and floors
# p (1 - p) in the derivative at 1e-12 for the same reason; that floor is a float32 constant in
# torch's kernel, so its float64 value is 1e-12 rounded to float32
_LOG_FLOOR = -100.0
_EPS = 9.999999960041972e-13


class _BCE(Function):
    r"""Elementwise BCE with torch's clamps, and its derivative written out:

    .. math:: \ell = -w\,(y \max(\log p, -100) + (1 - y) \max(\log(1 - p), -100))
    .. math:: \frac{\partial \ell}{\partial p} = w\,\frac{p - y}{\max(p (1 - p), 10^{-12})}, \qquad
              \frac{\partial \ell}{\partial y} = w\,(\log(1 - p) - \log p) = -w \operatorname{logit}(p)

    Autograd of the clamped formula would give 0 * inf = nan at p = 0 or 1; this is torch's
    gradient there (finite). The backward is itself plain tensor ops, so it is differentiable too.
    """

    @staticmethod
    def forward(ctx, p: Tensor, y: Tensor, weight: Tensor | None) -> Tensor:
        ctx.save_for_backward(p, y, weight)
        log_p = torch.log(p).clamp(min=_LOG_FLOOR)
        log_q = torch.log1p(-p).clamp(min=_LOG_FLOOR)
        loss = -(y * log_p + (1 - y) * log_q)
        return loss if weight is None else loss * weight

    @staticmethod
    def backward(ctx, grad: Tensor):
        p, y, weight = ctx.saved_tensors
        if weight is not None:
            grad = grad * weight
        gp = grad * (p - y) / (p * (1 - p)).clamp(min=_EPS) if ctx.needs_input_grad[0] else None
        gy = grad * -torch.logit(p) if ctx.needs_input_grad[1] else None
        return gp, gy, None


class BCELoss(nn.Module):
    r"""Binary cross-entropy of probabilities, like ``torch.nn.BCELoss``.

    .. math:: BCE = -w\,(y \log(p) + (1 - y) \log(1 - p))

    Each log is clamped at -100, as torch does, so p of exactly 0 or 1 gives a finite loss.
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if target.shape != input.shape:
            raise ValueError(f"BCELoss: target size {tuple(target.shape)} must equal the input size "
                             f"{tuple(input.shape)}")
        for name, t in (("input", input), ("target", target)):
            if checking_values() and t.numel():
                lo, hi = torch.aminmax(t.detach())
                if lo < 0 or hi > 1:
                    raise RuntimeError(f"BCELoss: all elements of {name} should be between 0 and 1")
        # the result keeps the input's dtype whatever the weight's, as torch's does
        weight = self.weight.to(input.dtype) if self.weight is not None else None
        return reduce(_BCE.apply(input, target, weight), self.reduction)


class BCEWithLogitsLoss(nn.Module):
    r"""Sigmoid and binary cross-entropy in one stable step, like ``torch.nn.BCEWithLogitsLoss``.

    .. math:: \ell = -w\,[p_w\, y \log \sigma(x) + (1 - y) \log(1 - \sigma(x))]
              = w\,[(1 - y)\, x - (1 + (p_w - 1)\, y) \log \sigma(x)]

    using log(1 - sigma(x)) = log sigma(x) - x; log sigma(x) is computed without overflow for any
    logit. Its derivative is w [(1 + (p_w - 1) y) sigma(x) - p_w y] (sigma(x) - y without p_w).
    ``pos_weight`` broadcasts against the target (one value per class on the last dimension).
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__()
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)
        self.reduction = check_reduction(legacy_reduction(size_average, reduce, reduction))

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        if target.shape != input.shape:
            raise ValueError(f"BCEWithLogitsLoss: target size {tuple(target.shape)} must equal the "
                             f"input size {tuple(input.shape)}")
        # log sigma(x) = -softplus(-x), the hand-written softplus (no threshold: exact for every logit)
        log_sigmoid = -SoftplusFunction.apply(-input, 1.0, float("inf"))
        if self.pos_weight is not None:
            log_sigmoid = log_sigmoid * (1 + (self.pos_weight - 1) * target)
        loss = (1 - target) * input - log_sigmoid
        if self.weight is not None:
            loss = loss * self.weight
        return reduce(loss, self.reduction)
