"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""
from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer

from ._base import (as_float, bump_steps, check_lr, check_non_negative, closure_loss,
                    fill_group_defaults, group_by_device_and_dtype, new_step, params_with_grads,
                    real_only, refuse_modes, use_foreach)


class Adagrad(Optimizer):
    r"""Adagrad, a drop-in for ``torch.optim.Adagrad``.

    The cheatsheet's rule, with g the gradient (negated when ``maximize``) and t the step count::

        g = g + weight_decay * w                      (when weight decay is on)
        lr_t = lr / (1 + (t - 1) * lr_decay)
        cache = cache + g^2                           (cache starts at initial_accumulator_value)
        w = w - lr_t * g / (sqrt(cache) + eps)

    State per param, as torch names it: ``step`` (a CPU float tensor) and ``sum`` (the cache).
    Like torch, the state of every param is created in the constructor (so ``share_memory`` works
    before the first step). Unlike torch, a param group's own ``initial_accumulator_value`` is
    honoured (torch reads the constructor's value for every group); for groups that do not set
    their own, the two agree.

    Args: as ``torch.optim.Adagrad``: lr (1e-2), lr_decay (0), weight_decay (0),
    initial_accumulator_value (0), eps (1e-10), foreach (None: multi-tensor only when every param
    is on an accelerator), and keyword-only maximize (False), differentiable, fused (accepted only
    off, so torch configs and state dicts load; on, they raise).
    """

    def __init__(self, params, lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_lr(lr)
        check_non_negative(lr_decay, "lr_decay value")
        check_non_negative(weight_decay, "weight_decay value")
        check_non_negative(initial_accumulator_value, "initial_accumulator_value value")
        check_non_negative(eps, "epsilon value")
        refuse_modes("Adagrad", differentiable=differentiable, fused=fused)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._new_state(p, group)

    def _new_state(self, p: Tensor, group: dict) -> None:
        real_only(p, "Adagrad")
        state = self.state[p]
        state["step"] = new_step()
        state["sum"] = torch.full_like(p, group["initial_accumulator_value"],
                                       memory_format=torch.preserve_format)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        # state dicts from older torch versions lack these keys
        fill_group_defaults(self.param_groups, foreach=None, maximize=False, differentiable=False,
                            fused=None)

    def share_memory(self) -> None:
        """Move the accumulators to shared memory (for Hogwild-style multiprocess training)."""
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["sum"].share_memory_()

    def _init_group(self, group: dict) -> tuple[list[Tensor], ...]:
        """The params that have a gradient, their gradients and state tensors (aligned lists);
        the state of a param added after construction is created here."""
        params, grads = params_with_grads(group, "Adagrad")
        states = [self.state[p] for p in params]
        for p, state in zip(params, states):
            if len(state) == 0:
                self._new_state(p, group)
        return params, grads, [s["sum"] for s in states], [s["step"] for s in states]

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every param that has a gradient; returns the closure's loss if given."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params, grads, sums, steps = self._init_group(group)
            if not params:
                continue
            update = (_multi_tensor_adagrad if use_foreach(group["foreach"], params)
                      else _single_tensor_adagrad)
            update(params, grads, sums, steps, lr=as_float(group["lr"]), lr_decay=group["lr_decay"],
                   weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"])
        return loss


def _single_tensor_adagrad(params, grads, sums, steps, *, lr, lr_decay, weight_decay, eps,
                           maximize) -> None:
    """One param at a time: the readable oracle."""
    for param, g, cache, step_t in zip(params, grads, sums, steps):
        step_t += 1
        t = step_t.item()
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g.add(param, alpha=weight_decay)       # g = g + wd * w
        lr_t = lr / (1 + (t - 1) * lr_decay)           # lr_t = lr / (1 + (t - 1) * lr_decay)
        cache.addcmul_(g, g, value=1)                  # cache = cache + g^2
        std = cache.sqrt().add_(eps)                   # sqrt(cache) + eps
        param.addcdiv_(g, std, value=-lr_t)            # w = w - lr_t * g / (sqrt(cache) + eps)


def _multi_tensor_adagrad(params, grads, sums, steps, *, lr, lr_decay, weight_decay, eps,
                          maximize) -> None:
    """The same rule, one foreach call per operation and (device, dtype) group."""
    for dev_params, dev_grads, dev_sums, dev_steps in group_by_device_and_dtype(
            params, grads, sums, steps):
        owned = False  # are dev_grads our temporaries (True) or the params' .grad (False)?
        if maximize:
            dev_grads = torch._foreach_neg(dev_grads)
            owned = True
        bump_steps(dev_steps)
        if weight_decay != 0:
            if owned:
                torch._foreach_add_(dev_grads, dev_params, alpha=weight_decay)
            else:
                dev_grads = torch._foreach_add(dev_grads, dev_params, alpha=weight_decay)
                owned = True
        neg_lrs = [-lr / (1 + (s.item() - 1) * lr_decay) for s in dev_steps]
        torch._foreach_addcmul_(dev_sums, dev_grads, dev_grads, value=1)
        std = torch._foreach_sqrt(dev_sums)
        torch._foreach_add_(std, eps)
        if owned:
            torch._foreach_mul_(dev_grads, neg_lrs)
            numerator = dev_grads
        else:
            numerator = torch._foreach_mul(dev_grads, neg_lrs)
        torch._foreach_addcdiv_(dev_params, numerator, std)
