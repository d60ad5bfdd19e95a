"""2-D convolution as the cheatsheet's loops vectorized: unfold the input into columns, one matrix
product with the weights; the backward folds the columns' gradient back onto the input."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from ._args import pair
from ._autocast import matmul_inputs
from ._columns import fold, group_matmul, unfold
from ._params import check_groups, create_weight_and_bias, reset_conv_parameters

PADDING_MODES = ("zeros",)
TORCH_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _Conv2dFn(torch.autograd.Function):
    """z[n, o, p] = b[o] + sum_k W[o, k] X[k, n, p]

    X = unfold(x_pad): row k = (c, u, v) holds x_pad[n, c, d_h u + s_h i, d_w v + s_w j] for every
    output pixel p = (i, j) of every sample n, so the convolution is one matrix product per group,
    (c_out/groups, k) x (k, N * pixels). With g = dL/dz:
        dW = g X^T          (summed over the batch and the pixels by the same product)
        db = sum over n, p of g
        dX = W^T g,  dx = fold(dX): each row k of dX added back where unfold read it
    `pads` = (top, bottom, left, right): torch's 'same' puts the odd extra pixel at the bottom/right.
    unfold and fold run over the kh x kw kernel positions, each one strided copy or add of all
    channels, samples and pixels at once; the layout (k, N * pixels) makes every product one
    large matrix product.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, pads, dilation, groups):
        top, bottom, left, right = pads
        x_pad = F.pad(x, (left, right, top, bottom)) if any(pads) else x
        n, c = x.shape[:2]
        out_c, _, kh, kw = weight.shape
        out_hw = [(size - d * (k - 1) - 1) // s + 1
                  for size, k, s, d in zip(x_pad.shape[2:], (kh, kw), stride, dilation)]
        cols = unfold(x_pad, (kh, kw), dilation, stride, out_hw).view(groups, -1, n * out_hw[0] * out_hw[1])
        z = group_matmul(weight.view(groups, out_c // groups, -1), cols)  # (groups, c_out/groups, N * pixels)
        z = z.view(out_c, n, *out_hw).transpose(0, 1).contiguous()
        if bias is not None:
            z += bias.view(1, -1, 1, 1)
        ctx.save_for_backward(cols, weight)
        ctx.conf = (x.shape, x_pad.shape, stride, (top, left), dilation, groups, bias is not None)
        return z

    @staticmethod
    @once_differentiable  # the columns are an intermediate: no graph back to x through dW
    def backward(ctx, g):
        cols, weight = ctx.saved_tensors
        x_shape, padded_shape, stride, (top, left), dilation, groups, has_bias = ctx.conf
        out_c, _, kh, kw = weight.shape
        out_hw = g.shape[2:]
        g_rows = g.transpose(0, 1).reshape(groups, out_c // groups, -1)  # (groups, c_out/groups, N * pixels)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            d_cols = group_matmul(weight.view(groups, out_c // groups, -1).transpose(1, 2), g_rows)
            d_cols = d_cols.view(x_shape[1], kh, kw, x_shape[0], *out_hw)
            dx_cn = fold(d_cols, padded_shape, (kh, kw), dilation, stride, out_hw)
            dx = dx_cn[:, :, top : top + x_shape[2], left : left + x_shape[3]].transpose(0, 1).contiguous()
        if ctx.needs_input_grad[1]:
            dw = group_matmul(g_rows, cols.transpose(1, 2)).view(weight.shape)
        if has_bias and ctx.needs_input_grad[2]:
            db = g.sum((0, 2, 3))
        return dx, dw, db, None, None, None, None


class Conv2d(nn.Module):
    """z[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] x[n, c, s_h i + d_h u - p_t, s_w j + d_w v - p_l]

    torch.nn.Conv2d's arguments, attributes, parameter names and initialization (same seed, same
    weights). padding: int, pair, 'valid' or 'same'. padding_mode: 'zeros' only.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None) -> None:
        super().__init__()
        check_groups(in_channels, out_channels, groups)
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.dilation = pair(dilation, "dilation")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {{'same', 'valid'}}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = pair(padding, "padding")
        if padding_mode not in TORCH_PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {set(TORCH_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"layers.Conv2d supports padding_mode='zeros' only, got padding_mode="
                             f"'{padding_mode}' (use torch.nn.Conv2d for it)")
        if min(self.stride) <= 0:
            raise RuntimeError("non-positive stride is not supported")
        if min(self.dilation) <= 0:
            raise RuntimeError("non-positive dilation is not supported")
        if not isinstance(padding, str) and min(padding) < 0:
            raise RuntimeError("negative padding is not supported")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.padding = padding
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = False
        self.output_padding = (0, 0)
        create_weight_and_bias(self, (out_channels, in_channels // groups, *self.kernel_size), out_channels, bias,
                               device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_conv_parameters(self)

    def _pads(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right)."""
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            pads = []
            for k, d in zip(self.kernel_size, self.dilation):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return tuple(pads)
        ph, pw = self.padding
        return (ph, ph, pw, pw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() not in (3, 4):
            raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of "
                               f"size: {list(x.shape)}")
        unbatched = x.dim() == 3
        if unbatched:
            x = x.unsqueeze(0)
        if x.shape[1] != self.in_channels:
            raise RuntimeError(f"Given groups={self.groups}, weight of size {list(self.weight.shape)}, expected "
                               f"input{list(x.shape)} to have {self.in_channels} channels, but got "
                               f"{x.shape[1]} channels instead")
        top, bottom, left, right = pads = self._pads()
        kh = self.dilation[0] * (self.kernel_size[0] - 1) + 1
        kw = self.dilation[1] * (self.kernel_size[1] - 1) + 1
        if x.shape[2] + top + bottom < kh or x.shape[3] + left + right < kw:
            raise RuntimeError(f"Calculated padded input size per channel: ({x.shape[2] + top + bottom} x "
                               f"{x.shape[3] + left + right}). Kernel size: ({kh} x {kw}). Kernel size can't be "
                               "greater than actual input size")
        context, x, weight, bias = matmul_inputs(x, self.weight, self.bias)
        with context:
            z = _Conv2dFn.apply(x, weight, bias, self.stride, pads, self.dilation, self.groups)
        return z.squeeze(0) if unbatched else z

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
