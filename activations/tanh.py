"""Tanh."""
from __future__ import annotations

import torch
from torch import nn

from ._autocast import input_dtype_under_autocast
from ._fused import fused
from ._ops import times_grad


def _tanh(z: torch.Tensor) -> torch.Tensor:
    """sign(z) * (-t / (t + 2)) with t = e^(-2|z|) - 1 (expm1): the eager and the fused forward."""
    t = torch.expm1(z.abs() * -2)  # in (-1, 0]
    return torch.copysign(t / (t + 2), z)


# Fused also because torch's float32 expm1 runs 5x slower on some CPUs than on others (AVX512 vs AVX2
# kernels of torch 2.14: 36 vs 7 ms for 4096 x 1024), where inductor's own vectorized loop does not.
_fwd = fused("tanh.fwd")(_tanh)


@fused("tanh.bwd")
def _bwd(g: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """g * tanh'(z) = g * (1 - y^2)."""
    return g * (1 - y * y)


class _TanhFn(torch.autograd.Function):
    """tanh(z) = (e^z - e^-z) / (e^z + e^-z);  tanh'(z) = 1 - tanh(z)^2.

    Evaluated as sign(z) * (-t / (t + 2)) with t = e^(-2|z|) - 1 (expm1): exact near 0 and no
    overflow at +-1e4, where it saturates to +-1. Large tensors run the same formulas as fused
    kernels (activations/_fused.py).
    """

    @staticmethod
    def forward(ctx, z: torch.Tensor) -> torch.Tensor:
        if _fwd.ok(z):
            out = _fwd(z)
        else:
            t = z.abs().mul_(-2).expm1_()  # in place: the eager formula of _tanh in two fewer buffers
            out = t.div_(t + 2)  # -|tanh(z)|
            torch.copysign(out, z, out=out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (y,) = ctx.saved_tensors
        if _bwd.ok(grad, y):
            return _bwd(grad, y)
        # the 0-d one on y's device: addcmul refuses a CPU `self` with CUDA tensors
        one = torch.ones((), dtype=y.dtype, device=y.device)
        return times_grad(torch.addcmul(one, y, y, value=-1), grad)


class Tanh(nn.Module):
    """Hyperbolic tangent: tanh(z) = (e^z - e^-z)/(e^z + e^-z), tanh'(z) = 1 - tanh(z)^2."""

    @input_dtype_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return _TanhFn.apply(z)
