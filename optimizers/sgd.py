"""Stochastic gradient descent, with classical or Nesterov momentum."""
from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer

from . import _fused
from ._base import (as_float, as_scalar, check_lr, check_non_negative, closure_loss,
                    fill_group_defaults, group_with_indices, refuse_modes, use_foreach)


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), a drop-in for ``torch.optim.SGD``.

    The cheatsheet's rules, with g the gradient (negated when ``maximize``; plus
    ``weight_decay * w`` when weight decay is on)::

        plain:     w = w - lr * g
        momentum:  v = momentum * v + (1 - dampening) * g      (v = g on the first step)
                   w = w - lr * v
        nesterov:  v as above;  w = w - lr * (g + momentum * v)

    Like torch, the velocity is accumulated without the learning rate (so changing lr mid-run does
    not rescale the stored velocity) and starts as the first gradient, undamped. Also like torch,
    the multi-tensor Nesterov path leaves ``g + momentum * v`` in each ``.grad`` (it reuses the
    gradient's memory); every other path reads ``.grad`` without writing it.

    Args: as ``torch.optim.SGD``: lr (1e-3), momentum (0), dampening (0), weight_decay (0),
    nesterov (False), and keyword-only maximize (False), foreach (None: multi-tensor only when
    every param is on an accelerator), differentiable (accepted only off, so torch configs load),
    fused (None). ``fused=True`` runs the single-tensor rule compiled with ``torch.compile`` (see
    optimizers/_fused.py; the first step of each param group compiles) and, like torch's fused
    step, honours ``optimizer.grad_scale`` and ``optimizer.found_inf`` when they are set.
    """

    _check_fused_params = True  # until the first fused step (and again after add_param_group)

    def __init__(self, params, lr: float | Tensor = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        check_lr(lr)
        check_non_negative(momentum, "momentum value")
        check_non_negative(weight_decay, "weight_decay value")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)
        _fused.check_fused_args(fused, foreach, differentiable)
        refuse_modes("SGD", differentiable=differentiable)

    def add_param_group(self, param_group: dict) -> None:
        super().add_param_group(param_group)
        self._check_fused_params = True

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        # state dicts from older torch versions lack these keys
        fill_group_defaults(self.param_groups, nesterov=False, maximize=False, foreach=None,
                            differentiable=False, fused=False)

    def _init_group(self, group: dict) -> tuple[list[Tensor], list[Tensor], list, bool]:
        """The params that have a gradient, their gradients and momentum buffers (None before the
        first step: a buffer is born as a copy of the first gradient, inside the update), and
        whether a gradient is sparse (nn.Embedding(sparse=True))."""
        # comprehensions rather than an append loop: this runs per param per step
        params = [p for p in group["params"] if p.grad is not None]
        grads = [p.grad for p in params]
        state = self.state
        bufs = [state[p].get("momentum_buffer") for p in params] if group["momentum"] != 0 else []
        return params, grads, bufs, any(g.is_sparse for g in grads)

    @torch.no_grad()
    def step(self, closure=None):
        """One update of every param that has a gradient; returns the closure's loss if given."""
        loss = closure_loss(closure)
        if self._check_fused_params:
            _fused.check_fused_groups(self.param_groups)
            self._check_fused_params = False
        for group in self.param_groups:
            params, grads, bufs, has_sparse_grad = self._init_group(group)
            if not params:
                continue
            # a buffer is born on a param's first step; later steps update it in place
            new_bufs = any(b is None for b in bufs)
            options = dict(momentum=group["momentum"], dampening=group["dampening"],
                           weight_decay=group["weight_decay"], nesterov=group["nesterov"],
                           maximize=group["maximize"])
            if group["fused"]:
                if has_sparse_grad:
                    raise RuntimeError("`_fused_sgd` does not support sparse gradients")
                _fused_sgd(params, grads, bufs, lr=as_float(group["lr"]),
                           grad_scale=getattr(self, "grad_scale", None),
                           found_inf=getattr(self, "found_inf", None), **options)
            # the foreach kernels take dense tensors only; the tensor methods take sparse ones too
            elif use_foreach(group["foreach"], params) and not has_sparse_grad:
                _multi_tensor_sgd(params, grads, bufs, lr=as_float(group["lr"]), **options)
            else:
                _single_tensor_sgd(params, grads, bufs, lr=as_scalar(group["lr"]), **options)
            if new_bufs:
                # the buffers created on the first step become state only now
                for p, buf in zip(params, bufs):
                    self.state[p]["momentum_buffer"] = buf
        return loss


def _sgd_param(param, g, buf, lr, momentum, *, dampening, weight_decay, nesterov, maximize):
    """The rule for one param, in place; returns its momentum buffer (born as a copy of g).

    lr and momentum are numbers on the single-tensor path (as in torch's) and 0-dim tensors of the
    param's dtype on the fused path (see optimizers/_fused.py); every op below takes either form.
    momentum is None when it is off (0)."""
    if maximize:
        g = -g
    if weight_decay != 0:
        g = g.add(param, alpha=weight_decay)               # g = g + wd * w
    if momentum is not None:
        if buf is None:
            buf = g.detach().clone()                       # v_1 = g_1
        else:
            buf.mul_(momentum).add_(g, alpha=1 - dampening)  # v = mu * v + (1 - tau) * g
        if nesterov:
            g = g.add(buf, alpha=momentum)                 # nesterov: g + mu * v
        else:
            g = buf                                        # classic: v
    param.add_(g, alpha=-lr)                               # w = w - lr * g
    return buf


def _single_tensor_sgd(params, grads, bufs, *, lr, momentum, dampening, weight_decay, nesterov,
                       maximize) -> None:
    """One param at a time: the readable oracle. New momentum buffers are written into `bufs`."""
    with_momentum = momentum != 0
    for i, param in enumerate(params):
        buf = _sgd_param(param, grads[i], bufs[i] if with_momentum else None, lr,
                         momentum if with_momentum else None, dampening=dampening,
                         weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        if with_momentum:
            bufs[i] = buf


def _sgd_group(params, grads, bufs, lr, momentum, grad_scale, *, with_momentum, dampening,
               weight_decay, nesterov, maximize) -> list:
    """Every param of one (device, dtype) group through `_sgd_param`: what fused=True compiles.
    Returns the momentum buffers created in this call (None where one existed already: returning
    those would make each a compiled output aliasing an input, a per-step cost per param)."""
    created = []
    for i, param in enumerate(params):
        g = grads[i] if grad_scale is None else grads[i].div_(grad_scale)  # unscale, as torch's fused
        old = bufs[i] if with_momentum else None
        buf = _sgd_param(param, g, old, lr, momentum if with_momentum else None,
                         dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                         maximize=maximize)
        created.append(buf if old is None else None)
    return created


def _fused_sgd(params, grads, bufs, *, lr, momentum, grad_scale, found_inf, **options) -> None:
    """The compiled `_sgd_group`, once per (device, dtype) group; new buffers go into `bufs`."""
    if _fused.skip_step(found_inf):
        return
    group_loop = _fused.compiled(_sgd_group)
    for (dev_params, dev_grads, dev_bufs), indices in group_with_indices(params, grads, bufs):
        lr_t, momentum_t = _fused.operands((lr, momentum), dev_params[0])
        created = group_loop(dev_params, dev_grads, dev_bufs, lr_t, momentum_t,
                             _fused.on_device(grad_scale, dev_params[0].device),
                             with_momentum=momentum != 0, **options)
        if momentum != 0:
            for j, buf in zip(indices, created):
                if buf is not None:
                    bufs[j] = buf


def _multi_tensor_sgd(params, grads, bufs, *, lr, momentum, dampening, weight_decay, nesterov,
                      maximize) -> None:
    """The same rule, one foreach call per operation and (device, dtype) group."""
    for (dev_params, dev_grads, dev_bufs), indices in group_with_indices(params, grads, bufs):
        if maximize:
            dev_grads = torch._foreach_neg(dev_grads)
        if weight_decay != 0:
            if maximize:  # dev_grads is already our temporary: reuse it
                torch._foreach_add_(dev_grads, dev_params, alpha=weight_decay)
            else:
                dev_grads = torch._foreach_add(dev_grads, dev_params, alpha=weight_decay)
        if momentum != 0:
            if all(b is not None for b in dev_bufs):
                torch._foreach_mul_(dev_bufs, momentum)
                torch._foreach_add_(dev_bufs, dev_grads, alpha=1 - dampening)
            else:
                # first step (or a param that got its first gradient late): born as a copy of g,
                # written back into the caller's `bufs` so that step() can store it as state
                for j, b in enumerate(dev_bufs):
                    if b is None:
                        dev_bufs[j] = bufs[indices[j]] = dev_grads[j].detach().clone()
                    else:
                        b.mul_(momentum).add_(dev_grads[j], alpha=1 - dampening)
            if nesterov:
                # in place even when dev_grads are the params' .grad, as torch's foreach path does:
                # a temporary as large as the model would cost ~20% of the step
                torch._foreach_add_(dev_grads, dev_bufs, alpha=momentum)
            else:
                dev_grads = dev_bufs
        torch._foreach_add_(dev_params, dev_grads, alpha=-lr)
