"""`model.layers: torch | refzoo`: which classes build a model's layers.

    nn = layers.nn_for(cfg_layers)     # "torch" -> torch.nn's classes, "refzoo" -> ours
    conv = nn.Conv2d(1, 32, 3, padding="same")

Both namespaces carry the same names with the same constructor arguments, so a model is written once.
"""
from __future__ import annotations

from types import SimpleNamespace

from torch import nn

LAYER_KINDS = ("torch", "refzoo")
LAYER_NAMES = ("Linear", "Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d", "BatchNorm2d",
               "Dropout", "Embedding", "LSTM", "GRU", "LSTMCell", "GRUCell")


def nn_for(kind: str) -> SimpleNamespace:
    """A namespace with LAYER_NAMES as attributes: torch.nn's classes for "torch", layers' for "refzoo"."""
    if kind == "torch":
        source = nn
    elif kind == "refzoo":
        import layers as source
    else:
        raise ValueError(f"model.layers must be one of {', '.join(LAYER_KINDS)}; got {kind!r}")
    return SimpleNamespace(kind=kind, **{name: getattr(source, name) for name in LAYER_NAMES})
