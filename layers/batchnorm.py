"""Batch normalization over the batch (and spatial) axes, per channel."""
from __future__ import annotations

import torch
from torch import nn
from torch.autograd.function import once_differentiable
from torch.nn import init

from ._autocast import autocast_off


class _BatchNormFn(torch.autograd.Function):
    """Per channel, over the m = N * (spatial size) values of the batch:

        training:  mu = mean(x), var = mean((x - mu)^2)  (biased), returned for the running statistics
        eval:      mu, var = the running statistics (constants)
        x_hat = (x - mu) / sqrt(var + eps),   y = gamma * x_hat + beta

    backward, with g = dL/dy:
        dgamma = sum g * x_hat,   dbeta = sum g
        training:  dx = gamma / (m sqrt(var + eps)) * (m g - sum g - x_hat * sum(g * x_hat))
        eval:      dx = gamma / sqrt(var + eps) * g
    """

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, eps):
        dims = [0, *range(2, x.dim())]
        shape = [1, -1] + [1] * (x.dim() - 2)
        if training:
            mean = x.mean(dims)
            x_centered = x - mean.view(shape)
            var = (x_centered * x_centered).mean(dims)  # two passes: no cancellation, unlike E[x^2] - mu^2
        else:
            mean, var = running_mean, running_var
            x_centered = x - mean.view(shape)
        inv_std = torch.rsqrt(var + eps)
        x_hat = x_centered.mul_(inv_std.view(shape))  # in place: x_centered is ours
        y = x_hat if weight is None else (x_hat * weight.view(shape)).add_(bias.view(shape))
        ctx.save_for_backward(x_hat, inv_std, weight)
        ctx.training = training
        if training:
            ctx.mark_non_differentiable(mean, var)
            return y, mean, var
        return y, None, None

    @staticmethod
    @once_differentiable
    def backward(ctx, g, _g_mean, _g_var):
        x_hat, inv_std, weight = ctx.saved_tensors
        dims = [0, *range(2, g.dim())]
        shape = [1, -1] + [1] * (g.dim() - 2)
        sum_g = g.sum(dims)
        sum_g_xhat = (g * x_hat).sum(dims)
        dx = dw = db = None
        if ctx.needs_input_grad[0]:
            scale = inv_std if weight is None else weight * inv_std  # gamma / sqrt(var + eps)
            if ctx.training:
                m = g.numel() // g.shape[1]
                # gamma/sqrt(var+eps) * (g - sum g / m - x_hat * sum(g x_hat) / m)
                # the same terms, accumulated in place in one new tensor
                dx = x_hat * (-sum_g_xhat / m).view(shape)
                dx.add_(g).sub_((sum_g / m).view(shape)).mul_(scale.view(shape))
            else:
                dx = g * scale.view(shape)
        if weight is not None:
            dw, db = sum_g_xhat, sum_g
        return dx, dw, db, None, None, None, None


class _BatchNorm(nn.Module):
    """torch.nn.BatchNorm's arguments, parameters (weight = gamma, bias = beta) and buffers
    (running_mean, running_var, num_batches_tracked). Running statistics, in training:
        r_mean <- (1 - f) r_mean + f mu,   r_var <- (1 - f) r_var + f * var * m / (m - 1)  (unbiased)
    with f = momentum, or f = 1 / num_batches_tracked (a cumulative average) when momentum is None."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        factory = {"device": device, "dtype": dtype}
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = nn.Parameter(torch.empty(num_features, **factory))
            self.bias = nn.Parameter(torch.empty(num_features, **factory))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", torch.zeros(num_features, **factory))
            self.register_buffer("running_var", torch.ones(num_features, **factory))
            self.register_buffer("num_batches_tracked", torch.tensor(0, dtype=torch.long, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.zero_()
            self.running_var.fill_(1)
            self.num_batches_tracked.zero_()

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input_dim(self, x: torch.Tensor) -> None:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input_dim(x)
        # batch statistics in training, and in eval when there are no running statistics (as torch)
        use_batch = self.training or self.running_mean is None
        update = self.training and self.track_running_stats
        if use_batch:
            m = x.numel() // x.shape[1] if x.shape[1] else 0
            if m == 1:
                raise ValueError(f"Expected more than 1 value per channel when training, got input size {x.shape}")
        if update:
            self.num_batches_tracked.add_(1)
        with autocast_off(x):
            y, mean, var = _BatchNormFn.apply(x, self.weight, self.bias, self.running_mean, self.running_var,
                                              use_batch, self.eps)
        if update:
            f = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            with torch.no_grad():
                self.running_mean.mul_(1 - f).add_(mean, alpha=f)
                self.running_var.mul_(1 - f).add_(var * (m / (m - 1)), alpha=f)
        return y

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs; see _BatchNormFn for the formulas."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() not in (2, 3):
            raise ValueError(f"expected 2D or 3D input (got {x.dim()}D input)")


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) inputs; see _BatchNormFn for the formulas."""

    def _check_input_dim(self, x: torch.Tensor) -> None:
        if x.dim() != 4:
            raise ValueError(f"expected 4D input (got {x.dim()}D input)")
