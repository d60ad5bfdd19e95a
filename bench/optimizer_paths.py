"""Paths of refzoo's optimizers on the Rosenbrock and Rastrigin functions -> docs/optimizer_paths.png.

Every optimizer starts from the same point of each function. Its learning rate is tuned by a grid
search over log-spaced values (the one with the lowest final loss wins; diverging runs drop out),
then the winning run's iterates are drawn over the function's contours, one panel per optimizer
and function. The closure optimizers take one iteration (with its strong-Wolfe line search) per
step, so their panels show every iterate too; for them lr is the first trial step.

Run from the repository root: `.venv/bin/python bench/optimizer_paths.py` (part of `make bench`).
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

import optimizers  # noqa: E402
from bench._timing import markdown_table, write_result  # noqa: E402

OUT = ROOT / "docs" / "optimizer_paths.png"
FIRST_ORDER_STEPS = 400
CLOSURE_STEPS = 60
LR_GRID = [float(v) for v in 10.0 ** np.linspace(-4, 1, 16)]


def rosenbrock(xy: torch.Tensor) -> torch.Tensor:
    x, y = xy[0], xy[1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


def rastrigin(xy: torch.Tensor) -> torch.Tensor:
    return 20 + (xy ** 2 - 10 * torch.cos(2 * math.pi * xy)).sum(0)


FUNCTIONS = {
    "Rosenbrock": dict(fn=rosenbrock, start=(-1.5, 2.0), minimum=(1.0, 1.0), xlim=(-2.0, 2.0), ylim=(-1.0, 3.0)),
    "Rastrigin": dict(fn=rastrigin, start=(-2.0, 3.5), minimum=(0.0, 0.0), xlim=(-4.5, 4.5), ylim=(-4.5, 4.5)),
}

# (label, class, fixed arguments, needs a closure)
OPTIMIZERS = [
    ("SGD", optimizers.SGD, {}, False),
    ("Momentum", optimizers.SGD, {"momentum": 0.9}, False),
    ("Nesterov", optimizers.SGD, {"momentum": 0.9, "nesterov": True}, False),
    ("Adagrad", optimizers.Adagrad, {}, False),
    ("Adadelta", optimizers.Adadelta, {}, False),
    ("RMSprop", optimizers.RMSprop, {}, False),
    ("Adam", optimizers.Adam, {}, False),
    ("AdamW", optimizers.AdamW, {}, False),
    # one iteration per step; max_eval is raised from max_iter * 5 // 4 = 1, which leaves no room
    # for the line search
    ("LBFGS", optimizers.LBFGS, {"max_iter": 1, "max_eval": 25, "line_search_fn": "strong_wolfe"}, True),
    ("BFGS", optimizers.BFGS, {"max_iter": 1, "max_eval": 25, "line_search_fn": "strong_wolfe"}, True),
    ("CG", optimizers.ConjugateGradient, {"max_iter": 1, "max_eval": 25}, True),
    ("Newton", optimizers.Newton, {}, True),
]


def run_path(cls, kwargs: dict, closure_based: bool, fn, start, lr: float) -> np.ndarray:
    """The iterates (steps + 1, 2) of one optimizer on one function."""
    xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = cls([xy], lr=lr, **kwargs)

    def closure():
        opt.zero_grad()
        loss = fn(xy)
        # Newton differentiates the gradient again, so it needs the gradient's graph
        loss.backward(create_graph=getattr(opt, "needs_create_graph", False))
        return loss

    path = [xy.detach().clone()]
    for _ in range(CLOSURE_STEPS if closure_based else FIRST_ORDER_STEPS):
        if closure_based:
            opt.step(closure)
        else:
            closure()
            opt.step()
        if not torch.isfinite(xy).all() or xy.detach().abs().max() > 1e6:
            path.append(xy.detach().clone())
            break
        path.append(xy.detach().clone())
    return torch.stack(path).numpy()


def final_loss(fn, path: np.ndarray) -> float:
    value = float(fn(torch.from_numpy(path[-1])))
    return value if math.isfinite(value) else math.inf


def tune(cls, kwargs, closure_based, fn, start):
    """(best lr, its path, its final loss) over LR_GRID; the smaller lr wins a tie."""
    best = (None, None, math.inf)
    for lr in LR_GRID:
        path = run_path(cls, kwargs, closure_based, fn, start, lr)
        loss = final_loss(fn, path)
        if loss < best[2]:
            best = (lr, path, loss)
    return best


def contour_grid(fn, xlim, ylim, n=250):
    xs = np.linspace(*xlim, n)
    ys = np.linspace(*ylim, n)
    gx, gy = np.meshgrid(xs, ys)
    pts = torch.from_numpy(np.stack([gx, gy]))  # (2, n, n): both functions broadcast over the grid
    return gx, gy, fn(pts).numpy()


def draw(results: dict) -> None:
    names = [o[0] for o in OPTIMIZERS]
    funcs = list(FUNCTIONS)
    cols = 4  # two optimizers per row, each with its Rosenbrock and Rastrigin panels
    rows = math.ceil(len(names) * len(funcs) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.0 * cols, 3.7 * rows))
    grids = {f: contour_grid(FUNCTIONS[f]["fn"], FUNCTIONS[f]["xlim"], FUNCTIONS[f]["ylim"]) for f in funcs}
    for i, name in enumerate(names):
        for j, func in enumerate(funcs):
            ax = axes.flat[i * len(funcs) + j]
            spec = FUNCTIONS[func]
            gx, gy, z = grids[func]
            if func == "Rosenbrock":
                ax.contourf(gx, gy, z + 1e-3, levels=np.logspace(-3, 3.5, 30), norm=LogNorm(), cmap="viridis")
            else:
                ax.contourf(gx, gy, z, levels=30, cmap="viridis")
            lr, path, loss = results[(name, func)]
            ax.plot(path[:, 0], path[:, 1], "-o", color="#ff5a36", lw=1.4, ms=2.2, mec="none")
            ax.plot(*spec["start"], "o", color="white", mec="black", ms=7, label="start")
            ax.plot(*path[-1], "s", color="#ff5a36", mec="black", ms=6, label="end")
            ax.plot(*spec["minimum"], "*", color="yellow", mec="black", ms=13, label="minimum")
            ax.set_xlim(*spec["xlim"])
            ax.set_ylim(*spec["ylim"])
            ax.set_title(f"{name} on {func}", fontsize=12, fontweight="bold")
            ax.text(0.03, 0.97, f"lr = {lr:.3g}\nf(end) = {loss:.2g}", transform=ax.transAxes, va="top",
                    fontsize=10.5, bbox=dict(boxstyle="round", fc="white", alpha=0.85))
            ax.tick_params(labelsize=8)
    for ax in axes.flat[len(names) * len(funcs):]:
        ax.axis("off")
    axes.flat[0].legend(loc="lower right", fontsize=8, framealpha=0.85)
    fig.suptitle(f"refzoo optimizers, learning rate tuned on a log grid ({LR_GRID[0]:.0e} .. {LR_GRID[-1]:.0e}); "
                 f"{FIRST_ORDER_STEPS} steps first-order, {CLOSURE_STEPS} iterations closure methods",
                 fontsize=13)
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    OUT.parent.mkdir(exist_ok=True)
    fig.savefig(OUT, dpi=80)
    plt.close(fig)


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)  # two-element problems: threads only add overhead
    started = time.perf_counter()
    results = {}
    for name, cls, kwargs, closure_based in OPTIMIZERS:
        for func, spec in FUNCTIONS.items():
            results[(name, func)] = tune(cls, kwargs, closure_based, spec["fn"], spec["start"])
    draw(results)
    rows = []
    for name, *_ in OPTIMIZERS:
        row: list[object] = [name]
        for func in FUNCTIONS:
            lr, path, loss = results[(name, func)]
            row += [f"{lr:.3g}", f"{loss:.3g}"]
        rows.append(row)
    headers = ["optimizer"] + [f"{f} {k}" for f in FUNCTIONS for k in ("lr", "final loss")]
    body = ("![paths](../docs/optimizer_paths.png)\n\n"
            f"Start points: Rosenbrock {FUNCTIONS['Rosenbrock']['start']} (minimum (1, 1)), Rastrigin "
            f"{FUNCTIONS['Rastrigin']['start']} (minimum (0, 0)). lr grid: {len(LR_GRID)} values "
            f"log-spaced in [{LR_GRID[0]:.0e}, {LR_GRID[-1]:.0e}], lowest final loss wins. "
            f"Made in {time.perf_counter() - started:.0f} s by `bench/optimizer_paths.py`.\n\n"
            + markdown_table(headers, rows))
    write_result("optimizer_paths", "Optimizer paths on Rosenbrock and Rastrigin", body)


if __name__ == "__main__":
    main()
