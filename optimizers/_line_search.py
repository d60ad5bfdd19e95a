"""Shared machinery of the closure optimizers (L-BFGS, BFGS, conjugate gradient, Newton).

These methods think of all parameters as one flat vector x and move it along a search direction d:
x <- x + t d, with the step length t chosen by a strong-Wolfe line search. This file holds

- `FlatParams`: the parameters seen as one flat vector (gather the gradient, move along d, save and
  restore x, evaluate the loss at x + t d);
- `strong_wolfe`: a bracketing/zoom line search (Nocedal & Wright, Algorithms 3.5 and 3.6) that uses
  cubic interpolation, with the same conventions as torch.optim.LBFGS so that L-BFGS trajectories match;
- small checks every closure optimizer shares (closure present, a single parameter group, valid
  line search name).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import Tensor

LINE_SEARCHES = (None, "strong_wolfe")


def check_line_search(line_search_fn: str | None) -> None:
    if line_search_fn not in LINE_SEARCHES:
        raise ValueError(
            f"Invalid line_search_fn: {line_search_fn!r}; only 'strong_wolfe' or None is supported"
        )


def check_single_group(optimizer: torch.optim.Optimizer) -> None:
    # these methods keep one flat vector for the whole model, so one set of hyperparameters
    if len(optimizer.param_groups) != 1:
        raise ValueError(
            f"{type(optimizer).__name__} doesn't support per-parameter options (parameter groups)"
        )


def require_closure(optimizer: torch.optim.Optimizer, closure: Callable | None) -> Callable:
    """The closure, made to always run with autograd on (step itself runs under no_grad)."""
    name = type(optimizer).__name__
    if closure is None:  # TypeError: what torch.optim.LBFGS.step() raises without its argument
        raise TypeError(
            f"{name} requires a closure that reevaluates the model and returns the loss; "
            f"pass optimizer.step(closure)"
        )
    return torch.enable_grad()(closure)


class FlatParams:
    """A list of parameters handled as one flat vector (complex parameters as pairs of reals)."""

    def __init__(self, params: list[Tensor]):
        self.params = list(params)
        self._numel: int | None = None

    @staticmethod
    def _real(p: Tensor) -> Tensor:
        return torch.view_as_real(p) if torch.is_complex(p) else p

    @property
    def numel(self) -> int:
        if self._numel is None:
            self._numel = sum(self._real(p).numel() for p in self.params)
        return self._numel

    def grad(self, maximize: bool = False) -> Tensor:
        """The gradient as one new flat vector; a parameter without gradient contributes zeros."""
        pieces = []
        for p in self.params:
            g = p.grad
            if g is None:
                pieces.append(self._real(p).new_zeros(self._real(p).numel()))
                continue
            if g.is_sparse:
                g = g.to_dense()
            pieces.append(self._real(g).reshape(-1))
        flat = torch.cat(pieces)
        return flat.neg_() if maximize else flat

    def add_(self, t: float | Tensor, d: Tensor) -> None:
        """x <- x + t d, in place."""
        start = 0
        for p in self.params:
            p = self._real(p)
            n = p.numel()
            p.add_(d[start:start + n].view_as(p), alpha=t)
            start += n
        if start != self.numel:
            raise RuntimeError(f"direction has {start} entries, parameters have {self.numel}")

    def save(self) -> list[Tensor]:
        return [p.clone(memory_format=torch.contiguous_format) for p in self.params]

    def restore_(self, saved: list[Tensor]) -> None:
        for p, s in zip(self.params, saved, strict=True):
            p.copy_(s)

    def evaluate_along(self, closure: Callable, saved: list[Tensor], maximize: bool
                       ) -> Callable[[float | Tensor, Tensor], tuple[float, Tensor]]:
        """phi(t, d) = (loss, gradient) at x + t d, leaving the parameters at x afterwards."""
        def phi(t: float | Tensor, d: Tensor) -> tuple[float, Tensor]:
            self.add_(t, d)
            loss = float(closure())
            flat_grad = self.grad(maximize)
            self.restore_(saved)
            return (-loss if maximize else loss), flat_grad
        return phi


def signed_loss(loss: Tensor | float, maximize: bool) -> float:
    return -float(loss) if maximize else float(loss)


def cubic_minimizer(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimizer of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clipped to bounds.

    With d1 = g1 + g2 - 3 (f1 - f2) / (x1 - x2) and d2 = sqrt(d1^2 - g1 g2), the minimizer seen from
    the right end point r (left end l) is  r - (r - l) (g_r + d2 - d1) / (g_r - g_l + 2 d2).
    No real d2 (a negative or NaN discriminant) means no usable minimizer: take the middle of
    the bounds, as torch.optim.LBFGS does.
    """
    lo, hi = bounds if bounds is not None else ((x1, x2) if x1 <= x2 else (x2, x1))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2)
    disc = d1 ** 2 - g1 * g2
    if not disc >= 0:  # negative, or NaN (overflowed f or g): no usable cubic, bisect
        return (lo + hi) / 2.0
    d2 = disc.sqrt() if isinstance(disc, Tensor) else math.sqrt(disc)
    if x1 <= x2:
        left, g_left, right, g_right = x1, g1, x2, g2
    else:
        left, g_left, right, g_right = x2, g2, x1, g1
    x = right - (right - left) * ((g_right + d2 - d1) / (g_right - g_left + 2 * d2))
    return min(max(x, lo), hi)


@dataclass
class _Trial:
    """One point of the line search: step t, loss f, flat gradient g, slope gtd = g . d."""
    t: float | Tensor
    f: float
    g: Tensor
    gtd: float | Tensor | None


def strong_wolfe(phi, d: Tensor, t, f: float, g: Tensor, gtd, c1: float = 1e-4, c2: float = 0.9,
                 tolerance_change: float = 1e-9, max_ls: int = 25):
    """Step length t along d meeting the strong Wolfe conditions

        f(x + t d) <= f(x) + c1 t g.d          (sufficient decrease)
        |g(x + t d) . d| <= c2 |g.d|            (curvature)

    First extrapolate from t until an interval is known to hold such a step, then shrink that
    interval by cubic interpolation ("zoom"). Returns (loss, flat gradient, t, closure evaluations).
    `phi(t, d)` returns (loss, flat gradient) at x + t d.
    """
    start = _Trial(0, f, g, gtd)
    slope_bound = -c2 * gtd
    d_scale = d.abs().max()

    def sufficient_decrease(trial: _Trial) -> bool:
        return not trial.f > f + c1 * trial.t * gtd

    def trial_at(step) -> _Trial:
        f_new, g_new = phi(step, d)
        return _Trial(step, f_new, g_new, g_new.dot(d))

    current = trial_at(t)
    evals = 1
    previous = start
    bracket: list[_Trial] | None = None
    found = False
    iters = 0
    # 1) extrapolation: grow t until the step overshoots (f rises or the slope turns positive)
    while iters < max_ls:
        if not sufficient_decrease(current) or (iters > 1 and current.f >= previous.f):
            bracket = [previous, current]
            break
        if abs(current.gtd) <= slope_bound:
            bracket, found = [current], True
            break
        if current.gtd >= 0:
            bracket = [previous, current]
            break
        # still going downhill: jump to the cubic's minimizer, at least a little and at most 10x further
        lower = current.t + 0.01 * (current.t - previous.t)
        upper = current.t * 10
        step = cubic_minimizer(previous.t, previous.f, previous.gtd,
                               current.t, current.f, current.gtd, bounds=(lower, upper))
        previous = current
        current = trial_at(step)
        evals += 1
        iters += 1

    if iters >= max_ls:
        # out of evaluations: keep whichever of the start and the last trial is lower
        bracket = [start, current]

    # 2) zoom: shrink [low, high] by cubic interpolation until a trial meets both conditions
    def ends(b: list[_Trial]) -> tuple[int, int]:
        return (0, 1) if b[0].f <= b[-1].f else (1, 0)

    low, high = ends(bracket)
    stalled = False
    while not found and iters < max_ls:
        if abs(bracket[1].t - bracket[0].t) * d_scale < tolerance_change:
            break
        a, b = bracket
        step = cubic_minimizer(a.t, a.f, a.gtd, b.t, b.f, b.gtd)
        # a trial that hugs an end of the interval shrinks it too slowly: the second time in a row
        # (or when it falls outside), move it to 10% of the interval's width from that end
        t_min, t_max = min(a.t, b.t), max(a.t, b.t)
        margin = 0.1 * (t_max - t_min)
        if min(t_max - step, step - t_min) < margin:
            if stalled or step >= t_max or step <= t_min:
                step = t_max - margin if abs(step - t_max) < abs(step - t_min) else t_min + margin
                stalled = False
            else:
                stalled = True
        else:
            stalled = False
        trial = trial_at(step)
        evals += 1
        iters += 1
        if not sufficient_decrease(trial) or trial.f >= bracket[low].f:
            bracket[high] = trial
            low, high = ends(bracket)
        else:
            if abs(trial.gtd) <= slope_bound:
                found = True
            elif trial.gtd * (bracket[high].t - bracket[low].t) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = trial

    best = bracket[low]
    return best.f, best.g, best.t, evals
