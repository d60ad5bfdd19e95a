"""L-BFGS: quasi-Newton steps from the last few gradient differences."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ._base import as_scalar, check_lr
from ._closure_loop import first_evaluation, first_step_length, move_along
from ._line_search import (FlatParams, check_line_search, check_single_group,
                           require_closure)


def lbfgs_direction(g: Tensor, dirs: list[Tensor], stps: list[Tensor], ro: list, h_diag,
                    alphas: list) -> Tensor:
    """d = -H g by the two-loop recursion, H being the L-BFGS inverse Hessian of the stored pairs.

    Pairs (s_i, y_i) = (x_{i+1} - x_i, g_{i+1} - g_i), rho_i = 1 / y_i.s_i, H_0 = h_diag * I:
        q = -g;  for i newest..oldest:  a_i = rho_i s_i.q;  q -= a_i y_i
        r = H_0 q;  for i oldest..newest:  b = rho_i y_i.r;  r += (a_i - b) s_i
    """
    q = g.neg()
    for i in reversed(range(len(dirs))):
        alphas[i] = stps[i].dot(q) * ro[i]
        q.add_(dirs[i], alpha=-alphas[i])
    r = torch.mul(q, h_diag)
    for i in range(len(dirs)):
        b = dirs[i].dot(r) * ro[i]
        r.add_(stps[i], alpha=alphas[i] - b)
    return r


class LBFGS(torch.optim.Optimizer):
    r"""Limited-memory BFGS, a drop-in replacement for ``torch.optim.LBFGS`` (same trajectory).

    Newton's step is  x <- x - H g  with H the inverse Hessian. BFGS builds H from the steps
    s_k = x_{k+1} - x_k and gradient changes y_k = g_{k+1} - g_k; L-BFGS keeps only the last
    ``history_size`` pairs and applies H to g without forming it (two-loop recursion), starting from
    H_0 = (y.s / y.y) I. A pair is stored only when the curvature y.s > 1e-10 keeps H positive definite.

        d_k = -H_k g_k
        x_{k+1} = x_k + t_k d_k        t_k = lr, or from a strong-Wolfe line search

    One ``step(closure)`` runs up to ``max_iter`` such iterations (``max_eval`` closure calls) and stops
    early when max|g| <= tolerance_grad, or when the step or the change of the loss falls below
    tolerance_change. The first iteration uses t = min(1, 1/|g|_1) * lr.

    The closure zeroes the gradients, computes the loss, calls ``loss.backward()`` and returns the
    loss; it is called several times per step. All parameters form a single group.

    Args:
        params: parameters to optimize (one group).
        lr: step length, or the first trial step of the line search (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure calls per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when the largest gradient entry is at most this (default 1e-7).
        tolerance_change: stop when the step or loss change is below this (default 1e-9).
        history_size: number of (s, y) pairs kept (default 100).
        line_search_fn: ``None`` (fixed step lr) or ``'strong_wolfe'``.
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params, lr: float | Tensor = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: str | None = None, *, maximize: bool = False):
        check_lr(lr)
        check_line_search(line_search_fn)
        if history_size < 1:
            raise ValueError(f"Invalid history_size value: {history_size}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, history_size=history_size,
                        line_search_fn=line_search_fn, maximize=maximize)
        super().__init__(params, defaults)
        check_single_group(self)
        self._params = self.param_groups[0]["params"]
        self._flat = FlatParams(self._params)

    @torch.no_grad()
    def step(self, closure: Callable | None = None):  # type: ignore[override]
        closure = require_closure(self, closure)
        check_single_group(self)
        if not self._params:
            return closure()
        group = self.param_groups[0]
        lr = as_scalar(group["lr"])
        max_iter = group["max_iter"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size, maximize = group["history_size"], group.get("maximize", False)
        flat = self._flat

        # the method's state is global; it lives under the first parameter so that
        # load_state_dict moves it to the parameters' device and dtype
        state = self.state[self._params[0]]

        orig_loss, loss, g = first_evaluation(closure, flat, state, maximize)
        evals = 1
        if g.abs().max() <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        dirs, stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag = state.get("H_diag")
        prev_g, prev_loss = state.get("prev_flat_grad"), state.get("prev_loss")

        for it in range(1, max_iter + 1):
            state["n_iter"] += 1
            first = state["n_iter"] == 1
            if first:
                d = g.neg()
                dirs, stps, ro = [], [], []
                h_diag = 1
            else:
                y = g.sub(prev_g)
                s = d.mul(t)
                ys = y.dot(s)
                if ys > 1e-10:  # keep H positive definite: only pairs with positive curvature
                    if len(dirs) == history_size:
                        del dirs[0], stps[0], ro[0]
                    dirs.append(y)
                    stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / y.dot(y)
                if "al" not in state:
                    state["al"] = [None] * history_size
                d = lbfgs_direction(g, dirs, stps, ro, h_diag, state["al"])
            # gradients are fresh tensors that are never modified, so no copy is needed
            prev_g, prev_loss = g, loss

            if first:
                t = first_step_length(g, lr)
            else:
                t = lr
            gtd = g.dot(d)
            if gtd > -tolerance_change:  # not a descent direction any more
                break

            loss, g, t, evals, stop = move_along(closure, flat, state, group, d, t, loss, g, gtd,
                                                 prev_loss, it, evals)
            if stop:
                break

        state.update(d=d, t=t, old_dirs=dirs, old_stps=stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_g, prev_loss=prev_loss)
        return orig_loss
