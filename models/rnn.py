"""Recurrent classifier, many-to-one: read a sequence, classify it from the final hidden state.

    h_t = f(W [x_t, h_{t-1}] + b)   (cell=elman, hand-written in models/elman.py)
    yhat = softmax(V h_T + c)       (the softmax lives inside the cross-entropy loss)

cell=lstm|gru use the LSTM/GRU of `layers` (torch: torch.nn's, refzoo: the hand-written ones, as for
the embedding, dropout and head). Two kinds of input:
- images (B, C, H, W): the rows are the time steps, H steps of C*W features;
- characters (B, T) as integer codes padded with 0 plus their lengths (B,): an embedding
  (padding_idx=0), then lstm/gru on a packed sequence, or the Elman loop masked past each length.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence

from layers import nn_for

from ._blocks import TORCH_LAYERS
from ._classifier import ClassifierModule
from .elman import Elman

CELLS = ("elman", "lstm", "gru")


class RecurrentNet(nn.Module):
    """(x[, lengths]) -> logits; see the module docstring for the two input kinds."""

    def __init__(self, input_shape: Sequence[int] | None, num_classes: int, cell: str = "elman",
                 hidden_size: int = 128, num_layers: int = 1, embedding_dim: int = 64,
                 vocab_size: int | None = None, bidirectional: bool = False, dropout: float = 0.0,
                 activation: str = "tanh", nn_: SimpleNamespace = TORCH_LAYERS):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"model.cell must be one of {', '.join(CELLS)}; got {cell!r}")
        if int(hidden_size) < 1 or int(num_layers) < 1:
            raise ValueError(f"model.hidden_size and model.num_layers must be positive, got {hidden_size}, {num_layers}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
        self.cell = cell
        if vocab_size is not None:
            if int(vocab_size) < 2:
                raise ValueError(f"model.vocab_size must be at least 2 (code 0 is padding), got {vocab_size}")
            self.embedding = nn_.Embedding(int(vocab_size), int(embedding_dim), padding_idx=0)
            features = int(embedding_dim)
        else:
            if input_shape is None or len(input_shape) != 3:
                raise ValueError(f"model=rnn reads images (C, H, W) row by row, or characters when "
                                 f"model.vocab_size is set; got input_shape={input_shape} and vocab_size=null")
            self.embedding = None
            channels, _, width = (int(s) for s in input_shape)
            features = channels * width
        layer_dropout = float(dropout) if int(num_layers) > 1 else 0.0
        if cell == "elman":
            self.rnn = Elman(features, hidden_size, num_layers, bidirectional, activation, layer_dropout, nn_)
        else:
            kind = nn_.LSTM if cell == "lstm" else nn_.GRU
            self.rnn = kind(features, int(hidden_size), int(num_layers), batch_first=True,
                            dropout=layer_dropout, bidirectional=bool(bidirectional))
        self.num_layers = int(num_layers)
        self.directions = 2 if bidirectional else 1
        self.dropout = nn_.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn_.Linear(int(hidden_size) * self.directions, int(num_classes))

    @staticmethod
    def rows_as_steps(x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B, H, C*W): row t of every channel side by side is step t."""
        b, c, h, w = x.shape
        return x.permute(0, 2, 1, 3).reshape(b, h, c * w)

    def _final_state(self, seq: Tensor, lengths: Tensor | None) -> Tensor:
        if self.cell == "elman":
            return self.rnn(seq, lengths)
        if lengths is not None:
            # pack_padded_sequence wants the lengths on the CPU
            seq = pack_padded_sequence(seq, lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, h_n = self.rnn(seq)
        if isinstance(h_n, tuple):  # LSTM: (h_n, c_n)
            h_n = h_n[0]
        # h_n: (layers * directions, B, H), already in the batch's own order; take the top layer
        last = h_n.view(self.num_layers, self.directions, *h_n.shape[1:])[-1]
        return last.permute(1, 0, 2).reshape(last.shape[1], -1)

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if self.embedding is not None:
            if x.dim() != 2 or x.is_floating_point():
                raise ValueError(f"with model.vocab_size set, model=rnn expects integer codes (B, T); got {tuple(x.shape)} {x.dtype}")
            seq = self.embedding(x)
        else:
            if x.dim() != 4:
                raise ValueError(f"model=rnn expects images (B, C, H, W) or set model.vocab_size for characters; got {tuple(x.shape)}")
            seq = self.rows_as_steps(x)
        return self.head(self.dropout(self._final_state(seq, lengths)))


class RNN(ClassifierModule):
    def __init__(self, input_shape: Sequence[int] | None, num_classes: int, optimizer, loss: nn.Module,
                 cell: str = "elman", hidden_size: int = 128, num_layers: int = 1, embedding_dim: int = 64,
                 vocab_size: int | None = None, bidirectional: bool = False, dropout: float = 0.0,
                 activation: str = "tanh", compile: bool = False, layers: str = "torch",
                 penalty: dict | None = None, noise: dict | None = None, init: str = "torch",
                 init_bias: float | None = None):
        super().__init__(optimizer=optimizer, loss=loss, num_classes=num_classes, compile=compile)
        self.save_hyperparameters(ignore=["optimizer", "loss"])
        self.net = RecurrentNet(input_shape, num_classes, cell, hidden_size, num_layers, embedding_dim,
                                vocab_size, bidirectional, dropout, activation, nn_for(self.hparams.layers))
        self.regularize(penalty, noise, init, init_bias)  # model.penalty/noise/init (models/_regularization.py)
