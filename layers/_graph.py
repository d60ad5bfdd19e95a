"""Finding torch's own layers in a model or in a loss's autograd graph.

The graph check names the backward nodes that only torch's layer kernels create. It cannot see
every torch layer: F.linear leaves AddmmBackward0/MmBackward0, which a plain matrix product (ours,
or the Elman cell's) leaves too, and on the CPU torch's dropout is a MulBackward0 and a packed
LSTM/GRU a chain of elementary ops. `torch_layer_modules` covers those by module type.
"""
from __future__ import annotations

import re

import torch
from torch import nn

# backward nodes of torch's layer kernels, without the version suffix (ConvolutionBackward0 -> ...)
TORCH_LAYER_NODES = frozenset({
    # convolutions (any backend) and transposed convolutions
    "ConvolutionBackward", "ConvolutionBackwardBackward", "CudnnConvolutionBackward",
    "CudnnConvolutionTransposeBackward", "MkldnnConvolutionBackward", "SlowConv2DBackward",
    "SlowConvDilated2DBackward", "SlowConvTranspose2DBackward", "ConvDepthwise2DBackward",
    "ThnnConv2DBackward",
    # batch normalization
    "NativeBatchNormBackward", "NativeBatchNormLegitBackward", "BatchNormWithUpdateBackward",
    "BatchNormNoUpdateBackward", "CudnnBatchNormBackward", "MiopenBatchNormBackward",
    # pooling
    "MaxPool2DWithIndicesBackward", "MaxPool2DBackward", "MkldnnMaxPool2DBackward", "AvgPool2DBackward",
    "AdaptiveAvgPool2DBackward", "AdaptiveMaxPool2DBackward", "MaxPool3DWithIndicesBackward",
    "AvgPool3DBackward", "FractionalMaxPool2DBackward",
    # embedding, dropout
    "EmbeddingBackward", "EmbeddingBagBackward", "EmbeddingDenseBackward", "NativeDropoutBackward",
    "FusedDropoutBackward",
    # fused recurrent kernels
    "CudnnRnnBackward", "MiopenRnnBackward", "MkldnnRnnLayerBackward", "ThnnFusedLstmCellBackward",
    "ThnnFusedGruCellBackward",
})

TORCH_LAYER_MODULES = (nn.Linear, nn.Bilinear, nn.Conv1d, nn.Conv2d,
                       nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.MaxPool1d,
                       nn.MaxPool2d, nn.MaxPool3d, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool2d,
                       nn.AdaptiveMaxPool2d, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.Dropout,
                       nn.Dropout1d, nn.Dropout2d, nn.Embedding, nn.EmbeddingBag, nn.RNNBase, nn.RNNCellBase)

_VERSION = re.compile(r"\d+$")


def graph_nodes(output: torch.Tensor) -> set[str]:
    """Type names of every backward node reachable from `output` (a loss)."""
    seen, names, stack = set(), set(), [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(next_node for next_node, _ in node.next_functions)
    return names


def torch_layer_nodes(output: torch.Tensor) -> list[str]:
    """Sorted names of the torch layer backward nodes (TORCH_LAYER_NODES) in `output`'s graph."""
    return sorted(name for name in graph_nodes(output) if _VERSION.sub("", name) in TORCH_LAYER_NODES)


def torch_layer_modules(module: nn.Module) -> list[str]:
    """Each submodule of `module` (itself included) that is a torch.nn layer class, as "name (Class)"."""
    return [f"{name or '(root)'} ({type(m).__name__})" for name, m in module.named_modules()
            if isinstance(m, TORCH_LAYER_MODULES)]
