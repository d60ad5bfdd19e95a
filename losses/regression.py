"""Regression losses: MSE (L2), L1 (MAE) and Huber.

MSE and Huber run through fused autograd Functions: the forward keeps the one buffer the derivative
needs (the difference, or the clipped difference), so the backward is a single multiply. L1 is plain
autograd, which is exactly how torch builds it.
"""
from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn
from torch.autograd import Function

from ._double_backward import composite_grads, wants_graph
from ._autocast import float32_under_autocast
from ._reduction import check_positive, check_reduction, grad_scale, reduce, sum_to


def _warn_if_broadcast(input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
            "This will likely lead to incorrect results due to broadcasting. "
            "Please ensure they have the same size.", stacklevel=3)


def squared_error(input: Tensor, target: Tensor, reduction: str) -> Tensor:
    """Reference form, also used for the second derivative: reduce((y_hat - y)^2)."""
    return reduce((input - target).square(), reduction)


def huber(input: Tensor, target: Tensor, delta: float, reduction: str) -> Tensor:
    """Reference form: 0.5 d^2 where |d| < delta, delta (|d| - delta/2) elsewhere; d = y_hat - y."""
    diff = input - target
    small = diff.abs() < delta
    loss = torch.where(small, 0.5 * diff.square(), delta * (diff.abs() - 0.5 * delta))
    return reduce(loss, reduction)


class _SquaredError(Function):
    @staticmethod
    def forward(ctx, input: Tensor, target: Tensor, reduction: str) -> Tensor:
        diff = input - target
        ctx.save_for_backward(input, target)
        ctx.diff, ctx.reduction = diff, reduction
        if reduction == "none":
            return diff.square()
        flat = diff.reshape(-1)
        # one read of `diff` instead of squaring into a new tensor and summing it
        total = torch.dot(flat, flat) if flat.numel() else flat.sum()
        return total / diff.numel() if reduction == "mean" else total

    @staticmethod
    def backward(ctx, grad: Tensor):
        input, target = ctx.saved_tensors
        if wants_graph():
            return composite_grads(lambda a, b: squared_error(a, b, ctx.reduction), (input, target),
                                   ctx.needs_input_grad[:2], grad) + (None,)
        # d/dy_hat (y_hat - y)^2 = 2 (y_hat - y); the first backward scales the forward's buffer
        # in place, a second one (retained graph) recomputes it
        diff, ctx.diff = ctx.diff, None
        if diff is None:
            diff = input - target
        g = diff.mul_(2 * grad_scale(grad, ctx.reduction, diff.numel()))
        gi = sum_to(g, input.shape) if ctx.needs_input_grad[0] else None
        gt = sum_to(-g, target.shape) if ctx.needs_input_grad[1] else None
        return gi, gt, None


class _Huber(Function):
    @staticmethod
    def forward(ctx, input: Tensor, target: Tensor, delta: float, reduction: str) -> Tensor:
        diff = input - target
        # c = clip(d, -delta, delta) is the derivative; the loss is c (d - c/2) on both branches
        clipped = diff.clamp(-delta, delta)
        ctx.save_for_backward(input, target)
        ctx.clipped, ctx.delta, ctx.reduction = clipped, delta, reduction
        if reduction == "none":
            return torch.add(diff, clipped, alpha=-0.5).mul_(clipped)
        # summed without the elementwise tensor: sum c d - 1/2 sum c^2, two reads
        c, d = clipped.reshape(-1), diff.reshape(-1)
        total = torch.dot(c, d) - 0.5 * torch.dot(c, c) if c.numel() else c.sum()
        return total / c.numel() if reduction == "mean" else total

    @staticmethod
    def backward(ctx, grad: Tensor):
        input, target = ctx.saved_tensors
        if wants_graph():
            return composite_grads(lambda a, b: huber(a, b, ctx.delta, ctx.reduction), (input, target),
                                   ctx.needs_input_grad[:2], grad) + (None, None)
        clipped, ctx.clipped = ctx.clipped, None  # taken over as in _SquaredError
        if clipped is None:
            clipped = (input - target).clamp_(-ctx.delta, ctx.delta)
        g = clipped.mul_(grad_scale(grad, ctx.reduction, clipped.numel()))
        gi = sum_to(g, input.shape) if ctx.needs_input_grad[0] else None
        gt = sum_to(-g, target.shape) if ctx.needs_input_grad[1] else None
        return gi, gt, None, None


class MSELoss(nn.Module):
    r"""Mean squared error (L2), like ``torch.nn.MSELoss``.

    .. math:: MSE = \frac{1}{n} \sum_{i=1}^{n} (y_i - \hat{y}_i)^2
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        check_reduction(self.reduction)
        _warn_if_broadcast(input, target)
        return _SquaredError.apply(input, target, self.reduction)


class L1Loss(nn.Module):
    r"""Mean absolute error (L1), like ``torch.nn.L1Loss``.

    .. math:: MAE = \frac{1}{n} \sum_{i=1}^{n} |y_i - \hat{y}_i|
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        check_reduction(self.reduction)
        _warn_if_broadcast(input, target)
        return reduce((input - target).abs(), self.reduction)


class HuberLoss(nn.Module):
    r"""Huber loss, like ``torch.nn.HuberLoss``: quadratic near zero, linear in the tails.

    .. math::
        L_\delta(y, \hat{y}) = \begin{cases} \frac{1}{2}(y - \hat{y})^2 & |y - \hat{y}| < \delta \\
        \delta\,(|y - \hat{y}| - \frac{1}{2}\delta) & \text{otherwise} \end{cases}
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)
        self.delta = check_positive("delta", delta)

    @float32_under_autocast
    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        check_reduction(self.reduction)
        _warn_if_broadcast(input, target)
        return _Huber.apply(input, target, self.delta, self.reduction)
