"""Binary cross-entropy on probabilities (BCELoss) and on logits (BCEWithLogitsLoss)."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.autograd import Function

from ._double_backward import composite_grads, wants_graph
from ._autocast import float32_under_autocast
from ._reduction import check_reduction, grad_scale, reduce

# torch clamps log(p) and log(1 - p) at -100 so that p = 0 or 1 gives a finite loss,
# and floors p (1 - p) in the derivative at 1e-12 for the same reason; that floor is a float32
# constant in torch's kernel, so its float64 value is 1e-12 rounded to float32
_LOG_FLOOR = -100.0
_EPS = 9.999999960041972e-13


def _weighted(loss: Tensor, weight: Tensor | None) -> Tensor:
    return loss if weight is None else loss * weight


def bce_composite(p: Tensor, y: Tensor, weight: Tensor | None, reduction: str) -> Tensor:
    """Reference: -w (y log p + (1 - y) log(1 - p)), each log clamped at -100."""
    log_p = p.log().clamp(min=_LOG_FLOOR)
    log_q = torch.log1p(-p).clamp(min=_LOG_FLOOR)
    return reduce(_weighted(-(y * log_p + (1 - y) * log_q), weight), reduction)


def bce_logits_composite(x: Tensor, y: Tensor, weight: Tensor | None, pos_weight: Tensor | None,
                         reduction: str) -> Tensor:
    """Reference: (1 - y) x + (1 + (p_w - 1) y) softplus(-x); softplus(-x) = -log sigmoid(x)."""
    neg_log_sig = torch.logaddexp(-x, x.new_zeros(()))
    scale = 1 + (pos_weight - 1) * y if pos_weight is not None else 1
    return reduce(_weighted((1 - y) * x + scale * neg_log_sig, weight), reduction)


class _BCE(Function):
    @staticmethod
    def forward(ctx, p, y, weight, reduction):
        log_p = p.log().clamp_(min=_LOG_FLOOR)
        log_q = torch.log1p(-p).clamp_(min=_LOG_FLOOR)
        # y log p + (1 - y) log(1 - p) is a linear interpolation from log(1 - p) to log p
        loss = torch.lerp(log_q, log_p, y).neg_()
        if weight is not None:
            loss = loss.mul_(weight) if loss.shape == torch.broadcast_shapes(loss.shape, weight.shape) \
                else loss * weight
        ctx.save_for_backward(p, y, weight)
        ctx.reduction = reduction
        return reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        p, y, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad[:2]
        if wants_graph():
            return composite_grads(lambda a, b: bce_composite(a, b, weight, ctx.reduction), (p, y),
                                   needs, grad) + (None, None)
        scale = grad_scale(grad, ctx.reduction, p.numel())
        if weight is not None:
            scale = scale * weight
        gp = gy = None
        if needs[0]:
            # dL/dp = (p - y) / (p (1 - p)), with torch's floor on the denominator
            denom = torch.rsub(p, 1).mul_(p).clamp_(min=_EPS)
            gp = (p - y).div_(denom).mul_(scale)
        if needs[1]:
            # dL/dy = log(1 - p) - log p = -logit(p)
            gy = torch.logit(p).neg_().mul_(scale)
        return gp, gy, None, None


class _BCEWithLogits(Function):
    @staticmethod
    def forward(ctx, x, y, weight, pos_weight, reduction):
        if pos_weight is None:
            # (1 - y) x - log sigmoid(x) = softplus(x) - x y, softplus(x) = log(e^0 + e^x), stable
            loss = torch.logaddexp(x, x.new_zeros(())).addcmul_(x, y, value=-1)
        else:
            loss = torch.logaddexp(-x, x.new_zeros(())).mul_(1 + (pos_weight - 1) * y)
            loss.add_((1 - y) * x)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y, weight, pos_weight)
        ctx.reduction = reduction
        return reduce(loss, reduction)

    @staticmethod
    def backward(ctx, grad):
        x, y, weight, pos_weight = ctx.saved_tensors
        needs = ctx.needs_input_grad[:2]
        if wants_graph():
            return composite_grads(
                lambda a, b: bce_logits_composite(a, b, weight, pos_weight, ctx.reduction),
                (x, y), needs, grad) + (None, None, None)
        scale = grad_scale(grad, ctx.reduction, x.numel())
        if weight is not None:
            scale = scale * weight
        gx = gy = None
        if needs[0]:
            # sigmoid(x) = 1 / (1 + e^-x): e^-x may overflow to inf, giving exactly 0, never nan
            sig = torch.neg(x).exp_().add_(1).reciprocal_()
            if pos_weight is None:
                gx = sig.sub_(y)  # d/dx = sigmoid(x) - y
            else:
                t = pos_weight * y  # d/dx = (1 + t - y) sigmoid(x) - t
                gx = sig.mul_(1 + t - y).sub_(t)
            gx = gx.mul_(scale) if gx.shape == torch.broadcast_shapes(gx.shape, scale.shape) else gx * scale
        if needs[1]:
            gy = -x * scale
            if pos_weight is not None:
                gy = gy + (pos_weight - 1) * torch.logaddexp(-x, x.new_zeros(())) * scale
        return gx, gy, None, None, None


class BCELoss(nn.Module):
    r"""Binary cross-entropy of probabilities, like ``torch.nn.BCELoss``.

    .. math:: BCE = -w\,(y \log(p) + (1 - y) \log(1 - p))

    Each log is clamped at -100, as torch does, so p of exactly 0 or 1 gives a finite loss.
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            raise ValueError("size_average and reduce are deprecated in torch; use reduction")
        self.register_buffer("weight", weight)
        self.reduction = check_reduction(reduction)

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        check_reduction(self.reduction)
        if target.shape != input.shape:
            raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                             f"size ({input.shape}) is deprecated. Please ensure they have the same size.")
        if input.numel():
            lo, hi = torch.aminmax(input.detach())
            if lo < 0 or hi > 1:
                raise RuntimeError("all elements of input should be between 0 and 1")
        return _BCE.apply(input, target, self.weight, self.reduction)


class BCEWithLogitsLoss(nn.Module):
    r"""Sigmoid and binary cross-entropy in one stable step, like ``torch.nn.BCEWithLogitsLoss``.

    .. math:: \ell = -w\,[p_w\, y \log \sigma(x) + (1 - y) \log(1 - \sigma(x))]

    computed as (1 - y) x + (1 + (p_w - 1) y) softplus(-x), which stays finite for any logit.
    ``pos_weight`` broadcasts against the target (one value per class on the last dimension).
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            raise ValueError("size_average and reduce are deprecated in torch; use reduction")
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)
        self.reduction = check_reduction(reduction)

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        check_reduction(self.reduction)
        if target.shape != input.shape:
            raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
        return _BCEWithLogits.apply(input, target, self.weight, self.pos_weight, self.reduction)
