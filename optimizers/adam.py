"""Adam: adaptive moment estimation (and, with decoupled weight decay, AdamW)."""
from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer

from ._base import (as_float, bump_steps, check_lr, check_non_negative, closure_loss,
                    fill_group_defaults, group_by_device_and_dtype, params_with_grads, refuse_modes,
                    states_of, use_foreach)


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

    State per param, as torch names it: ``step`` (a CPU float tensor), ``exp_avg`` (m),
    ``exp_avg_sq`` (v) and, with amsgrad, ``max_exp_avg_sq`` (vmax).

    Args: as ``torch.optim.Adam``: lr (1e-3), betas ((0.9, 0.999)), eps (1e-8), weight_decay (0),
    amsgrad (False), and keyword-only foreach (None: multi-tensor only when every param is on an
    accelerator), maximize (False), capturable, differentiable, fused (accepted only off, so torch
    configs and state dicts load; on, they raise), decoupled_weight_decay (False).
    A Tensor lr or betas is read as its value at each step.
    """

    def __init__(self, params, lr: float | Tensor = 1e-3,
                 betas: tuple[float | Tensor, float | Tensor] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        check_lr(lr)
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
            if isinstance(betas[i], Tensor) and betas[i].numel() != 1:
                raise ValueError(f"Tensor betas[{i}] must be 1-element")
        refuse_modes(type(self).__name__, capturable=capturable, differentiable=differentiable,
                     fused=fused)
        defaults = dict(lr=lr, betas=(betas[0], betas[1]), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        # state dicts from older torch versions lack these keys
        fill_group_defaults(self.param_groups, amsgrad=False, maximize=False, foreach=None,
                            capturable=False, differentiable=False, decoupled_weight_decay=False,
                            fused=None)

    def _init_group(self, group: dict) -> tuple[list[Tensor], ...]:
        """The params that have a gradient, their gradients and state tensors (aligned lists);
        a param's state is created the first time it has a gradient."""
        amsgrad = group["amsgrad"]
        params, grads = params_with_grads(group, "Adam")
        buffers = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq") if amsgrad else ("exp_avg", "exp_avg_sq")
        states = states_of(self, params, "Adam", buffers)
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
            update = _multi_tensor_adam if use_foreach(group["foreach"], params) else _single_tensor_adam
            beta1, beta2 = group["betas"]
            update(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps,
                   lr=as_float(group["lr"]), beta1=as_float(beta1), beta2=as_float(beta2),
                   eps=group["eps"], weight_decay=group["weight_decay"], amsgrad=group["amsgrad"],
                   maximize=group["maximize"], decoupled=group["decoupled_weight_decay"])
        return loss


def _single_tensor_adam(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, steps, *, lr, beta1,
                        beta2, eps, weight_decay, amsgrad, maximize, decoupled) -> None:
    """One param at a time: the readable oracle."""
    for i, param in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        m, v, step_t = exp_avgs[i], exp_avg_sqs[i], steps[i]
        step_t += 1
        if weight_decay != 0:
            if decoupled:
                param.mul_(1 - lr * weight_decay)            # w = w - lr * wd * w (AdamW)
            else:
                g = g.add(param, alpha=weight_decay)         # g = g + wd * w
        m.lerp_(g, 1 - beta1)                                # m = b1 * m + (1 - b1) * g
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)        # v = b2 * v + (1 - b2) * g^2
        t = step_t.item()
        bias_correction1 = 1 - beta1 ** t
        bias_correction2 = 1 - beta2 ** t
        step_size = lr / bias_correction1                    # lr * mhat / m
        bias_correction2_sqrt = bias_correction2 ** 0.5
        if amsgrad:
            torch.maximum(max_exp_avg_sqs[i], v, out=max_exp_avg_sqs[i])  # vmax = max(vmax, v)
            v = max_exp_avg_sqs[i]
        denom = (v.sqrt() / bias_correction2_sqrt).add_(eps)  # sqrt(vhat) + eps
        param.addcdiv_(m, denom, value=-step_size)           # w = w - lr * mhat / (sqrt(vhat) + eps)


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
