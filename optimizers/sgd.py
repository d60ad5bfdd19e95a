"""Stochastic gradient descent, with classical or Nesterov momentum."""
from __future__ import annotations

import torch
from torch import Tensor
from torch.optim import Optimizer

from ._base import (as_float, check_lr, check_non_negative, closure_loss, fill_group_defaults,
                    group_with_indices, refuse_modes, use_foreach)


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
    every param is on an accelerator), differentiable (False), fused (None). ``differentiable`` and
    ``fused`` are accepted only off (they exist so torch configs load); turning them on raises.
    """

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
        refuse_modes("SGD", differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

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
        for group in self.param_groups:
            params, grads, bufs, has_sparse_grad = self._init_group(group)
            if not params:
                continue
            # the foreach kernels take dense tensors only; the tensor methods take sparse ones too
            foreach = use_foreach(group["foreach"], params) and not has_sparse_grad
            update = _multi_tensor_sgd if foreach else _single_tensor_sgd
            update(params, grads, bufs, lr=as_float(group["lr"]), momentum=group["momentum"],
                   dampening=group["dampening"], weight_decay=group["weight_decay"],
                   nesterov=group["nesterov"], maximize=group["maximize"])
            if group["momentum"] != 0:
                # the buffers created on the first step become state only now
                for p, buf in zip(params, bufs):
                    self.state[p]["momentum_buffer"] = buf
        return loss


def _single_tensor_sgd(params, grads, bufs, *, lr, momentum, dampening, weight_decay, nesterov,
                       maximize) -> None:
    """One param at a time: the readable oracle."""
    for i, param in enumerate(params):
        g = -grads[i] if maximize else grads[i]
        if weight_decay != 0:
            g = g.add(param, alpha=weight_decay)               # g = g + wd * w
        if momentum != 0:
            v = bufs[i]
            if v is None:
                v = bufs[i] = g.detach().clone()               # v_1 = g_1
            else:
                v.mul_(momentum).add_(g, alpha=1 - dampening)  # v = mu * v + (1 - tau) * g
            g = g.add(v, alpha=momentum) if nesterov else v    # nesterov: g + mu * v; classic: v
        param.add_(g, alpha=-lr)                               # w = w - lr * g


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
