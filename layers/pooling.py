"""2-D max and average pooling over the input's windows (Tensor.unfold views: no copy of the input)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from ._args import check_pool, check_pool_output, pair, window_out


def _plan(x: torch.Tensor, kernel, stride, padding, dilation, ceil_mode):
    """Output size and the (top, bottom, left, right) padding that makes every window fit: the given
    padding, plus the extra bottom/right a partial last window needs under ceil_mode."""
    h, w = x.shape[-2:]
    out = []
    pads = []
    for size, k, s, p, d in zip((h, w), kernel, stride, padding, dilation):
        n = window_out(size, k, s, p, d, ceil_mode)
        out.append(n)
        pads += [p, max(p, (n - 1) * s + d * (k - 1) + 1 - size - p)]
    check_pool_output(x.shape, *out)
    return tuple(out), tuple(pads)


def _windows(x_pad: torch.Tensor, kernel, stride, dilation, out_hw) -> torch.Tensor:
    """(N, C, OH, OW, kh, kw): window (i, j) of the padded input, a strided view."""
    span = [d * (k - 1) + 1 for k, d in zip(kernel, dilation)]
    win = x_pad.unfold(2, span[0], stride[0]).unfold(3, span[1], stride[1])
    win = win[:, :, : out_hw[0], : out_hw[1], :: dilation[0], :: dilation[1]]
    return win


class _MaxPool2dFn(torch.autograd.Function):
    """y[i, j] = max over window (i, j) of x;  torch's rule for ties: the first maximum in row-major
    order within the window.  backward: each g[i, j] goes to the input element that was the max,
    dx[k] = sum over windows whose max is k of g[i, j]  (scatter-add by the flat index k = row*W + col)."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, ceil_mode):
        n, c, h, w = x.shape
        out_hw, (top, bottom, left, right) = _plan(x, kernel, stride, padding, dilation, ceil_mode)
        x_pad = F.pad(x, (left, right, top, bottom), value=float("-inf")) if any((top, bottom, left, right)) else x
        win = _windows(x_pad, kernel, stride, dilation, out_hw)
        y, arg = win.reshape(n, c, *out_hw, -1).max(-1)  # max(dim) returns the first maximum's position
        # flat input index of the max: window origin + offset of position `arg` inside the window
        rows = torch.arange(out_hw[0], device=x.device) * stride[0] - top
        cols = torch.arange(out_hw[1], device=x.device) * stride[1] - left
        origin = rows.view(-1, 1) * w + cols
        kh, kw = kernel
        k = torch.arange(kh * kw, device=x.device)
        offset = (k // kw) * dilation[0] * w + (k % kw) * dilation[1]
        index = origin + offset[arg]
        ctx.save_for_backward(index)
        ctx.mark_non_differentiable(index)
        ctx.input_shape = x.shape
        return y, index

    @staticmethod
    @once_differentiable
    def backward(ctx, g, _g_index):
        (index,) = ctx.saved_tensors
        n, c, h, w = ctx.input_shape
        dx = g.new_zeros(n, c, h * w)
        dx.scatter_add_(2, index.reshape(n, c, -1), g.reshape(n, c, -1))
        return dx.view(n, c, h, w), None, None, None, None, None


class _AvgPool2dFn(torch.autograd.Function):
    """y[i, j] = (sum over window (i, j) of x) / D[i, j]; D = the window's size counted as torch
    counts it (padding included or not, never the ceil_mode overhang) or divisor_override.
    backward: each window spreads g[i, j] / D[i, j] evenly over its inputs, dx = fold(g / D)."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        n, c, h, w = x.shape
        out_hw, (top, bottom, left, right) = _plan(x, kernel, stride, padding, (1, 1), ceil_mode)
        pads = (left, right, top, bottom)
        x_pad = F.pad(x, pads) if any(pads) else x
        sums = _windows(x_pad, kernel, stride, (1, 1), out_hw).sum((-1, -2))
        if divisor_override:
            divisor = torch.tensor(float(divisor_override), dtype=x.dtype, device=x.device)
        else:
            # D = number of counted positions under each window: window sums of a 0/1 mask
            counted = x.new_zeros(1, 1, h + top + bottom, w + left + right)
            if count_include_pad:
                counted[..., : h + 2 * padding[0], : w + 2 * padding[1]] = 1
            else:
                counted[..., top : top + h, left : left + w] = 1
            divisor = _windows(counted, kernel, stride, (1, 1), out_hw).sum((-1, -2))
        ctx.save_for_backward(divisor)
        ctx.conf = (x.shape, kernel, stride, (top, left), x_pad.shape[2:])
        return sums / divisor

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (divisor,) = ctx.saved_tensors
        (n, c, h, w), kernel, stride, (top, left), padded_hw = ctx.conf
        share = (g / divisor).reshape(n * c, 1, -1)
        # every position of a window receives the same share: fold adds them up where windows overlap
        dx = F.fold(share.expand(-1, kernel[0] * kernel[1], -1), padded_hw, kernel, stride=stride)
        return dx.view(n, c, *padded_hw)[:, :, top : top + h, left : left + w], None, None, None, None, None, None


def _batched(x: torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
    if x.dim() not in (3, 4):
        raise RuntimeError(f"{name}: Expected 3D or 4D tensor, but got {list(x.shape)}")
    return (x.unsqueeze(0), True) if x.dim() == 3 else (x, False)


class MaxPool2d(nn.Module):
    """y[n, c, i, j] = max_{u, v} x[n, c, s_h i + d_h u - p_h, s_w j + d_w v - p_w]  (padding counts as -inf).

    torch.nn.MaxPool2d's arguments; return_indices gives torch's flat indices (row * W + col)."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None and stride != []) else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode
        self._args = (pair(self.kernel_size, "kernel_size"), pair(self.stride, "stride"),
                      pair(padding, "padding"), pair(dilation, "dilation"))
        check_pool("max", *self._args)

    def forward(self, x: torch.Tensor):
        x, unbatched = _batched(x, "max_pool2d")
        y, index = _MaxPool2dFn.apply(x, *self._args, self.ceil_mode)
        if unbatched:
            y, index = y.squeeze(0), index.squeeze(0)
        return (y, index) if self.return_indices else y

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class AvgPool2d(nn.Module):
    """y[n, c, i, j] = (1 / D) sum_{u, v} x[n, c, s_h i + u - p_h, s_w j + v - p_w]  (padding counts as 0).

    torch.nn.AvgPool2d's arguments: D counts the padding when count_include_pad, else only the input
    positions; divisor_override replaces D."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if (stride is not None and stride != []) else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override
        self._args = (pair(self.kernel_size, "kernel_size"), pair(self.stride, "stride"), pair(padding, "padding"))
        check_pool("avg", *self._args)
        if divisor_override is not None and divisor_override == 0:
            raise RuntimeError("divisor must be not zero")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, unbatched = _batched(x, "avg_pool2d")
        y = _AvgPool2dFn.apply(x, *self._args, self.ceil_mode, self.count_include_pad, self.divisor_override)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
