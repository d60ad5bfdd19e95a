"""Small building blocks shared by the models: activation by name, an MLP stack.

Builders take `nn_`, the namespace of layer classes that `model.layers` chose (layers.nn_for:
torch.nn's classes or the hand-written ones), and write `nn_.Linear(...)` where they would write
`nn.Linear(...)`; containers (Sequential, Flatten) stay torch.nn's.
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Sequence

from torch import nn

from layers import nn_for

TORCH_LAYERS = nn_for("torch")


def activation(name: str, **kwargs) -> nn.Module:
    """The hand-written activation called `name` (model.activation=elu)."""
    from activations import get_activation

    return get_activation(name, **kwargs)


def mlp_stack(in_features: int, hidden_sizes: Sequence[int], out_features: int, act: str,
              dropout: float = 0.0, batch_norm: bool = False, nn_: SimpleNamespace = TORCH_LAYERS) -> nn.Sequential:
    """Linear -> [BatchNorm] -> activation -> [Dropout] for each hidden size, then a Linear head."""
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden_sizes:
        if int(h) < 1:
            raise ValueError(f"model.hidden_sizes must be positive integers, got {list(hidden_sizes)}")
        layers.append(nn_.Linear(width, int(h)))
        if batch_norm:
            layers.append(nn_.BatchNorm1d(int(h)))
        layers.append(activation(act))
        if dropout > 0:
            layers.append(nn_.Dropout(dropout))
        width = int(h)
    layers.append(nn_.Linear(width, out_features))
    return nn.Sequential(*layers)


def numel(shape: Sequence[int]) -> int:
    return int(math.prod(shape))
