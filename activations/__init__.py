"""Hand-written activations: nn.Modules backed by autograd Functions with explicit derivatives."""
from .elu import ELU
from .gelu import GELU
from .linear import LinearActivation
from .registry import ACTIVATIONS, get_activation
from .relu import LeakyReLU, ReLU
from .sigmoid import Sigmoid
from .silu import SiLU
from .softmax import LogSoftmax, Softmax
from .softplus import Softplus
from .tanh import Tanh

__all__ = [
    "ACTIVATIONS", "ELU", "GELU", "LeakyReLU", "LinearActivation", "LogSoftmax", "ReLU",
    "SiLU", "Sigmoid", "Softmax", "Softplus", "Tanh", "get_activation",
]
