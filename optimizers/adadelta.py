"""Adadelta: Adagrad's step sizes from running averages, with units fixed by the past updates."""
from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer

from ._base import (as_float, bump_steps, check_lr, check_non_negative, closure_loss,
                    fill_group_defaults, group_by_device_and_dtype, params_with_grads, refuse_modes,
                    states_of, tensor_steps, use_foreach)


class Adadelta(Optimizer):
    r"""Adadelta, a drop-in for ``torch.optim.Adadelta``.

    The cheatsheet's rule, with g the gradient (negated when ``maximize``)::

        g = g + weight_decay * w                            (when weight decay is on)
        v = rho * v + (1 - rho) * g^2                       running average of g^2
        delta = sqrt(u + eps) / sqrt(v + eps) * g           RMS[update] / RMS[g] * g
        u = rho * u + (1 - rho) * delta^2                   running average of updates^2
        w = w - lr * delta

    State per param, as torch names it: ``step`` (a CPU float tensor), ``square_avg`` (v) and
    ``acc_delta`` (u).

    Args: as ``torch.optim.Adadelta``: lr (1.0), rho (0.9), eps (1e-6), weight_decay (0), foreach
    (None: multi-tensor only when every param is on an accelerator), and keyword-only capturable,
    differentiable (accepted only off, so torch configs and state dicts load; on, they raise),
    maximize (False).
    """

    def __init__(self, params, lr: float | Tensor = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False) -> None:
        check_lr(lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_non_negative(eps, "epsilon value")
        check_non_negative(weight_decay, "weight_decay value")
        refuse_modes("Adadelta", capturable=capturable, differentiable=differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        capturable=capturable, foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        # state dicts from older torch versions lack these keys
        fill_group_defaults(self.param_groups, foreach=None, maximize=False, differentiable=False,
                            capturable=False)
        tensor_steps(self)

    def _init_group(self, group: dict) -> tuple[list[Tensor], ...]:
        """The params that have a gradient, their gradients and state tensors (aligned lists);
        a param's state is created the first time it has a gradient."""
        params, grads = params_with_grads(group, "Adadelta")
        states = states_of(self, params, "Adadelta", ("square_avg", "acc_delta"))
        return (params, grads, [s["square_avg"] for s in states], [s["acc_delta"] for s in states],
                [s["step"] for s in states])

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every param that has a gradient; returns the closure's loss if given."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params, grads, square_avgs, acc_deltas, steps = self._init_group(group)
            if not params:
                continue
            update = (_multi_tensor_adadelta if use_foreach(group["foreach"], params)
                      else _single_tensor_adadelta)
            update(params, grads, square_avgs, acc_deltas, steps, lr=as_float(group["lr"]),
                   rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"],
                   maximize=group["maximize"])
        return loss


def _single_tensor_adadelta(params, grads, square_avgs, acc_deltas, steps, *, lr, rho, eps,
                            weight_decay, maximize) -> None:
    """One param at a time: the readable oracle."""
    for param, g, v, u, step_t in zip(params, grads, square_avgs, acc_deltas, steps):
        step_t += 1
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g.add(param, alpha=weight_decay)        # g = g + wd * w
        v.mul_(rho).addcmul_(g, g, value=1 - rho)       # v = rho * v + (1 - rho) * g^2
        std = v.add(eps).sqrt_()                        # RMS[g] = sqrt(v + eps)
        delta = u.add(eps).sqrt_()                      # RMS[update] = sqrt(u + eps)
        delta.div_(std).mul_(g)                         # delta = RMS[update] / RMS[g] * g
        u.mul_(rho).addcmul_(delta, delta, value=1 - rho)  # u = rho * u + (1 - rho) * delta^2
        param.add_(delta, alpha=-lr)                    # w = w - lr * delta


def _multi_tensor_adadelta(params, grads, square_avgs, acc_deltas, steps, *, lr, rho, eps,
                           weight_decay, maximize) -> None:
    """The same rule, one foreach call per operation and (device, dtype) group."""
    for dev_params, dev_grads, dev_v, dev_u, dev_steps in group_by_device_and_dtype(
            params, grads, square_avgs, acc_deltas, steps):
        bump_steps(dev_steps)
        if maximize:
            dev_grads = torch._foreach_neg(dev_grads)
        if weight_decay != 0:
            if maximize:  # dev_grads is already our temporary: reuse it
                torch._foreach_add_(dev_grads, dev_params, alpha=weight_decay)
            else:
                dev_grads = torch._foreach_add(dev_grads, dev_params, alpha=weight_decay)
        torch._foreach_mul_(dev_v, rho)
        torch._foreach_addcmul_(dev_v, dev_grads, dev_grads, value=1 - rho)
        std = torch._foreach_add(dev_v, eps)
        torch._foreach_sqrt_(std)
        deltas = torch._foreach_add(dev_u, eps)
        torch._foreach_sqrt_(deltas)
        torch._foreach_div_(deltas, std)
        torch._foreach_mul_(deltas, dev_grads)
        torch._foreach_mul_(dev_u, rho)
        torch._foreach_addcmul_(dev_u, deltas, deltas, value=1 - rho)
        torch._foreach_add_(dev_params, deltas, alpha=-lr)
