"""Parameters shared by the dense and convolution layers: torch's `weight` and `bias` names, shapes,
device and dtype (`bias=False` registers None, as torch does), the convolutions' groups check and
their initialization."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import init


def create_weight_and_bias(module: nn.Module, weight_shape: tuple[int, ...], bias_features: int, bias: bool,
                           device=None, dtype=None) -> None:
    factory = {"device": device, "dtype": dtype}
    module.weight = nn.Parameter(torch.empty(weight_shape, **factory))
    if bias:
        module.bias = nn.Parameter(torch.empty(bias_features, **factory))
    else:
        module.register_parameter("bias", None)


def check_groups(in_channels: int, out_channels: int, groups: int) -> None:
    """torch's checks (and wording) for a grouped convolution."""
    if groups <= 0:
        raise ValueError("groups must be a positive integer")
    if in_channels % groups != 0:
        raise ValueError("in_channels must be divisible by groups")
    if out_channels % groups != 0:
        raise ValueError("out_channels must be divisible by groups")


def reset_conv_parameters(module: nn.Module) -> None:
    """torch's choice for Conv2d and ConvTranspose2d: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with
    fan_in = weight[0].numel() (weight.size(1) * kh * kw); kaiming_uniform_ with a = sqrt(5) gives W's
    bound. With fan_in 0 the bias is left as created, as torch leaves it."""
    init.kaiming_uniform_(module.weight, a=math.sqrt(5))
    if module.bias is not None:
        fan_in = module.weight[0].numel()
        if fan_in != 0:
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(module.bias, -bound, bound)
