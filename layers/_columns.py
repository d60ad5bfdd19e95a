"""Unfold and fold, shared by Conv2d and ConvTranspose2d: the cheatsheet's convolution loops over
kernel positions, each position one strided copy (unfold) or add (fold) of all channels, samples and
pixels at once, in a (channels * kh * kw, N * pixels) layout so each product is one matrix product."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def group_matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a[k] @ b[k] for each group k; one plain matrix product when there is one group (torch's
    batched product with a batch of one runs at about half the speed of the plain one)."""
    if a.shape[0] == 1:
        return (a[0] @ b[0]).unsqueeze(0)
    return torch.bmm(a, b)


def offsets(kernel, dilation, stride, out_hw):
    """For each kernel position (u, v): the strided slices of the padded input it reads, i.e. the
    pixels x_pad[d_h u + s_h i, d_w v + s_w j] for every output pixel (i, j)."""
    (kh, kw), (dh, dw), (sh, sw), (oh, ow) = kernel, dilation, stride, out_hw
    for u in range(kh):
        for v in range(kw):
            yield u, v, (slice(u * dh, u * dh + sh * (oh - 1) + 1, sh), slice(v * dw, v * dw + sw * (ow - 1) + 1, sw))


def unfold(x_pad: torch.Tensor, kernel, dilation, stride, out_hw) -> torch.Tensor:
    """(N, C, H_pad, W_pad) -> (C, kh, kw, N, oh, ow): row (c, u, v) holds x_pad[n, c, d_h u + s_h i,
    d_w v + s_w j] for every output pixel (i, j) of every sample n."""
    x_cn = x_pad.transpose(0, 1)  # (c, n, H, W) view
    # stacked out of place, which torch.compile fuses into one copy
    cols = torch.stack([x_cn[(slice(None), slice(None), *window)]
                        for _, _, window in offsets(kernel, dilation, stride, out_hw)], 1)
    return cols.view(x_cn.shape[0], *kernel, *cols.shape[2:])


def fold(cols: torch.Tensor, padded_shape, kernel, dilation, stride, out_hw) -> torch.Tensor:
    """unfold's adjoint: (C, kh, kw, N, oh, ow) -> (C, N, H_pad, W_pad), each row (c, u, v) added back
    at the pixels unfold reads it from."""
    n, c, h_pad, w_pad = padded_shape
    if tuple(stride) == (1, 1):
        # each kernel position's rows land on a shifted block: a sum of zero-padded shifts, out of
        # place, which torch.compile fuses into one pass (in-place strided adds it cannot)
        out = None
        for u, v, (rows, cols_) in offsets(kernel, dilation, stride, out_hw):
            term = F.pad(cols[:, u, v], (cols_.start, w_pad - cols_.stop, rows.start, h_pad - rows.stop))
            out = term if out is None else out + term
        return out
    out = cols.new_zeros(c, n, h_pad, w_pad)
    for u, v, window in offsets(kernel, dilation, stride, out_hw):
        out[(slice(None), slice(None), *window)] += cols[:, u, v]
    return out
