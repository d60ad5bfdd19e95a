"""Parameter creation shared by the dense and convolution layers: torch's `weight` and `bias` names,
shapes, device and dtype, `bias=False` registering None as torch does (values set by each layer's
own reset_parameters)."""
from __future__ import annotations

import torch
from torch import nn


def create_weight_and_bias(module: nn.Module, weight_shape: tuple[int, ...], bias_features: int, bias: bool,
                           device=None, dtype=None) -> None:
    factory = {"device": device, "dtype": dtype}
    module.weight = nn.Parameter(torch.empty(weight_shape, **factory))
    if bias:
        module.bias = nn.Parameter(torch.empty(bias_features, **factory))
    else:
        module.register_parameter("bias", None)
