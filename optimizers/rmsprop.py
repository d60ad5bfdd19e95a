"""RMSprop: divide the gradient by a running root mean square of its recent values."""
from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer

from ._base import (as_float, bump_steps, check_lr, check_non_negative, closure_loss,
                    fill_group_defaults, group_by_device_and_dtype, params_with_grads, refuse_modes,
                    states_of, tensor_steps, use_foreach)


class RMSprop(Optimizer):
    r"""RMSprop, a drop-in for ``torch.optim.RMSprop``.

    The cheatsheet's rule, with g the gradient (negated when ``maximize``)::

        g = g + weight_decay * w                      (when weight decay is on)
        cache = alpha * cache + (1 - alpha) * g^2
        w = w - lr * g / (sqrt(cache) + eps)

    ``centered`` subtracts the squared running mean of g from cache (an estimate of the variance):
    ``gbar = alpha * gbar + (1 - alpha) * g``, denominator ``sqrt(cache - gbar^2) + eps``.
    ``momentum`` accumulates the scaled steps: ``b = momentum * b + g / denom; w = w - lr * b``.

    State per param, as torch names it: ``step`` (a CPU float tensor), ``square_avg`` (cache), and
    ``momentum_buffer`` (b) when momentum > 0, ``grad_avg`` (gbar) when centered.

    Args: as ``torch.optim.RMSprop``: lr (1e-2), alpha (0.99), eps (1e-8), weight_decay (0),
    momentum (0), centered (False), capturable (accepted only off), foreach (None: multi-tensor only
    when every param is on an accelerator), maximize (False), differentiable (accepted only off).
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_lr(lr)
        check_non_negative(eps, "epsilon value")
        check_non_negative(momentum, "momentum value")
        check_non_negative(weight_decay, "weight_decay value")
        check_non_negative(alpha, "alpha value")
        refuse_modes("RMSprop", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        # state dicts from older torch versions lack these keys
        fill_group_defaults(self.param_groups, momentum=0, centered=False, foreach=None,
                            maximize=False, differentiable=False, capturable=False)
        tensor_steps(self)

    def _init_group(self, group: dict) -> tuple[list[Tensor], ...]:
        """The params that have a gradient, their gradients and state tensors (aligned lists);
        a param's state is created the first time it has a gradient."""
        momentum, centered = group["momentum"] > 0, group["centered"]
        params, grads = params_with_grads(group, "RMSprop")
        buffers = ("square_avg",) + (("momentum_buffer",) if momentum else ()) + (
            ("grad_avg",) if centered else ())
        states = states_of(self, params, "RMSprop", buffers)
        return (params, grads, [s["square_avg"] for s in states],
                [s["grad_avg"] for s in states] if centered else [],
                [s["momentum_buffer"] for s in states] if momentum else [],
                [s["step"] for s in states])

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every param that has a gradient; returns the closure's loss if given."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params, grads, square_avgs, grad_avgs, momentum_bufs, steps = self._init_group(group)
            if not params:
                continue
            update = (_multi_tensor_rmsprop if use_foreach(group["foreach"], params)
                      else _single_tensor_rmsprop)
            update(params, grads, square_avgs, grad_avgs, momentum_bufs, steps,
                   lr=as_float(group["lr"]), alpha=group["alpha"], eps=group["eps"],
                   weight_decay=group["weight_decay"], momentum=group["momentum"],
                   centered=group["centered"], maximize=group["maximize"])
        return loss


def _single_tensor_rmsprop(params, grads, square_avgs, grad_avgs, momentum_bufs, steps, *, lr,
                           alpha, eps, weight_decay, momentum, centered, maximize) -> None:
    """One param at a time: the readable oracle."""
    for i, param in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        cache = square_avgs[i]
        steps[i] += 1
        if weight_decay != 0:
            g = g.add(param, alpha=weight_decay)                 # g = g + wd * w
        cache.mul_(alpha).addcmul_(g, g, value=1 - alpha)        # cache = a * cache + (1 - a) * g^2
        if centered:
            gbar = grad_avgs[i]
            gbar.lerp_(g, 1 - alpha)                             # gbar = a * gbar + (1 - a) * g
            denom = cache.addcmul(gbar, gbar, value=-1).sqrt_()  # sqrt(cache - gbar^2)
        else:
            denom = cache.sqrt()                                 # sqrt(cache)
        denom = denom.add_(eps)                                  # ... + eps
        if momentum > 0:
            b = momentum_bufs[i]
            b.mul_(momentum).addcdiv_(g, denom)                  # b = mu * b + g / denom
            param.add_(b, alpha=-lr)                             # w = w - lr * b
        else:
            param.addcdiv_(g, denom, value=-lr)                  # w = w - lr * g / denom


def _multi_tensor_rmsprop(params, grads, square_avgs, grad_avgs, momentum_bufs, steps, *, lr,
                          alpha, eps, weight_decay, momentum, centered, maximize) -> None:
    """The same rule, one foreach call per operation and (device, dtype) group."""
    for (dev_params, dev_grads, dev_cache, dev_gbar, dev_bufs, dev_steps) in group_by_device_and_dtype(
            params, grads, square_avgs, grad_avgs, momentum_bufs, steps):
        if maximize:
            dev_grads = torch._foreach_neg(dev_grads)
        bump_steps(dev_steps)
        if weight_decay != 0:
            if maximize:  # dev_grads is already our temporary: reuse it
                torch._foreach_add_(dev_grads, dev_params, alpha=weight_decay)
            else:
                dev_grads = torch._foreach_add(dev_grads, dev_params, alpha=weight_decay)
        torch._foreach_mul_(dev_cache, alpha)
        torch._foreach_addcmul_(dev_cache, dev_grads, dev_grads, value=1 - alpha)
        if centered:
            torch._foreach_lerp_(dev_gbar, dev_grads, 1 - alpha)
            denom = torch._foreach_addcmul(dev_cache, dev_gbar, dev_gbar, value=-1)
            torch._foreach_sqrt_(denom)
        else:
            denom = torch._foreach_sqrt(dev_cache)
        torch._foreach_add_(denom, eps)
        if momentum > 0:
            torch._foreach_mul_(dev_bufs, momentum)
            torch._foreach_addcdiv_(dev_bufs, dev_grads, denom)
            torch._foreach_add_(dev_params, dev_bufs, alpha=-lr)
        else:
            torch._foreach_addcdiv_(dev_params, dev_grads, denom, value=-lr)
