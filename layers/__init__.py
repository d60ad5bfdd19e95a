"""Hand-written layers (the cheatsheet's Layers chapter): nn.Modules with torch's arguments, parameter
names and initialization, backed by autograd Functions whose backward is written out."""
from ._graph import TORCH_LAYER_NODES, graph_nodes, torch_layer_modules, torch_layer_nodes
from .batchnorm import BatchNorm1d, BatchNorm2d
from .conv import Conv2d
from .conv_transpose import ConvTranspose2d
from .dropout import Dropout
from .embedding import Embedding
from .kinds import LAYER_KINDS, LAYER_NAMES, nn_for
from .linear import Linear
from .pooling import AvgPool2d, MaxPool2d
from .rnn import GRU, LSTM
from .rnn_cells import GRUCell, LSTMCell

__all__ = [
    "AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "ConvTranspose2d", "Dropout", "Embedding", "GRU",
    "GRUCell", "LAYER_KINDS", "LAYER_NAMES", "LSTM", "LSTMCell", "Linear", "MaxPool2d", "TORCH_LAYER_NODES",
    "graph_nodes", "nn_for", "torch_layer_modules", "torch_layer_nodes",
]
