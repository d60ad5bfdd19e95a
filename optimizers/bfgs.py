"""BFGS: quasi-Newton steps with a dense inverse-Hessian estimate (small models only)."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ._base import as_scalar, check_lr
from ._closure_loop import first_evaluation, first_step_length, move_along
from ._line_search import (FlatParams, check_line_search, check_single_group,
                           require_closure)


def bfgs_update(h: Tensor | None, s: Tensor, y: Tensor, ys: Tensor) -> Tensor:
    """H <- (I - rho s y^T) H (I - rho y s^T) + rho s s^T with rho = 1 / y^T s, as a new matrix.

    Expanded with Hy = H y (H is symmetric):
        H - rho (s (Hy)^T + (Hy) s^T) + (rho^2 y^T H y + rho) s s^T
    Before the first update H is the scaled identity (y^T s / y^T y) I (Nocedal & Wright, eq. 6.20).
    """
    rho = 1.0 / ys
    if h is None:
        h = torch.eye(s.numel(), dtype=s.dtype, device=s.device) * (ys / y.dot(y))
    hy = h.mv(y)
    h = h - rho * (torch.outer(s, hy) + torch.outer(hy, s))
    return h + (rho * rho * y.dot(hy) + rho) * torch.outer(s, s)


class BFGS(torch.optim.Optimizer):
    r"""Broyden-Fletcher-Goldfarb-Shanno with a dense n x n inverse Hessian (n = number of parameters).

    With s_k = x_{k+1} - x_k, y_k = g_{k+1} - g_k and rho_k = 1 / y_k^T s_k:

        d_k = -H_k g_k
        x_{k+1} = x_k + t_k d_k                      t_k = lr, or from a strong-Wolfe line search
        H_{k+1} = (I - rho_k s_k y_k^T) H_k (I - rho_k y_k s_k^T) + rho_k s_k s_k^T

    H_0 = I for the first step, then (y^T s / y^T y) I just before the first update. The update is
    skipped when y^T s <= 1e-10 (it would lose positive definiteness). Memory is n^2 numbers and each
    iteration O(n^2) work, so models above ``max_params`` parameters are refused: use LBFGS there.

    Arguments, stopping rules and the closure are those of LBFGS (without ``history_size``): the
    closure zeroes the gradients, computes the loss, calls ``loss.backward()`` and returns the loss.
    All parameters form a single group.

    Args:
        params: parameters to optimize (one group).
        lr: step length, or the first trial step of the line search (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure calls per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when the largest gradient entry is at most this (default 1e-7).
        tolerance_change: stop when the step or loss change is below this (default 1e-9).
        line_search_fn: ``None`` (fixed step lr) or ``'strong_wolfe'``.
        max_params: the largest parameter count accepted (default 5000).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params, lr: float | Tensor = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 line_search_fn: str | None = None, max_params: int = 5000, *, maximize: bool = False):
        check_lr(lr)
        check_line_search(line_search_fn)
        if max_iter < 1:
            raise ValueError(f"Invalid max_iter value: {max_iter}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, line_search_fn=line_search_fn,
                        maximize=maximize)
        super().__init__(params, defaults)
        check_single_group(self)
        self._params = self.param_groups[0]["params"]
        self._flat = FlatParams(self._params)
        n = self._flat.numel
        if n > max_params:
            raise ValueError(
                f"BFGS keeps a dense {n} x {n} inverse Hessian: {n} parameters exceed "
                f"max_params={max_params}; use LBFGS (limited-memory BFGS) for a model this size"
            )

    @torch.no_grad()
    def step(self, closure: Callable | None = None):  # type: ignore[override]
        closure = require_closure(self, closure)
        if not self._params:
            return closure()
        group = self.param_groups[0]
        lr = as_scalar(group["lr"])
        max_iter = group["max_iter"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        maximize = group["maximize"]
        flat = self._flat

        state = self.state[self._params[0]]  # global state, kept under the first parameter

        orig_loss, loss, g = first_evaluation(closure, flat, state, maximize)
        evals = 1
        if g.abs().max() <= tolerance_grad:
            return orig_loss

        d, t, h = state.get("d"), state.get("t"), state.get("H")
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        for it in range(1, max_iter + 1):
            state["n_iter"] += 1
            first = state["n_iter"] == 1
            if first:
                d, h = g.neg(), None
            else:
                s, y = d.mul(t), g.sub(prev_g)
                ys = y.dot(s)
                if ys > 1e-10:
                    h = bfgs_update(h, s, y, ys)
                d = g.neg() if h is None else h.mv(g).neg_()
            prev_g, prev_loss = g, loss

            if first:
                t = first_step_length(g, lr)
            else:
                t = lr
            gtd = g.dot(d)
            if not gtd <= -tolerance_change:  # no descent left (or NaN)
                break

            loss, g, t, evals, stop = move_along(closure, flat, state, group, d, t, loss, g, gtd,
                                                 prev_loss, it, evals)
            if stop:
                break

        state.update(d=d, t=t, H=h, prev_flat_grad=prev_g, prev_loss=prev_loss)
        return orig_loss
