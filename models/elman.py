"""The Elman recurrent cell, written out (the cheatsheet's vanilla RNN).

    h_t = f(W [x_t, h_{t-1}] + b)          f = tanh by default

One weight matrix W of shape (hidden, input + hidden) acts on the concatenation of the input and
the previous hidden state. Splitting it as W = [W_x, W_h] gives the same number as
W_x x_t + W_h h_{t-1} + b; the input half is applied to every step at once (one matrix product
over the whole sequence), and only W_h h_{t-1} stays inside the loop over time.
"""
from __future__ import annotations

import math
from types import SimpleNamespace

import torch
from torch import Tensor, nn

from ._blocks import TORCH_LAYERS, activation


class ElmanCell(nn.Module):
    """One step h_t = f(W [x_t, h_{t-1}] + b); `forward(x, h)` with x (B, input), h (B, hidden)."""

    def __init__(self, input_size: int, hidden_size: int, nonlinearity: str = "tanh"):
        super().__init__()
        if int(input_size) < 1 or int(hidden_size) < 1:
            raise ValueError(f"ElmanCell sizes must be positive, got input_size={input_size}, hidden_size={hidden_size}")
        self.input_size = int(input_size)
        self.hidden_size = int(hidden_size)
        self.weight = nn.Parameter(torch.empty(self.hidden_size, self.input_size + self.hidden_size))
        self.bias = nn.Parameter(torch.empty(self.hidden_size))
        self.f = activation(nonlinearity)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # U(-1/sqrt(H), 1/sqrt(H)), the usual initialisation of recurrent cells
        bound = 1.0 / math.sqrt(self.hidden_size)
        nn.init.uniform_(self.weight, -bound, bound)
        nn.init.uniform_(self.bias, -bound, bound)

    @property
    def w_x(self) -> Tensor:
        return self.weight[:, : self.input_size]

    @property
    def w_h(self) -> Tensor:
        return self.weight[:, self.input_size:]

    def project_inputs(self, x: Tensor) -> Tensor:
        """W_x x_t + b for every step of x (..., input) at once."""
        return torch.addmm(self.bias, x.reshape(-1, self.input_size), self.w_x.t()).view(*x.shape[:-1], -1)

    def step(self, x_proj: Tensor, h: Tensor) -> Tensor:
        """h_t = f(x_proj_t + W_h h_{t-1}), x_proj_t = W_x x_t + b already computed."""
        return self.f(torch.addmm(x_proj, h, self.w_h.t()))

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        if h is None:
            h = x.new_zeros(x.shape[0], self.hidden_size)
        return self.step(self.project_inputs(x), h)


class Elman(nn.Module):
    """Stacked (optionally bidirectional) Elman layers over batch-first sequences.

    `forward(x, lengths=None)` with x (B, T, input) returns the final hidden state of every
    sequence, (B, directions * hidden): the state after its last real step. With `lengths` the
    loop is masked: a sequence that has ended keeps its state, so padding never reaches it. The
    backward direction reads each sequence reversed within its own length.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bidirectional: bool = False,
                 nonlinearity: str = "tanh", dropout: float = 0.0, nn_: SimpleNamespace = TORCH_LAYERS):
        super().__init__()
        if int(num_layers) < 1:
            raise ValueError(f"model.num_layers must be a positive integer, got {num_layers}")
        self.hidden_size = int(hidden_size)
        self.num_layers = int(num_layers)
        self.directions = 2 if bidirectional else 1
        self.dropout = nn_.Dropout(dropout) if dropout > 0 else nn.Identity()
        cells = []
        for layer in range(self.num_layers):
            width = input_size if layer == 0 else self.hidden_size * self.directions
            cells.extend(ElmanCell(width, self.hidden_size, nonlinearity) for _ in range(self.directions))
        self.cells = nn.ModuleList(cells)

    @staticmethod
    def _reverse(x: Tensor, lengths: Tensor | None) -> Tensor:
        """Each sequence reversed within its length (padding stays at the end)."""
        if lengths is None:
            return x.flip(1)
        t = torch.arange(x.shape[1], device=x.device)
        lens = lengths.to(x.device).unsqueeze(1)
        idx = torch.where(t < lens, lens - 1 - t, t)  # (B, T)
        return x.gather(1, idx.unsqueeze(-1).expand_as(x))

    def _run(self, cell: ElmanCell, x: Tensor, mask: Tensor | None) -> tuple[Tensor, Tensor]:
        proj = cell.project_inputs(x)
        h = x.new_zeros(x.shape[0], self.hidden_size)
        outputs = []
        for t in range(x.shape[1]):
            h_new = cell.step(proj[:, t], h)
            h = h_new if mask is None else torch.where(mask[:, t:t + 1], h_new, h)
            outputs.append(h)
        return torch.stack(outputs, 1), h

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        mask = None
        if lengths is not None:
            mask = torch.arange(x.shape[1], device=x.device).unsqueeze(0) < lengths.to(x.device).unsqueeze(1)
        finals: list[Tensor] = []
        for layer in range(self.num_layers):
            if layer > 0:
                x = self.dropout(x)
            outs, finals = [], []
            for d in range(self.directions):
                cell = self.cells[layer * self.directions + d]
                seq = x if d == 0 else self._reverse(x, lengths)
                out, h = self._run(cell, seq, mask)
                outs.append(out if d == 0 else self._reverse(out, lengths))
                finals.append(h)
            x = torch.cat(outs, -1) if self.directions > 1 else outs[0]
        return torch.cat(finals, -1)
