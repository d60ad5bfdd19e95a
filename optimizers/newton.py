"""Damped Newton's method: exact Hessian on small models, Newton-CG with Hessian-vector products on larger."""
from __future__ import annotations

import warnings
from typing import Callable

import torch
from torch import Tensor

from ._base import as_scalar, check_lr
from ._line_search import (FlatParams, check_line_search, check_single_group,
                           require_closure, strong_wolfe)


def _flatten(grads: list[Tensor | None], params: list[Tensor]) -> Tensor:
    return torch.cat([(torch.zeros_like(p) if g is None else g).reshape(-1) for g, p in zip(grads, params)])


def _modified_newton_solve(hessian: Tensor, g: Tensor) -> Tensor:
    """p = -|H|^-1 g, with |H| = V max(|Lambda|, floor) V^T from H = V Lambda V^T.

    Where H is positive definite this is the Newton step. A negative eigenvalue would make the step
    climb along its eigenvector, so its sign is flipped; an eigenvalue near zero (a flat direction)
    would send the step to infinity, so it is raised to floor = sqrt(eps) * max|lambda|
    (Nocedal & Wright, section 3.4, modification by eigenvalues).
    """
    if not torch.isfinite(hessian).all():  # eigh cannot decompose it: steepest descent
        return -g
    eigenvalues, vectors = torch.linalg.eigh(hessian)
    magnitude = eigenvalues.abs()
    largest = float(magnitude.max())
    floor = torch.finfo(g.dtype).eps ** 0.5 * (largest if largest > 0 else 1.0)
    return -(vectors @ ((vectors.T @ g) / magnitude.clamp(min=floor)))


def _truncated_cg(hvp: Callable[[Tensor], Tensor], g: Tensor, tol: float, max_iter: int) -> Tensor:
    """Approximately solve B p = -g by conjugate gradients (Nocedal & Wright, Algorithm 7.1).

    Stops when |B p + g| <= tol, after max_iter products, or on a direction whose curvature is
    not positive (below rounding level: a flat direction would send the step to infinity); the last
    iterate, or -g if there is none, still points downhill.
    """
    flat = torch.finfo(g.dtype).eps
    z = torch.zeros_like(g)
    r = g.clone()            # residual B z + g
    p = -r
    rr = r.dot(r)
    for j in range(max_iter):
        bp = hvp(p)
        curvature = p.dot(bp)
        if not curvature > flat * p.dot(p):  # also stops on a NaN curvature
            return -g if j == 0 else z
        alpha = rr / curvature
        z = z + alpha * p
        r = r + alpha * bp
        rr_next = r.dot(r)
        if not rr_next.sqrt() > tol:  # converged (or NaN: the caller falls back to -g)
            break
        p = -r + (rr_next / rr) * p
        rr = rr_next
    return z


class Newton(torch.optim.Optimizer):
    r"""Damped Newton's method with Hessian-vector products.

    Newton's method minimizes the local quadratic model f(x + p) ~ f + g^T p + 1/2 p^T H p:

        (H_k + damping I) p_k = -g_k
        x_{k+1} = x_k + t_k p_k          t_k from a strong-Wolfe line search (or t_k = lr)

    The damping (Levenberg) term and the line search ("damped" Newton) keep the step sane far from the
    minimum; near it t_k = 1 and convergence is quadratic. With at most ``exact_threshold``
    parameters the Hessian is built column by column from Hessian-vector products and the system is
    solved through its eigendecomposition, with negative eigenvalues flipped and near-zero ones
    raised (an indefinite or singular Hessian would point uphill or to infinity). Above that,
    Newton-CG: conjugate gradients on the system using only Hessian-vector products
    H v = d(g^T v)/dx (double backward), stopping when |H p + g| <= min(cg_tol, sqrt|g|) |g| (a forcing
    term that keeps convergence superlinear), after ``cg_max_iter`` products, or at negative curvature.

    Closure: Newton differentiates the gradient again, so it needs the gradient's own graph. Either
    (1) torch style with that graph: compute the loss, call ``loss.backward(create_graph=True)``,
    return the loss; or (2) return the loss without calling backward (Newton then takes the
    gradient itself with ``torch.autograd.grad(loss, params, create_graph=True)``). A closure that
    calls plain ``loss.backward()`` gets one clear error naming the fix. The class attribute
    ``needs_create_graph = True`` says so to training loops: refzoo's Lightning models read it and
    pass ``create_graph=True`` to backward. Newton sets its parameters' ``.grad`` to None before
    each closure call (to tell the two styles apart) and leaves plain, detached gradients in
    ``.grad`` afterwards, which also breaks the parameter -> .grad -> graph -> parameter cycle that
    ``backward(create_graph=True)`` creates (so torch's warning about that cycle is silenced while
    Newton runs the closure). The loss must be twice differentiable in the parameters (no
    ``.detach()``, no custom Functions without double backward). Each iteration calls the closure
    once for the Hessian, plus the line search's evaluations.

    Args:
        params: parameters to optimize (one group).
        lr: step length, or the first trial step of the line search (default 1: the Newton step).
        max_iter: Newton iterations per ``step`` (default 1).
        max_eval: closure calls per ``step`` (default ``25 * max_iter``).
        tolerance_grad: stop when the largest gradient entry is at most this (default 1e-7).
        tolerance_change: stop when the step or loss change is below this (default 1e-9).
        damping: the Levenberg term added to the Hessian's diagonal (default 0).
        cg_max_iter: Hessian-vector products per Newton-CG solve (default: parameter count).
        cg_tol: upper bound of the relative residual at which Newton-CG stops (default 1e-4; the
            textbook 0.5 lets CG stop at a steepest-descent step and crawl along curved valleys).
        exact_threshold: largest parameter count solved with the full Hessian (default 100).
        line_search_fn: ``'strong_wolfe'`` (default) or ``None`` (fixed step lr).
        maximize: maximize the objective instead of minimizing it.
    """

    #: the closure's ``loss.backward`` must keep the gradient's graph (``create_graph=True``)
    needs_create_graph = True

    def __init__(self, params, lr: float | Tensor = 1, max_iter: int = 1, max_eval: int | None = None,
                 tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9, damping: float = 0.0,
                 cg_max_iter: int | None = None, cg_tol: float = 1e-4, exact_threshold: int = 100,
                 line_search_fn: str | None = "strong_wolfe", *, maximize: bool = False):
        check_lr(lr)
        check_line_search(line_search_fn)
        if max_iter < 1:
            raise ValueError(f"Invalid max_iter value: {max_iter}")
        if not 0.0 <= damping:
            raise ValueError(f"Invalid damping value: {damping}")
        if cg_max_iter is not None and cg_max_iter < 1:
            raise ValueError(f"Invalid cg_max_iter value: {cg_max_iter}")
        if not 0.0 < cg_tol:
            raise ValueError(f"Invalid cg_tol value: {cg_tol}")
        if exact_threshold < 0:
            raise ValueError(f"Invalid exact_threshold value: {exact_threshold}")
        if max_eval is None:
            max_eval = 25 * max_iter
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval, tolerance_grad=tolerance_grad,
                        tolerance_change=tolerance_change, damping=damping, cg_max_iter=cg_max_iter,
                        cg_tol=cg_tol, exact_threshold=exact_threshold, line_search_fn=line_search_fn,
                        maximize=maximize)
        super().__init__(params, defaults)
        check_single_group(self)
        self._params = self.param_groups[0]["params"]

    def _evaluate(self, closure: Callable, create_graph: bool):
        """(closure's loss, gradients of the trainable parameters, those parameters).

        With create_graph the gradients keep their graph (for Hessian-vector products); either way
        ``.grad`` holds plain, detached gradients afterwards."""
        params = [p for p in self._params if p.requires_grad]
        for p in params:
            p.grad = None
        with warnings.catch_warnings():
            # backward(create_graph=True) warns of a parameter <-> .grad reference cycle; the
            # detached .grad stored below breaks it
            warnings.filterwarnings("ignore", message="Using backward\\(\\) with create_graph=True")
            loss = closure()
        grads = [p.grad for p in params]
        if any(g is not None for g in grads):  # the closure called backward
            if create_graph and not any(g is not None and g.requires_grad for g in grads):
                raise RuntimeError(
                    "Newton needs the gradient's graph to build Hessian-vector products: call "
                    "loss.backward(create_graph=True) in the closure (Newton.needs_create_graph is "
                    "True), or return the loss without calling backward"
                )
        elif isinstance(loss, Tensor) and loss.requires_grad:
            with torch.enable_grad():  # step() runs under no_grad; the gradient's graph must be kept
                grads = list(torch.autograd.grad(loss, params, create_graph=create_graph,
                                                 allow_unused=True))
        else:
            raise RuntimeError(
                "Newton needs the gradient of the closure's loss: compute the loss with autograd "
                "enabled and return it (calling loss.backward(create_graph=True) inside the closure "
                "is fine)"
            )
        for p, g in zip(params, grads):
            p.grad = None if g is None else g.detach()
        if self.param_groups[0]["maximize"]:
            with torch.enable_grad():
                grads = [None if g is None else -g for g in grads]
        return loss, grads, params

    def _direction(self, grads: list, params: list[Tensor], g: Tensor) -> Tensor:
        group = self.param_groups[0]
        damping = group["damping"]
        pairs = [(i, grad) for i, grad in enumerate(grads) if grad is not None and grad.requires_grad]
        n = g.numel()
        sizes = [p.numel() for p in params]

        def hvp(v: Tensor) -> Tensor:
            # H v = d(g . v)/dx: differentiate the gradient (with its graph) against v
            if not pairs:
                return damping * v
            chunks = v.split(sizes)
            parts = torch.autograd.grad([grad for _, grad in pairs], params,
                                        grad_outputs=[chunks[i].view_as(grad) for i, grad in pairs],
                                        retain_graph=True, allow_unused=True)
            return _flatten(list(parts), params) + damping * v

        if n <= group["exact_threshold"]:
            eye = torch.eye(n, dtype=g.dtype, device=g.device)
            hessian = torch.stack([hvp(eye[j]) for j in range(n)], dim=1)
            return _modified_newton_solve((hessian + hessian.T) / 2, g)
        g_norm = float(g.norm())
        tol = min(group["cg_tol"], g_norm ** 0.5) * g_norm
        return _truncated_cg(hvp, g, tol, group["cg_max_iter"] or n)

    @torch.no_grad()
    def step(self, closure: Callable | None = None):  # type: ignore[override]
        closure = require_closure(self, closure)
        group = self.param_groups[0]
        lr = as_scalar(group["lr"])
        max_iter, max_eval = group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        sign = -1.0 if group["maximize"] else 1.0
        if not any(p.requires_grad for p in self._params):
            return closure()

        state = self.state[self._params[0]]  # global state, kept under the first parameter
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = None
        evals = 0
        for _ in range(max_iter):
            loss_t, grads, params = self._evaluate(closure, create_graph=True)
            evals += 1
            state["func_evals"] += 1
            if orig_loss is None:
                orig_loss = loss_t
            loss = sign * float(loss_t)
            g = _flatten([None if x is None else x.detach() for x in grads], params)
            if g.abs().max() <= tolerance_grad:
                break
            state["n_iter"] += 1
            d = self._direction(grads, params, g)
            del grads  # frees the gradient's graph before the line search
            if not torch.isfinite(d).all():
                d = g.neg()
            gtd = g.dot(d)
            if not gtd < 0:  # no descent left (torch's -tolerance_change test would stop at |g| ~ 1e-5)
                break
            flat = FlatParams(params)
            t = lr
            if group["line_search_fn"] == "strong_wolfe":
                saved = flat.save()

                def phi(step, direction):
                    flat.add_(step, direction)
                    f, gs, ps = self._evaluate(closure, create_graph=False)
                    flat.restore_(saved)
                    return sign * float(f), _flatten(gs, ps)

                new_loss, new_g, t, used = strong_wolfe(phi, d, t, loss, g, gtd,
                                                        tolerance_change=tolerance_change,
                                                        max_ls=max_eval - evals)
                flat.add_(t, d)
                evals += used
                state["func_evals"] += used
                if new_g.abs().max() <= tolerance_grad or abs(new_loss - loss) < tolerance_change:
                    break
            else:
                flat.add_(t, d)
            if evals >= max_eval or d.mul(t).abs().max() <= tolerance_change:
                break
        return orig_loss
