"""Multilayer perceptron classifier (the cheatsheet's feed-forward network).

    z_l = W_l a_{l-1} + b_l,   a_l = f(z_l),   yhat = softmax(z_L)

trained with cross-entropy on the logits z_L (the softmax lives inside the loss). `layers`: torch |
refzoo, whose Linear/BatchNorm1d/Dropout classes build the stack (layers.nn_for).
"""
from __future__ import annotations

from typing import Sequence

from torch import nn

from layers import nn_for

from ._blocks import mlp_stack, numel
from ._classifier import ClassifierModule


class MLP(ClassifierModule):
    def __init__(self, input_shape: Sequence[int], num_classes: int, optimizer, loss: nn.Module,
                 hidden_sizes: Sequence[int] = (256, 128), activation: str = "relu", dropout: float = 0.0,
                 batch_norm: bool = False, compile: bool = False, layers: str = "torch",
                 penalty: dict | None = None, noise: dict | None = None, init: str = "torch",
                 init_bias: float | None = None):
        super().__init__(optimizer=optimizer, loss=loss, num_classes=num_classes, compile=compile)
        self.save_hyperparameters(ignore=["optimizer", "loss"])
        nn_ = nn_for(self.hparams.layers)
        self.net = nn.Sequential(nn.Flatten(), mlp_stack(numel(input_shape), hidden_sizes, num_classes,
                                                         activation, dropout, batch_norm, nn_))
        self.regularize(penalty, noise, init, init_bias)  # model.penalty/noise/init (models/_regularization.py)
