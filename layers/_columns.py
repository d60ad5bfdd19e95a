"""Unfold and fold, shared by Conv2d and ConvTranspose2d: the cheatsheet's convolution loops over
kernel positions, each position one strided copy (unfold) or one shifted add (fold) of all channels,
samples and pixels at once, in a (channels * kh * kw, N * pixels) layout so each product is one matrix
product."""
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
    at the pixels unfold reads it from: out[s_h i + d_h u, s_w j + d_w v] += cols[u, v][i, j].

    Output row r = s_h i + d_h u only receives kernel rows u with d_h u = r (mod s_h), so the output
    splits into s_h x s_w interleaved grids (phases); on the grid of phase (a, b), kernel position
    (u, v) lands on a block shifted by ((d_h u - a) / s_h, (d_w v - b) / s_w). Each phase is a sum of
    zero-padded shifted blocks and the phases are interleaved back. At stride 1 there is one phase.
    All of it is out of place, which torch.compile fuses into a pass or two; the in-place form (one
    strided add per kernel position) it compiles into one copy of the whole output per position.
    """
    n, c, h_pad, w_pad = padded_shape
    (sh, sw) = stride
    grid = (-(-h_pad // sh), -(-w_pad // sw))  # rows and columns of each phase's grid
    phases = []
    for a in range(sh):
        row = []
        for b in range(sw):
            blocks = list(_shifted_blocks(cols, (a, b), kernel, dilation, stride, grid, out_hw))
            row.append(sum(blocks[1:], blocks[0]) if blocks else cols.new_zeros(cols.shape[0], n, *grid))
        phases.append(torch.stack(row, -1))  # (C, N, grid_h, grid_w, s_w)
    out = torch.stack(phases, 3)  # (C, N, grid_h, s_h, grid_w, s_w): row t of phase a is output row s_h t + a
    return out.reshape(*out.shape[:2], grid[0] * sh, grid[1] * sw)[:, :, :h_pad, :w_pad]


def _shifted_blocks(cols, phase, kernel, dilation, stride, grid, out_hw):
    """The (C, N, oh, ow) blocks of the kernel positions (u, v) that land on `phase`'s grid, each
    zero-padded to the grid at its shift ((d_h u - a) / s_h, (d_w v - b) / s_w)."""
    (a, b), (kh, kw), (dh, dw), (sh, sw), (grid_h, grid_w), (oh, ow) = phase, kernel, dilation, stride, grid, out_hw
    for u in range(kh):
        for v in range(kw):
            if (dh * u) % sh == a and (dw * v) % sw == b:
                top, left = (dh * u - a) // sh, (dw * v - b) // sw
                yield F.pad(cols[:, u, v], (left, grid_w - left - ow, top, grid_h - top - oh))
