"""The iteration scaffolding L-BFGS, BFGS and conjugate gradient share around their search direction.

Each of them runs, per ``step(closure)``, the same outer loop and differs only in how the direction d
and the first trial step t are chosen:

    evaluate f, g at x; stop if max|g| <= tolerance_grad
    repeat up to max_iter times:
        choose d (the method's own rule) and t
        x <- x + t d, t from a strong-Wolfe line search or t = lr
        stop on max_iter, max_eval, max|g| <= tolerance_grad, max|t d| <= tolerance_change
        or |f - f_prev| < tolerance_change

These helpers hold the parts outside "choose d", written once so the three methods keep the stopping
rules (and L-BFGS its exact agreement with torch.optim.LBFGS) in step with each other.
"""
from __future__ import annotations

from typing import Callable

from torch import Tensor

from ._line_search import FlatParams, signed_loss, strong_wolfe


def first_evaluation(closure: Callable, flat: FlatParams, state: dict, maximize: bool):
    """f and g at the starting point, counted in ``state``; returns (closure's loss, f, g).

    f and g carry the sign that turns maximization into minimization; the closure's own loss is what
    ``step`` returns.
    """
    state.setdefault("func_evals", 0)
    state.setdefault("n_iter", 0)
    orig_loss = closure()
    loss = signed_loss(orig_loss, maximize)
    state["func_evals"] += 1
    return orig_loss, loss, flat.grad(maximize)


def first_step_length(g: Tensor, lr):
    """t = min(1, 1/|g|_1) * lr: a cautious first step while nothing is known about the curvature."""
    inv_l1 = 1.0 / g.abs().sum()
    return (inv_l1 if inv_l1 < 1.0 else 1.0) * lr


def move_along(closure: Callable, flat: FlatParams, state: dict, group: dict, d: Tensor, t, loss: float,
               g: Tensor, gtd, prev_loss: float, it: int, evals: int, c1: float = 1e-4, c2: float = 0.9):
    """x <- x + t d, then the stopping tests; returns (f, g, t, evals, stop).

    With ``group["line_search_fn"] == "strong_wolfe"`` t is the search's result (it may use the
    closure calls left in ``max_eval``), otherwise t is kept and f, g are re-evaluated once, except
    on the last iteration (that loss would only be seen by the next step, which recomputes it).
    ``evals`` and ``state["func_evals"]`` count the closure calls; ``stop`` says the loop is over.
    """
    max_iter, max_eval = group["max_iter"], group["max_eval"]
    tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
    maximize = group.get("maximize", False)
    converged = False
    if group["line_search_fn"] == "strong_wolfe":
        phi = flat.evaluate_along(closure, flat.save(), maximize)
        loss, g, t, used = strong_wolfe(phi, d, t, loss, g, gtd, c1=c1, c2=c2,
                                        tolerance_change=tolerance_change, max_ls=max_eval - evals)
        flat.add_(t, d)
        converged = g.abs().max() <= tolerance_grad
    else:
        flat.add_(t, d)
        used = 0
        if it != max_iter:
            loss = signed_loss(closure(), maximize)
            g = flat.grad(maximize)
            converged = g.abs().max() <= tolerance_grad
            used = 1
    evals += used
    state["func_evals"] += used

    stop = bool(it == max_iter or evals >= max_eval or converged
                or d.mul(t).abs().max() <= tolerance_change or abs(loss - prev_loss) < tolerance_change)
    return loss, g, t, evals, stop
