"""Adagrad: per-coordinate learning rates from the accumulated squared gradients."""
from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer

from . import _fused
from ._base import (as_float, as_scalar, bump_steps, check_lr, check_non_negative, closure_loss,
                    fill_group_defaults, group_by_device_and_dtype, new_step, params_with_grads,
                    real_only, refuse_modes, tensor_steps, use_foreach)


class Adagrad(Optimizer):
    r"""Adagrad, a drop-in for ``torch.optim.Adagrad``.

    The cheatsheet's rule, with g the gradient (negated when ``maximize``) and t the step count::

        g = g + weight_decay * w                      (when weight decay is on)
        lr_t = lr / (1 + (t - 1) * lr_decay)
        cache = cache + g^2                           (cache starts at initial_accumulator_value)
        w = w - lr_t * g / (sqrt(cache) + eps)

    State per param, as torch names it: ``step`` (a CPU float tensor; with fused=True a float32
    tensor on the param's device, as torch's fused Adagrad keeps it) and ``sum`` (the cache).
    Like torch, the state of every param is created in the constructor (so ``share_memory`` works
    before the first step). Also like torch, every cache starts at the constructor's
    ``initial_accumulator_value``, even in a param group that sets its own (torch reads the
    constructor's value for every group, and a drop-in gives torch's numbers).

    Args: as ``torch.optim.Adagrad``: lr (1e-2), lr_decay (0), weight_decay (0),
    initial_accumulator_value (0), eps (1e-10), foreach (None: multi-tensor only when every param
    is on an accelerator), and keyword-only maximize (False), differentiable (accepted only off,
    so torch configs and state dicts load), fused (None). ``fused=True`` runs the single-tensor
    rule compiled with ``torch.compile`` (see optimizers/_fused.py; the first step of each param
    group compiles) and, like torch's fused step, honours ``optimizer.grad_scale`` and
    ``optimizer.found_inf`` when they are set.
    """

    _check_fused_params = True  # until the first fused step (and again after add_param_group)

    def __init__(self, params, lr: float | Tensor = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_lr(lr)
        check_non_negative(lr_decay, "lr_decay value")
        check_non_negative(weight_decay, "weight_decay value")
        check_non_negative(initial_accumulator_value, "initial_accumulator_value value")
        check_non_negative(eps, "epsilon value")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        _fused.check_fused_args(fused, foreach, differentiable)
        refuse_modes("Adagrad", differentiable=differentiable)
        for group in self.param_groups:
            for p in group["params"]:
                self._new_state(p, group)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        self._check_fused_params = True

    def _new_state(self, p: Tensor, group: dict) -> None:
        if not group["fused"]:  # fused groups refuse non-float params at the first step, as torch
            real_only(p, "Adagrad")
        state = self.state[p]
        state["step"] = new_step(p, bool(group["fused"]))
        # the constructor's value, whatever the group says: torch's behaviour
        state["sum"] = torch.full_like(p, self.defaults["initial_accumulator_value"],
                                       memory_format=torch.preserve_format)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        # state dicts from older torch versions lack these keys
        fill_group_defaults(self.param_groups, foreach=None, maximize=False, differentiable=False,
                            fused=None)
        tensor_steps(self)

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
        if self._check_fused_params:
            _fused.check_fused_groups(self.param_groups)
            self._check_fused_params = False
        for group in self.param_groups:
            params, grads, sums, steps = self._init_group(group)
            if not params:
                continue
            options = dict(lr=as_scalar(group["lr"]), lr_decay=group["lr_decay"],
                           weight_decay=group["weight_decay"], eps=group["eps"],
                           maximize=group["maximize"])
            if group["fused"]:
                options["lr"] = as_float(options["lr"])
                _fused_adagrad(params, grads, sums, steps, grad_scale=getattr(self, "grad_scale", None),
                               found_inf=getattr(self, "found_inf", None), **options)
            elif use_foreach(group["foreach"], params):
                _multi_tensor_adagrad(params, grads, sums, steps, **options)
            else:
                _single_tensor_adagrad(params, grads, sums, steps, **options)
        return loss


def _decayed_lr(t, lr, lr_decay):
    """lr_t = lr / (1 + (t - 1) * lr_decay): the scalar part of the rule (a tensor for a Tensor lr,
    rounded to its dtype as in torch)."""
    return lr / (1 + (t - 1) * lr_decay)


def _adagrad_param(param, g, cache, lr_t, *, eps, weight_decay, maximize) -> None:
    """The rule for one param, in place. lr_t is a 0-dim tensor of the param's dtype, used only as
    a tensor operand (see optimizers/_fused.py)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g.add(param, alpha=weight_decay)       # g = g + wd * w
    cache.addcmul_(g, g, value=1)                  # cache = cache + g^2
    std = cache.sqrt().add_(eps)                   # sqrt(cache) + eps
    param.addcdiv_(g, std.div_(lr_t), value=-1)    # w = w - lr_t * g / (sqrt(cache) + eps)


def _single_tensor_adagrad(params, grads, sums, steps, *, lr, lr_decay, weight_decay, eps,
                           maximize) -> None:
    """One param at a time: the readable oracle."""
    for dev_params, dev_grads, dev_sums, dev_steps in group_by_device_and_dtype(
            params, grads, sums, steps):
        scalars = _fused.PerStep(lambda t: (_decayed_lr(t, lr, lr_decay),), dev_params[0])
        for param, g, cache, step_t in zip(dev_params, dev_grads, dev_sums, dev_steps):
            step_t += 1
            _adagrad_param(param, g, cache, *scalars(step_t.item()), eps=eps,
                           weight_decay=weight_decay, maximize=maximize)


def _adagrad_group(params, grads, sums, per_param, grad_scale, *, eps, weight_decay,
                   maximize) -> None:
    """Every param of one (device, dtype) group through `_adagrad_param`: what fused=True compiles.
    per_param rows: (lr_t,) at each param's step count."""
    for i, param in enumerate(params):
        g = grads[i] if grad_scale is None else grads[i].div_(grad_scale)  # unscale, as torch's fused
        _adagrad_param(param, g, sums[i], per_param[i, 0], eps=eps, weight_decay=weight_decay,
                       maximize=maximize)


def _fused_adagrad(params, grads, sums, steps, *, lr, lr_decay, grad_scale, found_inf,
                   **options) -> None:
    """The compiled `_adagrad_group`, once per (device, dtype) group."""
    if _fused.skip_step(found_inf):
        return
    group_loop = _fused.compiled(_adagrad_group)
    for dev_params, dev_grads, dev_sums, dev_steps in group_by_device_and_dtype(
            params, grads, sums, steps):
        bump_steps(dev_steps)
        per_param = _fused.per_step_values(dev_steps, lambda t: (_decayed_lr(t, lr, lr_decay),),
                                           dev_params[0])
        group_loop(dev_params, dev_grads, dev_sums, per_param,
                   _fused.on_device(grad_scale, dev_params[0].device), **options)


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
