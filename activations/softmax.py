"""Softmax and LogSoftmax along one dimension."""
from __future__ import annotations

import warnings

import torch
from torch import nn

from ._autocast import float32_under_autocast
from ._fused import fused
from ._ops import BLOCK_BYTES, LOG2E, exp_, exp_of


@fused("softmax.fwd")
def _softmax_fwd(z: torch.Tensor, dim: int) -> torch.Tensor:
    """e^(z - max z) / sum e^(z - max z) along dim; one pass per row block when compiled."""
    e = torch.exp(z - z.amax(dim, keepdim=True))
    return e / e.sum(dim, keepdim=True)


@fused("softmax.bwd")
def _softmax_bwd(g: torch.Tensor, s: torch.Tensor, dim: int) -> torch.Tensor:
    """J^T g = s * (g - sum(g * s)) along dim."""
    return s * (g - (g * s).sum(dim, keepdim=True))


@fused("log_softmax.fwd")
def _log_softmax_fwd(z: torch.Tensor, dim: int) -> torch.Tensor:
    """z - max z - log sum e^(z - max z) along dim."""
    shifted = z - z.amax(dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim, keepdim=True))


@fused("log_softmax.bwd")
def _log_softmax_bwd(g: torch.Tensor, out: torch.Tensor, dim: int) -> torch.Tensor:
    """g - softmax(z) * sum(g) along dim, softmax(z) = e^out.

    sum(g) is accumulated in float64: where one entry dominates a row, softmax is ~1 there and
    g - sum(g) cancels, exposing float32 summation error (torch's own float32 kernel is 5e-6 off
    on a column of 64 here); the wider accumulator is free in a fused kernel."""
    total = g.sum(dim, keepdim=True, dtype=torch.float64).to(g.dtype)
    return g - torch.exp(out) * total


def _resolve_dim(dim: int | None, ndim: int, name: str) -> int:
    """torch's legacy rule for dim=None: 0 for 0-, 1- and 3-d inputs, else 1 (with its warning)."""
    if dim is not None:
        return dim
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. "
        "Change the call to include dim=X as an argument.",
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def _dim_if_fused(kernel, dim: int, *tensors: torch.Tensor) -> int | None:
    """dim as 0..ndim-1 (so -1 and 1 share a compile) when `kernel` runs fused here, else None
    (an out-of-range dim is left to the eager ops, which raise torch's error)."""
    ndim = tensors[0].dim()
    if -ndim <= dim < ndim and kernel.ok(*tensors, dim):
        return dim % ndim
    return None


def _blocks(t: torch.Tensor, dim: int) -> int:
    """Rows per cache-sized block for a contiguous 2-d `t` reduced along dim 1; 0 when blocks
    do not apply (other layouts, or a tensor that is a single block anyway)."""
    if t.dim() != 2 or dim not in (1, -1) or not t.is_contiguous():
        return 0
    rows = max(1, BLOCK_BYTES // max(1, t.shape[1] * t.element_size()))
    return rows if rows < t.shape[0] else 0


def _log_sum_exp(shifted: torch.Tensor, dim: int) -> torch.Tensor:
    """log sum_j e^(shifted_j) along `dim`, keepdim.

    The exponentials are only summed, so for a contiguous 2-d input with dim 1 they are made
    block by block in one small buffer that stays in cache, instead of one full-size temporary.
    """
    rows = _blocks(shifted, dim)
    if not rows:
        return exp_of(shifted).sum(dim, keepdim=True).log_()
    buf = shifted.new_empty(rows, shifted.shape[1])
    total = shifted.new_empty(shifted.shape[0], 1)
    for i in range(0, shifted.shape[0], rows):
        block = shifted[i:i + rows]
        b = buf[: block.shape[0]]
        torch.sum(torch.mul(block, LOG2E, out=b).exp2_(), 1, keepdim=True, out=total[i:i + rows])
    return total.log_()


class _SoftmaxFn(torch.autograd.Function):
    """s_i = e^(z_i - max z) / sum_j e^(z_j - max z);  J^T g = s * (g - sum(g * s))."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, dim: int) -> torch.Tensor:
        ctx.dim = dim
        d = _dim_if_fused(_softmax_fwd, dim, z)
        if d is not None:
            s = _softmax_fwd(z, d)
        elif z.numel() == 0:
            s = z.clone()
        else:
            # subtracting the max keeps e^x <= 1: softmax([1000, 1000]) = [0.5, 0.5]
            s = exp_(torch.sub(z, z.amax(dim, keepdim=True)))
            s.div_(s.sum(dim, keepdim=True))
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (s,) = ctx.saved_tensors
        d = _dim_if_fused(_softmax_bwd, ctx.dim, grad, s)
        if d is not None:
            return _softmax_bwd(grad, s, d), None
        if not torch.is_grad_enabled() and _blocks(s, ctx.dim) and grad.is_contiguous():
            # both passes over a row block while it is in cache
            rows = _blocks(s, ctx.dim)
            gx = torch.empty_like(s)
            for i in range(0, s.shape[0], rows):
                sb, gb = s[i:i + rows], gx[i:i + rows]
                torch.mul(grad[i:i + rows], sb, out=gb)
                gb.addcmul_(sb, gb.sum(1, keepdim=True), value=-1)
            return gx, None
        gs = grad * s
        total = gs.sum(ctx.dim, keepdim=True)
        if torch.is_grad_enabled():
            return gs - s * total, None
        return gs.addcmul_(s, total, value=-1), None


class _LogSoftmaxFn(torch.autograd.Function):
    """log s_i = z_i - max z - log sum_j e^(z_j - max z);  grad = g - softmax(z) * sum(g)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, dim: int) -> torch.Tensor:
        ctx.dim = dim
        d = _dim_if_fused(_log_softmax_fwd, dim, z)
        if d is not None:
            out = _log_softmax_fwd(z, d)
        elif z.numel() == 0:
            out = z.clone()
        else:
            shifted = torch.sub(z, z.amax(dim, keepdim=True))
            out = shifted.sub_(_log_sum_exp(shifted, dim))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (out,) = ctx.saved_tensors
        d = _dim_if_fused(_log_softmax_bwd, ctx.dim, grad, out)
        if d is not None:
            return _log_softmax_bwd(grad, out, d), None
        total = grad.sum(ctx.dim, keepdim=True)
        if torch.is_grad_enabled():
            return grad - torch.exp(out) * total, None
        return exp_of(out).mul_(total.neg_()).add_(grad), None


class Softmax(nn.Module):
    """Softmax over `dim`: s_i = e^(z_i) / sum_j e^(z_j), computed with the max subtracted;
    the backward is the Jacobian-vector product s * (g - sum(g * s))."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    @float32_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _SoftmaxFn.apply(z, _resolve_dim(self.dim, z.dim(), "softmax"))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(nn.Module):
    """Log-softmax over `dim`: z_i - log sum_j e^(z_j) (log-sum-exp with the max subtracted);
    backward g - softmax(z) * sum(g)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    @float32_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _LogSoftmaxFn.apply(z, _resolve_dim(self.dim, z.dim(), "log_softmax"))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
