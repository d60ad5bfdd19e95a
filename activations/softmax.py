"""Softmax and LogSoftmax along one dimension."""
from __future__ import annotations

import warnings

import torch
from torch import nn

from ._autocast import float32_under_autocast


class SoftmaxFunction(torch.autograd.Function):
    """s_i = e^(z_i) / sum_j e^(z_j), computed with the row max m subtracted: e^(z_i - m) <= 1
    cannot overflow. Backward (Jacobian-vector product): grad_z = s * (g - sum_j g_j s_j)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, dim: int) -> torch.Tensor:
        ctx.dim = dim
        if z.numel() == 0:  # nothing to normalise (amax refuses an empty reduction)
            s = z.clone()
        else:
            e = torch.exp(z - z.amax(dim, keepdim=True))
            s = e / e.sum(dim, keepdim=True)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (s,) = ctx.saved_tensors
        return s * (grad - (grad * s).sum(ctx.dim, keepdim=True)), None


class LogSoftmaxFunction(torch.autograd.Function):
    """log s_i = z_i - log sum_j e^(z_j) = (z_i - m) - log sum_j e^(z_j - m), m the row max
    (log-sum-exp). Backward: grad_z = g - softmax(z) * sum_j g_j, softmax(z) = e^(log s)."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, dim: int) -> torch.Tensor:
        ctx.dim = dim
        if z.numel() == 0:  # nothing to normalise (amax refuses an empty reduction)
            out = z.clone()
        else:
            shifted = z - z.amax(dim, keepdim=True)
            out = shifted - torch.log(torch.exp(shifted).sum(dim, keepdim=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (out,) = ctx.saved_tensors
        return grad - torch.exp(out) * grad.sum(ctx.dim, keepdim=True), None


def _check_dim(name: str, dim: object) -> int | None:
    """dim as torch.nn.Softmax takes it: an int or None (bool is refused, as torch does)."""
    if dim is not None and (isinstance(dim, bool) or not isinstance(dim, int)):
        raise TypeError(f"{name}: dim must be an int or None, got {dim!r} ({type(dim).__name__})")
    return dim


def _resolve_dim(dim: int | None, ndim: int, name: str) -> int:
    """torch's legacy rule for dim=None: 0 for 0-, 1- and 3-d inputs, else 1 (with its warning)."""
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. "
                  "Change the call to include dim=X as an argument.", stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(nn.Module):
    """Softmax over `dim`: s_i = e^(z_i) / sum_j e^(z_j); backward s * (g - sum(g * s))."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = _check_dim("Softmax", dim)

    @float32_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return SoftmaxFunction.apply(z, _resolve_dim(self.dim, z.dim(), "softmax"))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(nn.Module):
    """Log-softmax over `dim`: z_i - log sum_j e^(z_j); backward g - softmax(z) * sum(g)."""

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = _check_dim("LogSoftmax", dim)

    @float32_under_autocast
    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return LogSoftmaxFunction.apply(z, _resolve_dim(self.dim, z.dim(), "log_softmax"))

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
