"""2-D max and average pooling, as the cheatsheet loops: over the kh x kw positions (u, v) of the window,
each position a strided view of the input holding that element of every window (no copy of the input).
Max pooling's backward routes each gradient to its window's max (scatter-add); average pooling's is
convolution's fold (layers/_columns.py), which adds each window's share back onto its positions."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from ._args import check_pool, check_pool_output, pair, window_out
from ._columns import fold


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


def _positions(kernel, dilation):
    """The window's positions (u, v) as offsets from its corner, row-major (torch's order for ties)."""
    return [(u * dilation[0], v * dilation[1]) for u in range(kernel[0]) for v in range(kernel[1])]


def _at(x_pad: torch.Tensor, du: int, dv: int, stride, out_hw) -> torch.Tensor:
    """(N, C, OH, OW): element (du, dv) of every window, x_pad[:, :, s_h i + du, s_w j + dv], a strided view."""
    (sh, sw), (oh, ow) = stride, out_hw
    return x_pad[:, :, du : du + sh * (oh - 1) + 1 : sh, dv : dv + sw * (ow - 1) + 1 : sw]


def _window_sum(x_pad: torch.Tensor, kernel, stride, out_hw) -> torch.Tensor:
    """sum over (u, v) of x_pad[:, :, s_h i + u, s_w j + v], added up in float32 for float16/bfloat16
    inputs (as torch does: one rounding at the end instead of one per term)."""
    positions = _positions(kernel, (1, 1))
    total = _at(x_pad, *positions[0], stride, out_hw).to(_accumulation_dtype(x_pad.dtype), copy=True)
    for du, dv in positions[1:]:
        total += _at(x_pad, du, dv, stride, out_hw)
    return total


def _accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float32 if dtype in (torch.float16, torch.bfloat16) else dtype


class _MaxPool2dFn(torch.autograd.Function):
    """y[i, j] = max over window (i, j) of x;  torch's rule for ties: the first maximum in row-major
    order within the window (a NaN always wins: it propagates).  backward: each g[i, j] goes to the input
    element that was the max, dx[k] = sum over windows whose max is k of g[i, j]  (scatter-add by the
    flat index k = row*W + col)."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, dilation, ceil_mode):
        n, c, h, w = x.shape
        out_hw, (top, bottom, left, right) = _plan(x, kernel, stride, padding, dilation, ceil_mode)
        x_pad = F.pad(x, (left, right, top, bottom), value=float("-inf")) if any((top, bottom, left, right)) else x
        positions = _positions(kernel, dilation)
        y = _at(x_pad, *positions[0], stride, out_hw).clone()
        # arg = the last position k that beat the running max y (strictly: a tie keeps the earlier
        # position; a NaN beats everything, as in torch's kernel) = max over k of k * beats_k
        arg = torch.zeros(y.shape, dtype=torch.long, device=x.device)
        for k, (du, dv) in enumerate(positions[1:], start=1):
            v = _at(x_pad, du, dv, stride, out_hw)
            beats = (v > y) | v.isnan()
            arg = torch.maximum(arg, beats * k)
            y = torch.maximum(y, v)  # torch.maximum propagates NaN
        # window origins in input coordinates
        rows = torch.arange(out_hw[0], device=x.device) * stride[0] - top
        cols = torch.arange(out_hw[1], device=x.device) * stride[1] - left
        # padding never wins: a window whose max is -inf (its input elements all -inf) takes its first
        # input element, as torch's kernel does
        first_inside = torch.zeros(out_hw, dtype=torch.long, device=x.device)
        for k, (du, dv) in reversed(list(enumerate(positions))):
            inside = ((rows + du >= 0) & (rows + du < h)).view(-1, 1) & ((cols + dv >= 0) & (cols + dv < w))
            first_inside = torch.where(inside, k, first_inside)
        arg = torch.where(y == float("-inf"), first_inside, arg)
        # flat input index of the max: window origin + offset of position `arg` inside the window
        offset = torch.tensor([du * w + dv for du, dv in positions], device=x.device)
        index = rows.view(-1, 1) * w + cols + offset[arg]
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
    backward: each window spreads g[i, j] / D[i, j] evenly over its inputs,
    dx[s_h i + u, s_w j + v] += g[i, j] / D[i, j] for every position (u, v)."""

    @staticmethod
    def forward(ctx, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
        n, c, h, w = x.shape
        out_hw, (top, bottom, left, right) = _plan(x, kernel, stride, padding, (1, 1), ceil_mode)
        pads = (left, right, top, bottom)
        x_pad = F.pad(x, pads) if any(pads) else x
        sums = _window_sum(x_pad, kernel, stride, out_hw)
        if divisor_override:
            divisor = torch.tensor(float(divisor_override), dtype=x.dtype, device=x.device)
        else:
            # D = number of counted positions under each window: window sums of a 0/1 mask
            counted = x.new_zeros(1, 1, h + top + bottom, w + left + right)
            if count_include_pad:
                counted[..., : h + 2 * padding[0], : w + 2 * padding[1]] = 1
            else:
                counted[..., top : top + h, left : left + w] = 1
            divisor = _window_sum(counted, kernel, stride, out_hw)
        ctx.save_for_backward(divisor)
        ctx.conf = (x.shape, kernel, stride, out_hw, (top, left), x_pad.shape[2:])
        return (sums / divisor).to(x.dtype)

    @staticmethod
    @once_differentiable
    def backward(ctx, g):
        (divisor,) = ctx.saved_tensors
        (n, c, h, w), kernel, stride, out_hw, (top, left), padded_hw = ctx.conf
        share = (g / divisor).reshape(n * c, 1, 1, 1, *out_hw)  # the same share for every position (u, v)
        # convolution's fold adds each position's share back where the window read it (overlaps add up)
        dx = fold(share.expand(-1, *kernel, -1, -1, -1), (1, n * c, *padded_hw), kernel, (1, 1), stride, out_hw)
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
        self.window()  # torch checks the arguments at the first forward; here they fail at once

    def window(self) -> tuple[tuple[int, int], ...]:
        """(kernel, stride, padding, dilation) as (h, w) pairs, read at every call as torch reads its
        attributes (reassigning `kernel_size` later takes effect)."""
        args = (pair(self.kernel_size, "kernel_size"), pair(self.stride, "stride"), pair(self.padding, "padding"),
                pair(self.dilation, "dilation"))
        check_pool("max", *args)
        return args

    def forward(self, x: torch.Tensor):
        x, unbatched = _batched(x, "max_pool2d")
        y, index = _MaxPool2dFn.apply(x, *self.window(), self.ceil_mode)
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
        self.window()  # torch checks the arguments at the first forward; here they fail at once

    def window(self) -> tuple[tuple[int, int], ...]:
        """(kernel, stride, padding) as (h, w) pairs, read at every call as torch reads its attributes."""
        args = (pair(self.kernel_size, "kernel_size"), pair(self.stride, "stride"), pair(self.padding, "padding"))
        check_pool("avg", *args)
        if self.divisor_override is not None and self.divisor_override == 0:
            raise RuntimeError("divisor must be not zero")
        return args

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, unbatched = _batched(x, "avg_pool2d")
        y = _AvgPool2dFn.apply(x, *self.window(), self.ceil_mode, self.count_include_pad, self.divisor_override)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
