"""Tanh."""
from __future__ import annotations

import torch
from torch import nn

from ._autocast import input_dtype_under_autocast
from ._ops import times_grad


class _TanhFn(torch.autograd.Function):
    """tanh(z) = (e^z - e^-z) / (e^z + e^-z);  tanh'(z) = 1 - tanh(z)^2.

    Evaluated as sign(z) * (-t / (t + 2)) with t = e^(-2|z|) - 1 (expm1): exact near 0 and no
    overflow at +-1e4, where it saturates to +-1.
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        t = z.abs().mul_(-2).expm1_()  # in (-1, 0]
        out = t.div_(t + 2)  # -|tanh(z)|
        torch.copysign(out, z, out=out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (y,) = ctx.saved_tensors
        # the 0-d one on y's device: addcmul refuses a CPU `self` with CUDA tensors
        one = torch.ones((), dtype=y.dtype, device=y.device)
        return times_grad(torch.addcmul(one, y, y, value=-1), grad)


class Tanh(nn.Module):
    """Hyperbolic tangent: tanh(z) = (e^z - e^-z)/(e^z + e^-z), tanh'(z) = 1 - tanh(z)^2."""

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _TanhFn.apply(z)
