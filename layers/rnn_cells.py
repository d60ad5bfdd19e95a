"""LSTM and GRU cells: torch's gate order and parameter names, the gate derivatives written out.

A step takes the input's projection gi = x W_ih^T + b_ih already made (by `linear`), so that a
layer can project all time steps in one matrix product; the recurrent part is the step Function.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import init

from activations.sigmoid import sigmoid
from activations.tanh import tanh

from ._autocast import matmul_inputs
from .linear import linear


class _LSTMStepFn(torch.autograd.Function):
    """a = gi + h W_hh^T + b_hh,  split in torch's order (i, f, g, o):
        i = s(a_i), f = s(a_f), g = tanh(a_g), o = s(a_o)          (s = sigmoid)
        c' = f * c + i * g,   h' = o * tanh(c')

    backward, with dh', dc' the gradients of h' and c':
        dc  = dc' + dh' * o * (1 - tanh(c')^2)                        (all the gradient reaching c')
        da_i = dc * g * i(1 - i),   da_f = dc * c * f(1 - f),
        da_g = dc * i * (1 - g^2),  da_o = dh' * tanh(c') * o(1 - o)
        dgi = da,  dh = da W_hh,  dc_prev = dc * f,  dW_hh = da^T h,  db_hh = sum over rows of da
    """

    @staticmethod
    def forward(ctx, gi, h, c, w_hh, b_hh):
        a = torch.addmm(gi, h, w_hh.t())
        if b_hh is not None:
            a += b_hh
        size = c.shape[1]  # the cell size; h is smaller under a projection (torch's proj_size)
        gates = sigmoid(a)
        gates[:, 2 * size : 3 * size] = tanh(a[:, 2 * size : 3 * size])
        i, f, g, o = gates.chunk(4, 1)
        c_new = torch.addcmul(f * c, i, g)
        tanh_c = tanh(c_new)
        h_new = o * tanh_c
        ctx.save_for_backward(gates, c, tanh_c, h, w_hh)
        ctx.has_bias = b_hh is not None
        return h_new, c_new

    @staticmethod
    @once_differentiable
    def backward(ctx, dh_new, dc_new):
        gates, c, tanh_c, h, w_hh = ctx.saved_tensors
        i, f, g, o = gates.chunk(4, 1)
        dc = dc_new + dh_new * o * (1 - tanh_c * tanh_c)
        da = torch.cat([dc * g * i * (1 - i), dc * c * f * (1 - f), dc * i * (1 - g * g),
                        dh_new * tanh_c * o * (1 - o)], 1)
        dh = da @ w_hh if ctx.needs_input_grad[1] else None
        dc_prev = dc * f if ctx.needs_input_grad[2] else None
        dw_hh = da.t() @ h if ctx.needs_input_grad[3] else None
        db_hh = da.sum(0) if ctx.has_bias and ctx.needs_input_grad[4] else None
        return da, dh, dc_prev, dw_hh, db_hh


class _GRUStepFn(torch.autograd.Function):
    """gh = h W_hh^T + b_hh;  gi and gh split in torch's order (r, z, n):
        r = s(gi_r + gh_r),  z = s(gi_z + gh_z),  n = tanh(gi_n + r * gh_n)
        h' = (1 - z) * n + z * h

    backward, with dh' the gradient of h':
        dz = dh' (h - n),   dn = dh' (1 - z),   da_n = dn (1 - n^2),   dr = da_n gh_n
        da_r = dr r(1 - r),   da_z = dz z(1 - z)
        dgi = (da_r, da_z, da_n),   dgh = (da_r, da_z, da_n * r)
        dh = dh' z + dgh W_hh,   dW_hh = dgh^T h,   db_hh = sum over rows of dgh
    """

    @staticmethod
    def forward(ctx, gi, h, w_hh, b_hh):
        gh = h @ w_hh.t() if b_hh is None else torch.addmm(b_hh, h, w_hh.t())
        size = h.shape[1]
        rz = sigmoid(gi[:, : 2 * size] + gh[:, : 2 * size])
        r, z = rz.chunk(2, 1)
        gh_n = gh[:, 2 * size :]
        n = tanh(torch.addcmul(gi[:, 2 * size :], r, gh_n))
        h_new = torch.addcmul(n, z, h - n)  # (1 - z) n + z h
        ctx.save_for_backward(rz, n, gh_n, h, w_hh)
        ctx.has_bias = b_hh is not None
        return h_new

    @staticmethod
    @once_differentiable
    def backward(ctx, dh_new):
        rz, n, gh_n, h, w_hh = ctx.saved_tensors
        r, z = rz.chunk(2, 1)
        da_n = dh_new * (1 - z) * (1 - n * n)
        da_r = da_n * gh_n * r * (1 - r)
        da_z = dh_new * (h - n) * z * (1 - z)
        dgi = torch.cat([da_r, da_z, da_n], 1)
        dgh = torch.cat([da_r, da_z, da_n * r], 1)
        dh = torch.addmm(dh_new * z, dgh, w_hh) if ctx.needs_input_grad[1] else None
        dw_hh = dgh.t() @ h if ctx.needs_input_grad[2] else None
        db_hh = dgh.sum(0) if ctx.has_bias and ctx.needs_input_grad[3] else None
        return dgi, dh, dw_hh, db_hh


def lstm_step(gi, h, c, w_hh, b_hh):
    """(h', c') from the input projection gi and the state (h, c); see _LSTMStepFn."""
    return _LSTMStepFn.apply(gi, h, c, w_hh, b_hh)


def gru_step(gi, h, w_hh, b_hh):
    """h' from the input projection gi and the state h; see _GRUStepFn."""
    return _GRUStepFn.apply(gi, h, w_hh, b_hh)


class _CellBase(nn.Module):
    """torch.nn.RNNCellBase's parameters: weight_ih (G*H, I), weight_hh (G*H, H), bias_ih, bias_hh,
    all ~ U(-1/sqrt(H), 1/sqrt(H)), drawn in that order (same seed, same weights as torch)."""

    gates = 0

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = nn.Parameter(torch.empty((self.gates * hidden_size, input_size), **factory))
        self.weight_hh = nn.Parameter(torch.empty((self.gates * hidden_size, hidden_size), **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(self.gates * hidden_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(self.gates * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _check(self, x: torch.Tensor, states: tuple[torch.Tensor, ...]) -> bool:
        """torch's checks; True when x is one unbatched sample."""
        name = type(self).__name__
        if x.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {x.dim()}D instead")
        for k, s in enumerate(states):
            if s is not None and s.dim() != x.dim():
                raise ValueError(f"{name}: Expected hidden{'' if len(states) == 1 else f'[{k}]'} to be "
                                 f"{x.dim()}D, got {s.dim()}D instead")
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x.shape[-1]} expected {self.input_size}")
        for k, s in enumerate(states):
            if s is None:
                continue
            if x.dim() == 2 and s.shape[0] != x.shape[0]:
                raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden{k} batch size {s.shape[0]}")
            if s.shape[-1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {s.shape[-1]}, "
                                   f"expected {self.hidden_size}")
        return x.dim() == 1

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        return s if self.bias else s + ", bias=False"


class LSTMCell(_CellBase):
    """One LSTM step (h', c') = cell(x, (h, c)), the gates i, f, g, o as in _LSTMStepFn with
    gi = x W_ih^T + b_ih. (h, c) defaults to zeros."""

    gates = 4

    def forward(self, x: torch.Tensor, hx: tuple[torch.Tensor, torch.Tensor] | None = None):
        h, c = hx if hx is not None else (None, None)
        unbatched = self._check(x, (h, c))
        if unbatched:
            x = x.unsqueeze(0)
            h, c = (None, None) if hx is None else (h.unsqueeze(0), c.unsqueeze(0))
        if h is None:
            h = c = x.new_zeros(x.shape[0], self.hidden_size)
        context, x, w_ih, b_ih, w_hh, b_hh, h, c = matmul_inputs(x, self.weight_ih, self.bias_ih, self.weight_hh,
                                                                 self.bias_hh, h, c)
        with context:
            h, c = lstm_step(linear(x, w_ih, b_ih), h, c, w_hh, b_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    """One GRU step h' = cell(x, h), the gates r, z, n as in _GRUStepFn with gi = x W_ih^T + b_ih.
    h defaults to zeros."""

    gates = 3

    def forward(self, x: torch.Tensor, hx: torch.Tensor | None = None) -> torch.Tensor:
        unbatched = self._check(x, (hx,))
        if unbatched:
            x = x.unsqueeze(0)
            hx = None if hx is None else hx.unsqueeze(0)
        h = hx if hx is not None else x.new_zeros(x.shape[0], self.hidden_size)
        context, x, w_ih, b_ih, w_hh, b_hh, h = matmul_inputs(x, self.weight_ih, self.bias_ih, self.weight_hh,
                                                              self.bias_hh, h)
        with context:
            h = gru_step(linear(x, w_ih, b_ih), h, w_hh, b_hh)
        return h.squeeze(0) if unbatched else h
