"""Fused softmax cross-entropy on rows of logits, shape (M, C).

The forward computes the log-sum-exp with the max subtracted (stable for logits of any size) and
keeps the unnormalised exponentials; the backward turns them into the softmax p in one pass and
subtracts the target weights, since d/dz [-sum_c a_c log softmax(z)_c] = (sum_c a_c) p - a.
Large class-index inputs (activations/_fused.py's threshold) keep only the row max and sum, from a
compiled kernel, and the backward recomputes the exponentials in its one compiled pass.
A second derivative goes through the plain-autograd `*_composite` forms below.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd import Function

from activations._fused import fused

from ._double_backward import composite_grads, wants_graph
from ._reduction import weighted_mean


def _exp_shifted(x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(m, e, s): row max, exp(x - m), and the row sums of e; log softmax = x - m - log s."""
    m = x.amax(1, keepdim=True) if x.shape[0] else x.new_zeros(0, 1)
    e = torch.sub(x, m).exp_()
    return m, e, e.sum(1, keepdim=True)


@fused("cross_entropy.stats", large=1)
def _row_stats(x: Tensor) -> tuple[Tensor, Tensor]:
    """(m, s) of _exp_shifted without keeping e: compiled, two reads of x and no (M, C) buffer."""
    m = x.amax(1, keepdim=True)
    return m, torch.exp(x - m).sum(1, keepdim=True)


@fused("cross_entropy.grad", large=1)
def _scaled_softmax(x: Tensor, m: Tensor, s: Tensor, coef: Tensor) -> Tensor:
    """coef_i * p_ic = coef_i * exp(x_ic - m_i) / s_i in one pass (the backward of the fused forward)."""
    return torch.exp(x - m) * (coef / s)


def _index_parts(target: Tensor, weight: Tensor | None, ignore_index: int, dtype: torch.dtype):
    """(valid, safe target, per-row weight w[y] with ignored rows at 0)."""
    valid = target != ignore_index
    safe = torch.where(valid, target, 0)
    if weight is None:
        return valid, safe, valid.to(dtype)
    return valid, safe, torch.where(valid, weight[safe].to(dtype), 0)


def index_composite(x: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
                    smoothing: float, reduction: str) -> Tensor:
    """Reference: (1 - eps) w_y (-log p_y) + eps/C sum_c w_c (-log p_c), ignored rows dropped."""
    logp = x - torch.logsumexp(x, 1, keepdim=True)
    valid, safe, w_t = _index_parts(target, weight, ignore_index, x.dtype)
    loss = -logp.gather(1, safe[:, None]).squeeze(1) * w_t
    if smoothing:
        smooth = -(logp * weight).sum(1) if weight is not None else -logp.sum(1)
        loss = (1 - smoothing) * loss + (smoothing / x.shape[1]) * torch.where(valid, smooth, 0)
    if reduction == "mean":
        return weighted_mean(loss.sum(), w_t.sum())
    return loss.sum() if reduction == "sum" else loss


def nll_composite(x: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
                  reduction: str) -> Tensor:
    """Reference: -w_y x_y per row, ignored rows dropped, 'mean' divided by the counted weights."""
    _, safe, w_t = _index_parts(target, weight, ignore_index, x.dtype)
    loss = -x.gather(1, safe[:, None]).squeeze(1) * w_t
    if reduction == "mean":
        return weighted_mean(loss.sum(), w_t.sum())
    return loss.sum() if reduction == "sum" else loss


def prob_composite(x: Tensor, target: Tensor, weight: Tensor | None, smoothing: float,
                   reduction: str) -> Tensor:
    """Reference: -sum_c w_c t_c log p_c with t smoothed to (1 - eps) t + eps/C; mean over rows."""
    logp = x - torch.logsumexp(x, 1, keepdim=True)
    if smoothing:
        target = target * (1 - smoothing) + smoothing / x.shape[1]
    a = target * weight if weight is not None else target
    loss = -(logp * a).sum(1)
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _row_scale(grad: Tensor, reduction: str, rows: int, denominator: Tensor | None = None) -> Tensor:
    """Upstream gradient of each row's loss, shape (M,)."""
    if reduction == "none":
        return grad
    if reduction == "mean":
        grad = grad / denominator if denominator is not None else grad / max(rows, 1)
    return grad.expand(rows)


class IndexCrossEntropy(Function):
    """Cross-entropy of rows `x` (M, C) against class indices `target` (M,)."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, smoothing, reduction):
        # large inputs: compiled row statistics, and the backward recomputes exp(x - m) in its one pass
        # (one read of x instead of keeping a 16 MB e at 4096 x 1000: 5 passes over memory -> 3)
        if _row_stats.ok(x):
            (m, s), e = _row_stats(x), None
        else:
            m, e, s = _exp_shifted(x)
        log_s = s.log()
        valid, safe, w_t = _index_parts(target, weight, ignore_index, x.dtype)
        # -log p_y = log s - (x_y - m), in the order torch's log-softmax rounds it
        x_t = x.gather(1, safe[:, None])
        loss = (log_s - (x_t - m)).squeeze(1) * w_t
        if smoothing:
            C = x.shape[1]
            # sum_c w_c (-log p_c) = W (m + log s) - x . w, with W = sum_c w_c
            xw = x @ weight.to(x.dtype) if weight is not None else x.sum(1)
            W = weight.sum().to(x.dtype) if weight is not None else C
            smooth = torch.where(valid, (m + log_s).squeeze(1) * W - xw, 0)
            loss = (1 - smoothing) * loss + (smoothing / C) * smooth
        total = w_t.sum() if reduction == "mean" else None
        ctx.save_for_backward(x, target, weight)
        ctx.e, ctx.m, ctx.s, ctx.safe, ctx.valid, ctx.w_t, ctx.total = e, m, s, safe, valid, w_t, total
        ctx.args = (ignore_index, smoothing, reduction)
        if reduction == "mean":
            return loss.sum() / total
        return loss.sum() if reduction == "sum" else loss

    @staticmethod
    def backward(ctx, grad):
        x, target, weight = ctx.saved_tensors
        ignore_index, smoothing, reduction = ctx.args
        if wants_graph():
            gx, = composite_grads(
                lambda a: index_composite(a, target, weight, ignore_index, smoothing, reduction),
                (x,), (True,), grad)
            return gx, None, None, None, None, None
        M, C = x.shape
        g = torch.where(ctx.valid, _row_scale(grad, reduction, M, ctx.total), 0)
        hard = g * ctx.w_t
        p_coef = (1 - smoothing) * hard
        if smoothing:
            W = weight.sum().to(x.dtype) if weight is not None else C
            p_coef = p_coef + (smoothing * W / C) * g
        # the first backward takes over the forward's buffer; a retained graph, or a forward that
        # kept none (fused), recomputes it
        e, ctx.e = ctx.e, None
        if e is None and _scaled_softmax.ok(x, ctx.m, ctx.s, p_coef[:, None]):
            gx = _scaled_softmax(x, ctx.m, ctx.s, p_coef[:, None])
        else:
            if e is None:
                e = torch.sub(x, ctx.m).exp_()
            gx = e.mul_((p_coef / ctx.s.squeeze(1))[:, None])
        gx.scatter_add_(1, ctx.safe[:, None], (-(1 - smoothing) * hard)[:, None])
        if smoothing:
            if weight is not None:
                gx.addcmul_(g[:, None], weight.to(x.dtype)[None, :], value=-smoothing / C)
            else:
                gx.sub_((smoothing / C) * g[:, None])
        return gx, None, None, None, None, None


class ProbCrossEntropy(Function):
    """Cross-entropy of rows `x` (M, C) against class probabilities `target` (M, C)."""

    @staticmethod
    def forward(ctx, x, target, weight, smoothing, reduction):
        C = x.shape[1]
        m = x.amax(1, keepdim=True) if x.shape[0] else x.new_zeros(0, 1)
        shifted = x - m
        e = shifted.exp()
        s = e.sum(1, keepdim=True)
        a = target * (1 - smoothing) + smoothing / C if smoothing else target
        if weight is not None:
            a = a * weight.to(x.dtype)
        a_sum = a.sum(1, keepdim=True)
        # -sum_c a_c (z_c - m - log s) = A log s - sum_c a_c (z_c - m), without forming log p
        dot = torch.bmm(shifted[:, None, :], a[:, :, None]).reshape(-1, 1)
        loss = (s.log() * a_sum - dot).squeeze(1)
        ctx.save_for_backward(x, target, weight)
        ctx.e, ctx.s, ctx.m, ctx.a, ctx.a_sum = e, s, m, a, a_sum
        ctx.args = (smoothing, reduction)
        if reduction == "mean":
            return loss.mean()
        return loss.sum() if reduction == "sum" else loss

    @staticmethod
    def backward(ctx, grad):
        x, target, weight = ctx.saved_tensors
        smoothing, reduction = ctx.args
        needs = ctx.needs_input_grad[:2]
        if wants_graph():
            gx, gt = composite_grads(lambda a, b: prob_composite(a, b, weight, smoothing, reduction),
                                     (x, target), needs, grad)
            return gx, gt, None, None, None
        g = _row_scale(grad, reduction, x.shape[0])[:, None]
        gx = gt = None
        if needs[0]:
            e, ctx.e = ctx.e, None  # taken over as in IndexCrossEntropy
            if e is None:
                e = torch.sub(x, ctx.m).exp_()
            gx = e.mul_(g * ctx.a_sum / ctx.s).addcmul_(g, ctx.a, value=-1)
        if needs[1]:
            # d/dt_c = -(1 - eps) w_c log p_c
            logp = (x - ctx.m).sub_(ctx.s.log())
            gt = logp.mul_(-(1 - smoothing) * g)
            if weight is not None:
                gt.mul_(weight.to(x.dtype))
        return gx, gt, None, None, None


def counted_nll(x: Tensor, target: Tensor, reduction: str) -> Tensor:
    """IndexNLL's common case, no class weights and every target counted ('mean' or 'sum'):
    -(1/n) sum_i x[i, y_i], whose gradient -g/n at each (i, y_i) autograd derives from the gather.

    Plain tensor ops rather than an autograd Function: at 4096 x 1000 IndexNLL's masks, small ops and
    Python backward cost about as much as the loss itself (forward+backward 1.35x torch's, against
    1.13x for this; bench/losses_activations.py's harness).
    """
    total = x.gather(1, target[:, None]).sum()
    return total / -target.shape[0] if reduction == "mean" else -total


class IndexNLL(Function):
    """Negative log-likelihood of rows of log-probabilities `x` (M, C) at class indices (M,)."""

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        # few, whole-batch operations: at typical sizes this loss costs less than its overheads
        valid, safe, w_t = _index_parts(target, weight, ignore_index, x.dtype)
        x_t = x.gather(1, safe[:, None]).squeeze(1)
        ctx.save_for_backward(x, target, weight)
        ctx.safe, ctx.w_t, ctx.args = safe, w_t, (ignore_index, reduction)
        if reduction == "none":
            return x_t.mul_(w_t).neg_()
        total = torch.dot(x_t, w_t).neg_() if x_t.numel() else x_t.sum()
        if reduction == "mean":
            ctx.count = w_t.sum()
            return total / ctx.count  # 0 / 0 = nan when every target is ignored, as in torch
        return total

    @staticmethod
    def backward(ctx, grad):
        x, target, weight = ctx.saved_tensors
        ignore_index, reduction = ctx.args
        if wants_graph():
            gx, = composite_grads(lambda a: nll_composite(a, target, weight, ignore_index, reduction),
                                  (x,), (True,), grad)
            return gx, None, None, None, None
        if reduction == "mean":
            # nothing counted: the loss is nan but its gradient 0, as in torch
            grad = grad / ctx.count if ctx.count.item() else torch.zeros_like(grad)
        gx = torch.zeros_like(x)
        return gx.scatter_(1, ctx.safe[:, None], (ctx.w_t * -grad)[:, None]), None, None, None, None
