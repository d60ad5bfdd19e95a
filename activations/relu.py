"""ReLU and LeakyReLU."""
from __future__ import annotations

import torch
from torch import nn

from ._autocast import input_dtype_under_autocast
from ._fused import fused
from ._ops import blockwise, check_real, mask_gt, times_grad


@fused("leaky_relu.fwd")
def _leaky_fwd(z: torch.Tensor, a: float) -> torch.Tensor:
    """R(z) = z if z > 0 else a*z, one pass when compiled."""
    return torch.where(z > 0, z, z * a)


@fused("leaky_relu.fwd_max")
def _leaky_fwd_max(z: torch.Tensor, a: float) -> torch.Tensor:
    """R(z) = max(z, a*z) for 0 < a <= 1 (a*z <= z exactly where z >= 0); cheaper than a select."""
    return torch.maximum(z, z * a)


@fused("leaky_relu.bwd")
def _leaky_bwd(g: torch.Tensor, z: torch.Tensor, a: float) -> torch.Tensor:
    """g * R'(z) = g if z > 0 else a*g."""
    return torch.where(z > 0, g, g * a)


@fused("leaky_relu.bwd_sign")
def _leaky_bwd_sign(g: torch.Tensor, z: torch.Tensor, a: float) -> torch.Tensor:
    """g * R'(z) for 0 < a <= 1, R'(z) = max(sign(z), a): 1 where z > 0, else a. Arithmetic instead of
    the select, which inductor's CPU loop ran 1.23-1.26x slower than torch's kernel (1.11x this way)."""
    return g * torch.clamp_min(torch.sign(z), a)


@fused("relu.bwd")
def _relu_bwd(g: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """g * R'(z): 0 where R(z) = 0, else g (z > 0, or NaN as in torch); one pass when compiled."""
    return torch.where(out == 0, 0.0, g)


def _slope_where_positive(z: torch.Tensor, a: float) -> torch.Tensor:
    """A new tensor: 1.0 where z > 0, else a (boolean masks are slow here, so arithmetic on floats)."""
    if 0.0 <= a <= 1.0:
        return torch.sign(z).clamp_min_(a)  # sign is 1, 0 or -1; max(., a) maps 0 and -1 to a
    if -1.0 <= a <= 2.0:
        # m * (1 - a) + a: for these a, (1 - a) + a rounds to exactly 1
        return mask_gt(z).mul_(1.0 - a).add_(a)
    return torch.where(z > 0, 1.0, a).to(z.dtype)


class _ReLUFn(torch.autograd.Function):
    """R(z) = max(0, z);  R'(z) = 1 if z > 0 else 0 (0 at the kink, and 1 at NaN, as torch)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        out = z.clamp_min(0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (out,) = ctx.saved_tensors
        if _relu_bwd.ok(grad, out):
            return _relu_bwd(grad, out)
        # R'(z) as the 0/1 mask of R(z) != 0: z > 0, and a NaN input, whose gradient torch passes on
        # (its test is `R(z) <= 0`); written as floats, not a bool mask and a select (8x slower in
        # eager here). Unlike torch's select and the fused kernel, 0 * an inf or NaN upstream gradient
        # at a dead unit gives NaN here.
        mask = torch.empty_like(out, memory_format=torch.contiguous_format)
        return times_grad(torch.ne(out.detach(), 0, out=mask), grad)


class _LeakyReLUFn(torch.autograd.Function):
    """R(z) = z if z > 0 else a*z;  R'(z) = 1 if z > 0 else a."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, slope: float) -> torch.Tensor:
        # max(z, a*z) needs a > 0: at a = 0, 0 * +inf is NaN where torch gives inf (the select below
        # reproduces torch everywhere, also its NaN for -inf * 0)
        kernel = _leaky_fwd_max if 0.0 < slope <= 1.0 else _leaky_fwd
        ctx.fused = kernel.ok(z, slope)
        if ctx.fused:  # one kernel; the backward rebuilds R'(z) from z
            ctx.slope = slope
            ctx.save_for_backward(z)
            return kernel(z, slope)
        if 0.0 < slope <= 1.0:
            # a*z <= z exactly where z >= 0, so max(a*z, z) is bitwise R(z) in two cheap passes;
            # R(z) > 0 exactly where z > 0, so the slope is rebuilt from it in the backward
            out = torch.empty_like(z, memory_format=torch.contiguous_format)
            blockwise(lambda z, out: torch.maximum(torch.mul(z, slope, out=out), z, out=out),
                      z.detach(), out)
            ctx.slope = slope
            ctx.save_for_backward(out)
            return out
        ctx.slope = None
        # d holds R'(z), exactly 1 or a, so z * d is bitwise z or a*z
        d = _slope_where_positive(z, slope)
        ctx.save_for_backward(d)
        return z * d

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        if ctx.fused:
            (z,) = ctx.saved_tensors
            kernel = _leaky_bwd_sign if 0.0 < ctx.slope <= 1.0 else _leaky_bwd
            if kernel.ok(grad, z, ctx.slope):
                return kernel(grad, z, ctx.slope), None
            return _slope_where_positive(z, ctx.slope) * grad, None
        if ctx.slope is not None:
            (out,) = ctx.saved_tensors
            if torch.is_grad_enabled():
                return _slope_where_positive(out, ctx.slope) * grad, None
            # sign(R) is 1 where z > 0, else 0 or -1; max with a gives R'(z), per cached block
            d = torch.empty_like(out, memory_format=torch.contiguous_format)
            a = ctx.slope
            blockwise(lambda d, out, g: torch.sign(out, out=d).clamp_min_(a).mul_(g),
                      d, out.detach(), grad)
            return d, None
        (d,) = ctx.saved_tensors
        return grad * d, None


class ReLU(nn.Module):
    """Rectified linear unit: R(z) = max(0, z), R'(z) = 1 if z > 0 else 0.

    `inplace` is accepted for signature compatibility with `torch.nn.ReLU` and ignored: the result
    is always a new tensor (values and gradients are the same either way).
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _ReLUFn.apply(z)


class LeakyReLU(nn.Module):
    """Leaky ReLU: R(z) = z if z > 0 else a*z, R'(z) = 1 if z > 0 else a (a = negative_slope).

    `inplace` is accepted for compatibility with `torch.nn.LeakyReLU` and ignored (always a new tensor).
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = check_real("negative_slope", negative_slope)
        self.inplace = inplace

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _LeakyReLUFn.apply(z, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"
