"""Adam: adaptive moment estimation (and, with decoupled weight decay, AdamW)."""
from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer

from . import _fused
from ._base import (as_float, as_scalar, bump_steps, check_non_negative, closure_loss,
                    fill_group_defaults, group_by_device_and_dtype, params_with_grads, refuse_modes,
                    states_of, tensor_steps, use_foreach)


class Adam(Optimizer):
    r"""Adam, a drop-in for ``torch.optim.Adam``.

    The cheatsheet's rule, with g the gradient (negated when ``maximize``) and t the step count::

        g = g + weight_decay * w               (L2 penalty; with decoupled_weight_decay instead
                                                w = w - lr * weight_decay * w, as AdamW)
        m = b1 * m + (1 - b1) * g              first moment
        v = b2 * v + (1 - b2) * g^2            second moment
        mhat = m / (1 - b1^t)                  bias corrections: m and v start at 0
        vhat = v / (1 - b2^t)                  (amsgrad: vmax = max(vmax, v); vhat = vmax / (1 - b2^t))
        w = w - lr * mhat / (sqrt(vhat) + eps)

    State per param, as torch names it: ``step`` (a CPU float tensor; with fused=True a float32
    tensor on the param's device, as torch's fused Adam keeps it), ``exp_avg`` (m), ``exp_avg_sq``
    (v) and, with amsgrad, ``max_exp_avg_sq`` (vmax).

    Args: as ``torch.optim.Adam``: lr (1e-3), betas ((0.9, 0.999)), eps (1e-8), weight_decay (0),
    amsgrad (False), and keyword-only foreach (None: multi-tensor only when every param is on an
    accelerator), maximize (False), capturable, differentiable (accepted only off, so torch configs
    and state dicts load; on, they raise), fused (None), decoupled_weight_decay (False).

    A Tensor lr or betas follows torch's rules: accepted on the single-tensor and fused paths (the
    single-tensor path computes with them as tensors, as torch does, so the numbers are torch's),
    refused with foreach=True. ``fused=True`` runs the single-tensor rule compiled with
    ``torch.compile`` (see optimizers/_fused.py): the first step of each param group compiles.
    Like torch's fused step it honours ``optimizer.grad_scale`` (gradients are divided by it, in
    place) and ``optimizer.found_inf`` (non-zero: the step changes nothing) when they are set.
    """

    def __init__(self, params, lr: float | Tensor = 1e-3,
                 betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        # torch's checks, in torch's order (the first failing one is the error a user sees)
        if isinstance(lr, Tensor):
            if foreach and not capturable:
                raise ValueError("lr as a Tensor is not supported for capturable=False and foreach=True")
            if lr.numel() != 1:
                raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        check_non_negative(eps, "epsilon value")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        check_non_negative(weight_decay, "weight_decay value")
        both_floats = isinstance(betas[0], float) and isinstance(betas[1], float)
        both_tensors = isinstance(betas[0], Tensor) and isinstance(betas[1], Tensor)
        if not (both_floats or both_tensors):
            raise ValueError("betas must be either both floats or both Tensors")
        for i in (0, 1):
            if isinstance(betas[i], Tensor):
                if foreach and not capturable:
                    raise ValueError(f"betas[{i}] as a Tensor is not supported for capturable=False "
                                     "and foreach=True")
                if betas[i].numel() != 1:
                    raise ValueError(f"Tensor betas[{i}] must be 1-element")
        defaults = dict(lr=lr, betas=(as_scalar(betas[0]), as_scalar(betas[1])), eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable,
                        fused=fused, decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)
        _fused.check_fused_args(fused, foreach, differentiable)
        refuse_modes(type(self).__name__, capturable=capturable, differentiable=differentiable)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        # state dicts from older torch versions lack these keys
        fill_group_defaults(self.param_groups, amsgrad=False, maximize=False, foreach=None,
                            capturable=False, differentiable=False, decoupled_weight_decay=False,
                            fused=None)
        tensor_steps(self)

    def _init_group(self, group: dict) -> tuple[list[Tensor], ...]:
        """The params that have a gradient, their gradients and state tensors (aligned lists);
        a param's state is created the first time it has a gradient."""
        name, amsgrad, fused = type(self).__name__, group["amsgrad"], bool(group["fused"])
        params, grads = params_with_grads(group, name)
        if group["foreach"] and isinstance(group["lr"], Tensor):  # e.g. set by a scheduler
            raise RuntimeError("lr as a Tensor is not supported for capturable=False and foreach=True")
        buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else ("exp_avg", "exp_avg_sq")
        states = states_of(self, params, name, buffers, fused)
        return (params, grads, [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
                [s["max_exp_avg_sq"] for s in states] if amsgrad else [],
                [s["step"] for s in states])

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every param that has a gradient; returns the closure's loss if given."""
        loss = closure_loss(closure)
        for group in self.param_groups:
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps = self._init_group(group)
            if not params:
                continue
            lr = as_scalar(group["lr"])
            beta1, beta2 = group["betas"]
            options = dict(eps=group["eps"], weight_decay=group["weight_decay"],
                           amsgrad=group["amsgrad"], maximize=group["maximize"],
                           decoupled=group["decoupled_weight_decay"])
            if group["fused"]:
                _fused_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
                            lr=as_float(lr), beta1=as_float(beta1), beta2=as_float(beta2),
                            grad_scale=getattr(self, "grad_scale", None),
                            found_inf=getattr(self, "found_inf", None), **options)
            # like torch, a Tensor lr keeps the default (foreach=None) on the single-tensor path
            elif use_foreach(group["foreach"], params) and not isinstance(lr, Tensor):
                _multi_tensor_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
                                   lr=lr, beta1=as_float(beta1), beta2=as_float(beta2), **options)
            else:
                _single_tensor_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
                                    lr=lr, beta1=beta1, beta2=beta2, **options)
        return loss


def _adam_scalars(t, lr, beta1, beta2, weight_decay):
    """The scalar part of the rule at step t: (weight of g in m, step size, sqrt of the second bias
    correction, decoupled decay factor). With Tensor hyperparameters these are tensors, rounded to
    their dtype as in torch."""
    bias_correction1 = 1 - beta1 ** t
    bias_correction2 = 1 - beta2 ** t
    return (1 - beta1,                      # m = b1 * m + (1 - b1) * g
            lr / bias_correction1,          # lr * mhat / m
            bias_correction2 ** 0.5,        # sqrt(v / vhat)
            1 - lr * weight_decay)          # w = w - lr * wd * w  =  (1 - lr * wd) * w


def _adam_param(param, g, m, v, vmax, m_weight, step_size, bias_correction2_sqrt, decay, *, beta2,
                eps, weight_decay, amsgrad, maximize, decoupled) -> None:
    """The rule for one param, in place. The positional scalars (from `_adam_scalars`) are 0-dim
    tensors of the param's dtype, used only as tensor operands (see optimizers/_fused.py)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            param.mul_(decay)                                # w = w - lr * wd * w (AdamW)
        else:
            g = g.add(param, alpha=weight_decay)             # g = g + wd * w
    m.lerp_(g, m_weight)                                     # m = b1 * m + (1 - b1) * g
    v.mul_(beta2).addcmul_(g, g, value=1 - beta2)            # v = b2 * v + (1 - b2) * g^2
    if amsgrad:
        # vmax = max(vmax, v), in place (torch.maximum(..., out=vmax) is the same, but torch.compile
        # refuses out= on a non-contiguous param's state; clamp_min_ propagates NaN as maximum does)
        v = vmax.clamp_min_(v)
    denom = v.sqrt().div_(bias_correction2_sqrt).add_(eps)   # sqrt(vhat) + eps
    # w = w - lr * mhat / (sqrt(vhat) + eps) = w - step_size * m / denom
    param.addcdiv_(m, denom.div_(step_size), value=-1)


def _single_tensor_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1,
                        beta2, eps, weight_decay, amsgrad, maximize, decoupled) -> None:
    """One param at a time: the readable oracle."""
    for (dev_params, dev_grads, dev_m, dev_v, dev_vmax, dev_steps) in group_by_device_and_dtype(
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps):
        scalars = _fused.PerStep(lambda t: _adam_scalars(t, lr, beta1, beta2, weight_decay),
                                 dev_params[0])
        for i, param in enumerate(dev_params):
            dev_steps[i] += 1
            _adam_param(param, dev_grads[i], dev_m[i], dev_v[i], dev_vmax[i] if amsgrad else None,
                        *scalars(dev_steps[i].item()), beta2=beta2, eps=eps,
                        weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        decoupled=decoupled)


def _adam_group(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, per_param, grad_scale, *,
                beta2, eps, weight_decay, amsgrad, maximize, decoupled) -> None:
    """Every param of one (device, dtype) group through `_adam_param`: what fused=True compiles.
    per_param rows: `_adam_scalars` at each param's step count."""
    for i, param in enumerate(params):
        g = grads[i] if grad_scale is None else grads[i].div_(grad_scale)  # unscale, as torch's fused
        m_weight, step_size, bias_correction2_sqrt, decay = per_param[i].unbind()
        _adam_param(param, g, exp_avgs[i], exp_avg_sqs[i], max_exp_avg_sqs[i] if amsgrad else None,
                    m_weight, step_size, bias_correction2_sqrt, decay, beta2=beta2, eps=eps,
                    weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                    decoupled=decoupled)


def _fused_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1, beta2,
                weight_decay, grad_scale, found_inf, **options) -> None:
    """The compiled `_adam_group`, once per (device, dtype) group."""
    if _fused.skip_step(found_inf):
        return
    group_loop = _fused.compiled(_adam_group)
    for (dev_params, dev_grads, dev_m, dev_v, dev_vmax, dev_steps) in group_by_device_and_dtype(
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps):
        bump_steps(dev_steps)
        per_param = _fused.per_step_values(
            dev_steps, lambda t: _adam_scalars(t, lr, beta1, beta2, weight_decay), dev_params[0])
        group_loop(dev_params, dev_grads, dev_m, dev_v, dev_vmax, per_param,
                   _fused.on_device(grad_scale, dev_params[0].device), beta2=beta2,
                   weight_decay=weight_decay, **options)


def _multi_tensor_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1,
                       beta2, eps, weight_decay, amsgrad, maximize, decoupled) -> None:
    """The same rule, one foreach call per operation and (device, dtype) group."""
    for (dev_params, dev_grads, dev_m, dev_v, dev_vmax, dev_steps) in group_by_device_and_dtype(
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps):
        if maximize:
            dev_grads = torch._foreach_neg(dev_grads)
        bump_steps(dev_steps)
        if weight_decay != 0:
            if decoupled:
                torch._foreach_mul_(dev_params, 1 - lr * weight_decay)
            elif maximize:  # dev_grads is already our temporary: reuse it
                torch._foreach_add_(dev_grads, dev_params, alpha=weight_decay)
            else:
                dev_grads = torch._foreach_add(dev_grads, dev_params, alpha=weight_decay)
        torch._foreach_lerp_(dev_m, dev_grads, 1 - beta1)
        torch._foreach_mul_(dev_v, beta2)
        torch._foreach_addcmul_(dev_v, dev_grads, dev_grads, 1 - beta2)
        del dev_grads  # lower the peak memory before the denominators are allocated
        # the step counts may differ between params (a param that got its first gradient late)
        ts = [s.item() for s in dev_steps]
        neg_step_sizes = [(lr / (1 - beta1 ** t)) * -1 for t in ts]
        bias_correction2_sqrts = [(1 - beta2 ** t) ** 0.5 for t in ts]
        if amsgrad:
            torch._foreach_maximum_(dev_vmax, dev_v)
            denom = torch._foreach_sqrt(dev_vmax)
        else:
            denom = torch._foreach_sqrt(dev_v)
        torch._foreach_div_(denom, bias_correction2_sqrts)
        torch._foreach_add_(denom, eps)
        torch._foreach_addcdiv_(dev_params, dev_m, denom, neg_step_sizes)
