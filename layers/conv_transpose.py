"""Transposed 2-D convolution: the adjoint of Conv2d. Its forward is Conv2d's input-gradient
computation (W^T times the input, folded onto the output grid); its backward is a Conv2d forward
(unfold the output gradient, one matrix product) plus the weight gradient from the same columns."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from ._args import pair
from ._autocast import matmul_inputs
from ._columns import fold, group_matmul, unfold
from ._params import check_groups, create_weight_and_bias, reset_conv_parameters


class _ConvTranspose2dFn(torch.autograd.Function):
    """y[n, o, s_h i + d_h u - p_h, s_w j + d_w v - p_w] += W[c, o, u, v] x[n, c, i, j],  then + b[o]

    Per group, with X[c, (n, i, j)] the input as a (c_in/groups, N * pixels) matrix:
        Y_cols = W^T X         rows (o, u, v): what each kernel position sends to the output
        y = crop_p(fold(Y_cols)) + b
    fold adds row (o, u, v) at the pixels (d_h u + s_h i, d_w v + s_w j) of a grid of size
    H_out + 2 p_h by W_out + 2 p_w, and the crop drops p on each side (output_padding adds rows and
    columns at the bottom/right that only the padding reaches). With g = dL/dy and
    G = unfold(pad_p(g)), the same columns Conv2d reads:
        dx = W G          (a Conv2d of g with the same weights)
        dW = X G^T        (summed over the batch and the pixels by the same product)
        db = sum over n, pixels of g
    """

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups, out_hw):
        n, in_c, h, w = x.shape
        _, out_per_group, kh, kw = weight.shape
        (ph, pw), (oh, ow) = padding, out_hw
        x_rows = x.transpose(0, 1).reshape(groups, in_c // groups, n * h * w)
        w_g = weight.view(groups, in_c // groups, -1)  # (groups, c_in/groups, c_out/groups * kh * kw)
        cols = group_matmul(w_g.transpose(1, 2), x_rows)  # (groups, c_out/groups * kh * kw, N * pixels)
        cols = cols.view(groups * out_per_group, kh, kw, n, h, w)
        full = fold(cols, (n, groups * out_per_group, oh + 2 * ph, ow + 2 * pw), (kh, kw), dilation, stride, (h, w))
        y = full[:, :, ph : ph + oh, pw : pw + ow].transpose(0, 1).contiguous()
        if bias is not None:
            y += bias.view(1, -1, 1, 1)
        ctx.save_for_backward(x_rows, weight)
        ctx.conf = (x.shape, stride, padding, dilation, groups, bias is not None)
        return y

    @staticmethod
    @once_differentiable  # the columns of g are an intermediate: no graph through them
    def backward(ctx, g):
        x_rows, weight = ctx.saved_tensors
        x_shape, stride, (ph, pw), dilation, groups, has_bias = ctx.conf
        n, in_c, h, w = x_shape
        kh, kw = weight.shape[2:]
        g_pad = F.pad(g, (pw, pw, ph, ph)) if ph or pw else g
        g_cols = unfold(g_pad, (kh, kw), dilation, stride, (h, w)).view(groups, -1, n * h * w)
        w_g = weight.view(groups, in_c // groups, -1)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            dx = group_matmul(w_g, g_cols).view(in_c, n, h, w).transpose(0, 1).contiguous()
        if ctx.needs_input_grad[1]:
            dw = group_matmul(x_rows, g_cols.transpose(1, 2)).view(weight.shape)
        if has_bias and ctx.needs_input_grad[2]:
            db = g.sum((0, 2, 3))
        return dx, dw, db, None, None, None, None, None


class ConvTranspose2d(nn.Module):
    """y[n, o, s_h i + d_h u - p_h, s_w j + d_w v - p_w] += W[c, o, u, v] x[n, c, i, j]  (+ b[o])

    The adjoint of Conv2d with the same stride, padding and dilation: each input pixel spreads its
    kernel-weighted copy over the output. H_out = (H - 1) s_h - 2 p_h + d_h (k_h - 1) + output_padding_h + 1.
    torch.nn.ConvTranspose2d's arguments, attributes, parameter names (weight (c_in, c_out/groups, kh,
    kw)) and initialization (same seed, same weights); `forward(x, output_size=None)` as torch's.
    padding: int or pair; padding_mode: 'zeros' (the only one torch has for it).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, output_padding=0,
                 groups: int = 1, bias: bool = True, dilation=1, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        super().__init__()
        check_groups(in_channels, out_channels, groups)
        if padding_mode != "zeros":
            raise ValueError('Only "zeros" padding mode is supported for ConvTranspose2d')
        if isinstance(padding, str):  # torch accepts it here and fails at the first forward
            raise TypeError(f"ConvTranspose2d padding must be an int or a pair of ints, got {padding!r}")
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding")
        self.dilation = pair(dilation, "dilation")
        self.output_padding = pair(output_padding, "output_padding")
        # the checks torch's kernel makes at the first forward, made once here with its wording
        if min(self.stride) <= 0:
            raise RuntimeError("non-positive stride is not supported")
        if min(self.dilation) <= 0:
            raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: {self.dilation[0]}, "
                               f"dilation_width: {self.dilation[1]}")
        if min(self.padding) < 0:
            raise RuntimeError("negative padding is not supported")
        if min(self.output_padding) < 0:
            raise RuntimeError("negative output_padding is not supported")
        self._check_output_padding(self.output_padding)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = True
        create_weight_and_bias(self, (in_channels, out_channels // groups, *self.kernel_size), out_channels, bias,
                               device, dtype)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset_conv_parameters(self)

    def _check_output_padding(self, output_padding) -> None:
        (oph, opw), (sh, sw), (dh, dw) = output_padding, self.stride, self.dilation
        if (oph >= sh and oph >= dh) or (opw >= sw and opw >= dw):
            raise RuntimeError(f"output padding must be smaller than either stride or dilation, but got "
                               f"output_padding_height: {oph} output_padding_width: {opw} stride_height: {sh} "
                               f"stride_width: {sw} dilation_height: {dh} dilation_width: {dw}")

    def _smallest_out(self, in_hw) -> list[int]:
        """H_out without output padding: (H - 1) s - 2 p + d (k - 1) + 1, per axis."""
        return [(size - 1) * s - 2 * p + d * (k - 1) + 1
                for size, s, p, d, k in zip(in_hw, self.stride, self.padding, self.dilation, self.kernel_size)]

    def _output_padding(self, x: torch.Tensor, output_size) -> tuple[int, int]:
        """output_padding, or the one that gives `output_size` (torch's ConvTranspose2d.forward rule)."""
        if output_size is None:
            return self.output_padding
        output_size = list(output_size)
        if len(output_size) not in (2, x.dim()):
            raise ValueError(f"ConvTranspose2D: for {x.dim()}D input, output_size must have 2 or {x.dim()} "
                             f"elements (got {len(output_size)})")
        wanted = [int(s) for s in output_size[-2:]]
        smallest = self._smallest_out(x.shape[-2:])
        largest = [m + s - 1 for m, s in zip(smallest, self.stride)]
        if any(not lo <= want <= hi for want, lo, hi in zip(wanted, smallest, largest)):
            raise ValueError(f"requested an output size of {wanted}, but valid sizes range from {smallest} to "
                             f"{largest} (for an input of {x.shape[-2:]})")
        return wanted[0] - smallest[0], wanted[1] - smallest[1]

    def forward(self, x: torch.Tensor, output_size=None) -> torch.Tensor:
        if x.dim() not in (3, 4):
            raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, but got input "
                               f"of size: {list(x.shape)}")
        output_padding = self._output_padding(x, output_size)
        unbatched = x.dim() == 3
        if unbatched:
            x = x.unsqueeze(0)
        if x.shape[1] != self.in_channels:
            raise RuntimeError(f"Given transposed=1, weight of size {list(self.weight.shape)}, expected "
                               f"input{list(x.shape)} to have {self.in_channels} channels, but got "
                               f"{x.shape[1]} channels instead")
        out_hw = tuple(m + op for m, op in zip(self._smallest_out(x.shape[2:]), output_padding))
        if min(out_hw) < 1:
            raise RuntimeError(f"Given input size per channel: ({x.shape[2]} x {x.shape[3]}). Calculated output "
                               f"size per channel: ({out_hw[0]} x {out_hw[1]}). Output size is too small")
        context, x, weight, bias = matmul_inputs(x, self.weight, self.bias)
        with context:
            y = _ConvTranspose2dFn.apply(x, weight, bias, self.stride, self.padding, self.dilation, self.groups,
                                         out_hw)
        return y.squeeze(0) if unbatched else y

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
