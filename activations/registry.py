"""Activations by lower-case name, for configs (`model.activation=elu`)."""
from __future__ import annotations

from torch import nn

from .elu import ELU
from .gelu import GELU
from .linear import LinearActivation
from .relu import LeakyReLU, ReLU
from .sigmoid import Sigmoid
from .silu import SiLU
from .softmax import LogSoftmax, Softmax
from .softplus import Softplus
from .tanh import Tanh

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "linear": LinearActivation,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "gelu": GELU,
    "silu": SiLU,
    "softplus": Softplus,
    "softmax": Softmax,
    "log_softmax": LogSoftmax,
}


def get_activation(name: str, **kwargs) -> nn.Module:
    """A new activation module by name, e.g. get_activation("elu", alpha=0.5)."""
    key = name.lower() if isinstance(name, str) else name
    if key not in ACTIVATIONS:
        allowed = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; allowed: {allowed}")
    return ACTIVATIONS[key](**kwargs)
