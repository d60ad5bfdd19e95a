"""Multi-layer LSTM and GRU built from the step Functions of rnn_cells.py.

Every input, padded or packed, runs as a packed sequence: the time steps' rows stacked (time-major)
with batch_sizes[t] rows active at step t, longest sequences first. For each layer and direction the
input projection of all steps is one matrix product (layers.linear); then the recurrent step runs
over the active rows only, a sequence's last state being kept once it ends (forward direction) or
its state starting from h0 at its last step (reverse direction). Between layers, dropout in training.
"""
from __future__ import annotations

import math
import numbers
import warnings

import torch
from torch import nn
from torch.nn import init
from torch.nn.utils.rnn import PackedSequence

from ._autocast import autocast_dtype
from .dropout import dropout as dropout_fn
from .linear import linear
from .rnn_cells import gru_step, lstm_step


class _RNNBase(nn.Module):
    """torch.nn.LSTM / GRU's arguments, parameter names (weight_ih_l0, weight_hh_l0_reverse, ...),
    registration order and initialization (all ~ U(-1/sqrt(H), 1/sqrt(H)): same seed, same weights)."""

    mode = ""
    gates = 0

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__()
        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        state_size = proj_size if proj_size > 0 else hidden_size
        factory = {"device": device, "dtype": dtype}
        gate_size = self.gates * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else state_size * directions
            for suffix in ("", "_reverse")[:directions]:
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, state_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                if proj_size > 0:
                    shapes["weight_hr"] = (proj_size, hidden_size)
                for name, shape in shapes.items():
                    setattr(self, f"{name}_l{layer}{suffix}", nn.Parameter(torch.empty(shape, **factory)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """torch's cuDNN weight packing; nothing to do here (kept so callers of torch's API work)."""

    def _weights(self, layer: int, reverse: bool, dtype: torch.dtype | None):
        suffix = f"_l{layer}{'_reverse' if reverse else ''}"
        names = ("weight_ih", "bias_ih", "weight_hh", "bias_hh", "weight_hr")
        ws = [getattr(self, name + suffix, None) for name in names]
        if dtype is not None:  # autocast: the products in its low-precision dtype
            ws = [None if w is None else w.to(dtype) for w in ws]
        return ws

    def _direction(self, data, batch_sizes, h0, c0, weights, reverse):
        """Run one direction of one layer over packed rows; (output rows, last h, last c)."""
        w_ih, b_ih, w_hh, b_hh, w_hr = weights
        steps = linear(data, w_ih, b_ih).split(batch_sizes)  # gi for every step, one product
        outputs = [None] * len(batch_sizes)
        if not reverse:
            h, c = h0[: batch_sizes[0]], (None if c0 is None else c0[: batch_sizes[0]])
            ended = []  # (h, c) of sequences that ended, latest last
            for t, rows in enumerate(batch_sizes):
                if rows < h.shape[0]:
                    ended.append((h[rows:], None if c is None else c[rows:]))
                    h, c = h[:rows], (None if c is None else c[:rows])
                h, c = self._step(steps[t], h, c, w_hh, b_hh, w_hr)
                outputs[t] = h
            # rows in order: the still-running ones, then those that ended, most recent first
            h_last = torch.cat([h] + [e[0] for e in reversed(ended)]) if ended else h
            c_last = None if c is None else (torch.cat([c] + [e[1] for e in reversed(ended)]) if ended else c)
        else:
            h, c = h0[: batch_sizes[-1]], (None if c0 is None else c0[: batch_sizes[-1]])
            for t in range(len(batch_sizes) - 1, -1, -1):
                rows = batch_sizes[t]
                if rows > h.shape[0]:  # sequences whose last step is t start here, from h0
                    h = torch.cat([h, h0[h.shape[0] : rows]])
                    c = None if c is None else torch.cat([c, c0[c.shape[0] : rows]])
                h, c = self._step(steps[t], h, c, w_hh, b_hh, w_hr)
                outputs[t] = h
            h_last, c_last = h, c
        return torch.cat(outputs), h_last, c_last

    def _step(self, gi, h, c, w_hh, b_hh, w_hr):
        raise NotImplementedError

    def _states(self, hx, batch: int, unbatched: bool, like: torch.Tensor):
        raise NotImplementedError

    def forward(self, input, hx=None):
        packed = isinstance(input, PackedSequence)
        directions = 2 if self.bidirectional else 1
        unbatched = False
        if packed:
            data, batch_sizes_t, sorted_indices, unsorted_indices = input
            batch_sizes = batch_sizes_t.tolist()
            batch = batch_sizes[0]
        else:
            if input.dim() not in (2, 3):
                raise ValueError(f"{self.mode}: Expected input to be 2D or 3D, got {input.dim()}D instead")
            unbatched = input.dim() == 2
            x = input.unsqueeze(1) if unbatched else (input.transpose(0, 1) if self.batch_first else input)
            steps, batch = x.shape[:2]
            data = x.reshape(steps * batch, x.shape[2])
            batch_sizes = [batch] * steps
            sorted_indices = unsorted_indices = None
        if data.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {data.shape[-1]}")
        h0, c0 = self._states(hx, batch, unbatched, data)
        if sorted_indices is not None:  # the states follow the batch's order; the rows are sorted by length
            h0 = h0.index_select(1, sorted_indices)
            c0 = None if c0 is None else c0.index_select(1, sorted_indices)
        dtype = autocast_dtype(data)
        context = torch.autocast(data.device.type, enabled=False) if dtype is not None else _null()
        with context:
            if dtype is not None:
                data, h0 = data.to(dtype), h0.to(dtype)
                c0 = None if c0 is None else c0.to(dtype)
            h_n, c_n = [], []
            for layer in range(self.num_layers):
                outs = []
                for d in range(directions):
                    k = layer * directions + d
                    out, h, c = self._direction(data, batch_sizes, h0[k], None if c0 is None else c0[k],
                                                self._weights(layer, d == 1, dtype), reverse=d == 1)
                    outs.append(out)
                    h_n.append(h)
                    c_n.append(c)
                data = torch.cat(outs, 1) if directions == 2 else outs[0]
                if self.dropout and layer < self.num_layers - 1:
                    data = dropout_fn(data, self.dropout, self.training)
        h_n = torch.stack(h_n)
        c_n = None if c0 is None else torch.stack(c_n)
        if unsorted_indices is not None:
            h_n = h_n.index_select(1, unsorted_indices)
            c_n = None if c_n is None else c_n.index_select(1, unsorted_indices)
        if packed:
            output = PackedSequence(data, batch_sizes_t, sorted_indices, unsorted_indices)
        else:
            output = data.view(len(batch_sizes), batch, -1)
            if unbatched:
                output, h_n = output.squeeze(1), h_n.squeeze(1)
                c_n = None if c_n is None else c_n.squeeze(1)
            elif self.batch_first:
                output = output.transpose(0, 1)
        return output, (h_n if c_n is None else (h_n, c_n))

    def _check_state(self, s: torch.Tensor, expected: tuple, label: str) -> None:
        if tuple(s.shape) != expected:
            raise RuntimeError(f"Expected {label} size {expected}, got {list(s.shape)}")

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if not self.bias:
            s += ", bias=False"
        if self.batch_first:
            s += ", batch_first=True"
        if self.dropout:
            s += f", dropout={self.dropout}"
        if self.bidirectional:
            s += ", bidirectional=True"
        return s


class _null:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


class LSTM(_RNNBase):
    """Multi-layer LSTM: each layer and direction runs the LSTM step (rnn_cells._LSTMStepFn) over the
    sequence; with proj_size > 0 the state is h W_hr^T (torch's projection). Returns
    (output, (h_n, c_n)) with torch's shapes; a PackedSequence in gives a PackedSequence out."""

    mode = "LSTM"
    gates = 4

    def _step(self, gi, h, c, w_hh, b_hh, w_hr):
        h, c = lstm_step(gi, h, c, w_hh, b_hh)
        return (h if w_hr is None else linear(h, w_hr)), c

    def _states(self, hx, batch, unbatched, like):
        directions = 2 if self.bidirectional else 1
        state = self.proj_size if self.proj_size > 0 else self.hidden_size
        if hx is None:
            h0 = like.new_zeros(self.num_layers * directions, batch, state)
            return h0, like.new_zeros(self.num_layers * directions, batch, self.hidden_size)
        h0, c0 = hx
        if unbatched:
            if h0.dim() != 2 or c0.dim() != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx and cx should also be 2-D but got "
                                   f"({h0.dim()}-D, {c0.dim()}-D) tensors")
            h0, c0 = h0.unsqueeze(1), c0.unsqueeze(1)
        self._check_state(h0, (self.num_layers * directions, batch, state), "hidden[0]")
        self._check_state(c0, (self.num_layers * directions, batch, self.hidden_size), "hidden[1]")
        return h0, c0


class GRU(_RNNBase):
    """Multi-layer GRU: each layer and direction runs the GRU step (rnn_cells._GRUStepFn) over the
    sequence. Returns (output, h_n) with torch's shapes; a PackedSequence in gives one out."""

    mode = "GRU"
    gates = 3

    def __init__(self, *args, **kwargs) -> None:
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__(*args, **kwargs)

    def _step(self, gi, h, c, w_hh, b_hh, w_hr):
        return gru_step(gi, h, w_hh, b_hh), None

    def _states(self, hx, batch, unbatched, like):
        directions = 2 if self.bidirectional else 1
        if hx is None:
            return like.new_zeros(self.num_layers * directions, batch, self.hidden_size), None
        if unbatched:
            if hx.dim() != 2:
                raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor")
            hx = hx.unsqueeze(1)
        self._check_state(hx, (self.num_layers * directions, batch, self.hidden_size), "hidden")
        return hx, None
