"""Convolutional classifier: conv blocks, then an MLP head (the cheatsheet's CNN).

Each block is  Conv2d(k x k, padding='same') -> [BatchNorm2d] -> f -> [Pool 2x2] -> [Dropout],
a convolution being  z[c_out, i, j] = b[c_out] + sum_{c_in, u, v} W[c_out, c_in, u, v] x[c_in, i+u, j+v].
'same' padding keeps the spatial size, so only pooling shrinks it: with `pool: null` a block pools
while the map is at least 4 pixels on a side (never below 2x2), so 8x8 digits, 28x28 and 32x32 images
all work with one config. The head's input size is computed from input_shape, not guessed.
`layers`: torch | refzoo, whose classes build the convolutions, batch norm, pooling, dropout and head.
"""
from __future__ import annotations

from types import SimpleNamespace
from typing import Sequence

from torch import nn

from layers import nn_for

from ._blocks import activation as make_activation
from ._blocks import TORCH_LAYERS, mlp_stack, numel
from ._classifier import ClassifierModule

POOLINGS = {"max": "MaxPool2d", "avg": "AvgPool2d"}  # model.pooling -> the layer class's name


def pool_plan(input_shape: Sequence[int], blocks: int, pool: Sequence[bool] | None) -> list[bool]:
    """Which blocks pool: the given list, or automatically while the map stays >= 2x2."""
    if pool is not None:
        if len(pool) != blocks:
            raise ValueError(f"model.pool must have one entry per conv block ({blocks}), got {list(pool)}")
        return [bool(p) for p in pool]
    _, h, w = input_shape
    plan = []
    for _ in range(blocks):
        ok = min(h, w) >= 4
        plan.append(ok)
        if ok:
            h, w = h // 2, w // 2
    return plan


class ConvNet(nn.Module):
    def __init__(self, input_shape: Sequence[int], num_classes: int, channels: Sequence[int] = (32, 64),
                 kernel_size: int = 3, pooling: str | None = "max", pool: Sequence[bool] | None = None,
                 activation: str = "relu", dropout: float = 0.0, batch_norm: bool = True,
                 hidden_sizes: Sequence[int] = (128,), head_dropout: float = 0.0,
                 nn_: SimpleNamespace = TORCH_LAYERS):
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"model=cnn needs image data with input_shape [C, H, W], got {list(input_shape)}")
        if pooling is not None and pooling not in POOLINGS:
            raise ValueError(f"model.pooling must be one of {', '.join(POOLINGS)} or null, got {pooling!r}")
        if int(kernel_size) < 1 or not channels or any(int(c) < 1 for c in channels):
            raise ValueError(f"model.kernel_size and model.channels must be positive, got {kernel_size}, {list(channels)}")
        if not 0.0 <= float(dropout) < 1.0:
            raise ValueError(f"model.dropout must be in [0, 1), got {dropout}")
        plan = pool_plan(input_shape, len(channels), pool) if pooling is not None else [False] * len(channels)
        c, h, w = (int(s) for s in input_shape)
        layers: list[nn.Module] = []
        for out, pools in zip(channels, plan):
            layers.append(nn_.Conv2d(c, int(out), int(kernel_size), padding="same", bias=not batch_norm))
            if batch_norm:
                layers.append(nn_.BatchNorm2d(int(out)))
            layers.append(make_activation(activation))
            if pools:
                layers.append(getattr(nn_, POOLINGS[pooling])(2))
                h, w = h // 2, w // 2
            if dropout > 0:
                layers.append(nn_.Dropout(dropout))
            c = int(out)
        self.features = nn.Sequential(*layers)
        self.flat_features = numel((c, h, w))
        self.head = nn.Sequential(nn.Flatten(), mlp_stack(self.flat_features, hidden_sizes, num_classes,
                                                          activation, head_dropout, batch_norm=False, nn_=nn_))

    def forward(self, x):
        return self.head(self.features(x))


class CNN(ClassifierModule):
    def __init__(self, input_shape: Sequence[int], num_classes: int, optimizer, loss: nn.Module,
                 channels: Sequence[int] = (32, 64), kernel_size: int = 3, pooling: str | None = "max",
                 pool: Sequence[bool] | None = None, activation: str = "relu", dropout: float = 0.0,
                 batch_norm: bool = True, hidden_sizes: Sequence[int] = (128,), head_dropout: float = 0.0,
                 compile: bool = False, layers: str = "torch",
                 penalty: dict | None = None, noise: dict | None = None, init: str = "torch",
                 init_bias: float | None = None):
        super().__init__(optimizer=optimizer, loss=loss, num_classes=num_classes, compile=compile)
        self.save_hyperparameters(ignore=["optimizer", "loss"])
        self.net = ConvNet(input_shape, num_classes, channels, kernel_size, pooling, pool, activation, dropout,
                           batch_norm, hidden_sizes, head_dropout, nn_for(self.hparams.layers))
        self.regularize(penalty, noise, init, init_bias)  # model.penalty/noise/init (models/_regularization.py)
