"""The cheatsheet's weight penalties, added to the training loss of every zoo model (`model.penalty.*`).

    L1 (lasso):  l1 * sum_j |w_j|
    L2 (ridge):  l2 * sum_j w_j^2

over the weights only. What counts as a weight is decided by module type, torch's classes and refzoo's
hand-written ones alike: the matrices of Linear, Conv, ConvTranspose, Embedding and recurrent layers
(each parameter of theirs whose torch name starts with `weight`: weight, weight_ih_l0, weight_hh, ...).
Biases only shift a prediction, and normalization layers are not in the list, so neither is shrunk.
"""
from __future__ import annotations

import functools
from typing import Iterable, Iterator

import torch
from torch import Tensor, nn

import layers

# layers whose weight model.init sets (models/_regularization.py); the same names in torch.nn and in layers
INIT_NAMES = ("Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
# ... and, with these, the layers whose weights the penalty and the weight noise reach
WEIGHT_NAMES = INIT_NAMES + ("Bilinear", "Embedding", "EmbeddingBag", "RNN", "LSTM", "GRU", "RNNCell",
                             "LSTMCell", "GRUCell")


def layer_classes(names: tuple[str, ...]) -> tuple[type, ...]:
    """torch.nn's and refzoo's layers.* classes of these names (refzoo writes a subset of them)."""
    return tuple(cls for source in (nn, layers) for cls in (getattr(source, name, None) for name in names)
                 if isinstance(cls, type))


@functools.cache  # the classes never change; weights() runs every training step with a penalty on
def weight_layers() -> tuple[type, ...]:
    from .elman import ElmanCell  # the zoo's own recurrent cell: weight = [W_x W_h]

    return layer_classes(WEIGHT_NAMES) + (ElmanCell,)


def weights(module: nn.Module) -> Iterator[Tensor]:
    """Every trainable weight tensor of `module` (see the module docstring), each once."""
    kinds, seen = weight_layers(), set()
    for layer in module.modules():
        if not isinstance(layer, kinds):
            continue
        for name, p in layer.named_parameters(recurse=False):
            if name.startswith("weight") and p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                yield p


def weight_penalty(tensors: Iterable[Tensor], l1: float, l2: float) -> Tensor | None:
    """l1 * sum|w| + l2 * sum w^2 over `tensors`; None when both strengths are 0 (no extra graph)."""
    if not l1 and not l2:
        return None
    total: Tensor | None = None
    for w in tensors:
        term = 0
        if l1:
            term = term + l1 * w.abs().sum()
        if l2:
            term = term + l2 * w.pow(2).sum()
        total = term if total is None else total + term
    return total if total is not None else torch.zeros(())
