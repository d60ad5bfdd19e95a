"""Nonlinear conjugate gradient (Polak-Ribiere+) with a strong-Wolfe line search."""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

from ._base import as_scalar, check_lr
from ._closure_loop import first_evaluation, first_step_length, move_along
from ._line_search import (FlatParams, check_line_search, check_single_group,
                           require_closure)


class ConjugateGradient(torch.optim.Optimizer):
    r"""Nonlinear conjugate gradient with the Polak-Ribiere+ choice of beta.

    Each direction is the negative gradient plus a multiple of the previous direction, chosen so that
    on a quadratic successive directions are conjugate (d_i^T A d_j = 0) and an n-dimensional problem
    is solved in n exact line searches:

        beta_k = max(0, g_k^T (g_k - g_{k-1}) / g_{k-1}^T g_{k-1})      (Polak-Ribiere+)
        d_k = -g_k + beta_k d_{k-1}
        x_{k+1} = x_k + t_k d_k              t_k from a strong-Wolfe line search (or t_k = lr)

    The method restarts with d_k = -g_k every ``restart`` iterations (default: the number of
    parameters) and whenever d_k is not a descent direction (g_k^T d_k >= 0); beta = 0 from the "+"
    is a restart too. The first trial step is t = min(1, 1/|g|_1) * lr on the very first iteration and
    t_{k-1} g_{k-1}^T d_{k-1} / g_k^T d_k afterwards (Nocedal & Wright, eq. 3.60). Conjugacy needs
    accurate line searches, hence the curvature constant c2 = 0.1 rather than quasi-Newton's 0.9.

    One ``step(closure)`` runs up to ``max_iter`` iterations with the stopping rules of LBFGS. The
    closure zeroes the gradients, computes the loss, calls ``loss.backward()`` and returns the loss.
    All parameters form a single group.

    Args:
        params: parameters to optimize (one group).
        lr: scales the first trial step (or the fixed step without line search) (default 1).
        max_iter: iterations per ``step`` (default 20).
        max_eval: closure calls per ``step`` (default ``max_iter * 5 // 4``).
        tolerance_grad: stop when the largest gradient entry is at most this (default 1e-7).
        tolerance_change: stop when the step or loss change is below this (default 1e-9).
        restart: restart with steepest descent every this many iterations (default: parameter count).
        line_search_fn: ``'strong_wolfe'`` (default) or ``None`` (fixed step lr).
        c1: sufficient-decrease constant of the line search (default 1e-4).
        c2: curvature constant of the line search (default 0.1).
        maximize: maximize the objective instead of minimizing it.
    """

    def __init__(self, params, lr: float | Tensor = 1, max_iter: int = 20, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, restart: int | None = None,
                 line_search_fn: str | None = "strong_wolfe", c1: float = 1e-4, c2: float = 0.1, *,
                 maximize: bool = False):
        check_lr(lr)
        check_line_search(line_search_fn)
        if max_iter < 1:
            raise ValueError(f"Invalid max_iter value: {max_iter}")
        if restart is not None and restart < 1:
            raise ValueError(f"Invalid restart value: {restart}")
        if not 0.0 < c1 < c2 < 1.0:
            raise ValueError(f"Invalid line search constants: need 0 < c1 < c2 < 1, got c1={c1}, c2={c2}")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, restart=restart, line_search_fn=line_search_fn,
                        c1=c1, c2=c2, maximize=maximize)
        super().__init__(params, defaults)
        check_single_group(self)
        self._params = self.param_groups[0]["params"]
        self._flat = FlatParams(self._params)

    @torch.no_grad()
    def step(self, closure: Callable | None = None):  # type: ignore[override]
        closure = require_closure(self, closure)
        if not self._params:
            return closure()
        group = self.param_groups[0]
        lr = as_scalar(group["lr"])
        max_iter = group["max_iter"]
        tolerance_grad = group["tolerance_grad"]
        maximize = group["maximize"]
        flat = self._flat
        restart_every = group["restart"] or flat.numel

        state = self.state[self._params[0]]  # global state, kept under the first parameter
        state.setdefault("since_restart", 0)

        orig_loss, loss, g = first_evaluation(closure, flat, state, maximize)
        evals = 1
        if g.abs().max() <= tolerance_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        prev_g, prev_loss, prev_gtd = state.get("prev_flat_grad"), state.get("prev_loss"), state.get("prev_gtd")

        for it in range(1, max_iter + 1):
            state["n_iter"] += 1
            first = state["n_iter"] == 1
            steepest = first or state["since_restart"] >= restart_every
            if not steepest:
                beta = g.dot(g - prev_g) / prev_g.dot(prev_g)
                d = d.mul(beta.clamp(min=0)).sub_(g)
                steepest = not bool(g.dot(d) < 0)  # lost descent (or NaN): start over
            if steepest:
                d = g.neg()
                state["since_restart"] = 0
            state["since_restart"] += 1
            gtd = g.dot(d)

            if first:
                t = first_step_length(g, lr)
            elif group["line_search_fn"] is None:
                t = lr
            else:
                t = t * prev_gtd / gtd  # expect the same first-order decrease as last time
                if not 0.0 < float(t) < float("inf"):  # last search made no progress: start afresh
                    t = lr
            prev_g, prev_loss, prev_gtd = g, loss, gtd
            # (L-BFGS stops at g.d > -tolerance_change, but there g.d = -g^T H g is a predicted loss
            # change; CG's d has the gradient's scale, and that test would stop at |g| ~ 3e-5)
            if not gtd < 0:
                break

            loss, g, t, evals, stop = move_along(closure, flat, state, group, d, t, loss, g, gtd,
                                                 prev_loss, it, evals, c1=group["c1"], c2=group["c2"])
            if stop:
                break

        state.update(d=d, t=t, prev_flat_grad=prev_g, prev_loss=prev_loss, prev_gtd=prev_gtd)
        return orig_loss
