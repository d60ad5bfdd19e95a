"""Step time of the hand-written first-order optimizers against torch.optim, side by side.

Each entry times `opt.step()` of ours and of torch's with the same arguments and the same foreach
setting (torch's CPU default, i.e. the single-tensor path, and foreach=True), alternately in one
process, on two parameter sets: many small tensors (where per-tensor Python overhead dominates) and
a few large ones (where memory traffic dominates). Gradients are fixed random tensors, set once.

A second part times fused=True (our single-tensor rule compiled with torch.compile for a whole
param group) against torch's fused kernels, for the four optimizers that have it, on 8 tensors of
1024x1024 and on 200 of 64x64 + 200 of 64; on the large set also against our own single-tensor
path (the speed-up compiling buys); and the first step's wall time, which includes compiling.

Run from the repository root: `.venv/bin/python bench/optimizers.py` (part of `make bench`);
`--quick` runs fewer repeats, a 20 + 20 stand-in for the many-tensor fused layout (compiling 400
params takes minutes) and prints instead of writing bench/results/optimizers.md.

Measurement hygiene, because the machine is small and shared with other jobs:
- one intra-op thread: a descheduled worker thread stalls a whole parallel op, which made 2-thread
  wall-clock ratios swing between 0.2 and 3 for identical code;
- the clock is the process's CPU time, not the wall clock: with one thread it is the work done,
  without the time spent waiting for a core (wall-clock ratios of torch against itself still
  swung by +-30% on this machine at load 3-5 on 2 cores);
- glibc's malloc keeps freed memory instead of returning it to the OS, so the page faults of
  re-allocated temporaries (which both implementations create alike) do not drown the difference;
- each entry is measured twice, once with our tensors allocated first and once with torch's first
  (on the large set whichever was allocated first ran ~5% slower, for torch against itself too),
  and the samples of both arrangements are pooled.
Otherwise the protocol is bench/_timing.duel's: warm-up, then alternated repeats, medians.
"""
from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
# this file is named like the package it measures: keep bench/ off the path so that
# `import optimizers` finds the package, not this script
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))

from bench._timing import Duel, duel_table, markdown_table, steady_allocator, write_result  # noqa: E402

steady_allocator()  # before torch allocates anything (see its docstring)

import torch  # noqa: E402

import optimizers  # noqa: E402

LIMIT = 1.10

VARIANTS: list[tuple[str, str, dict]] = [
    ("sgd", "SGD", dict(lr=0.1)),
    ("momentum", "SGD", dict(lr=0.1, momentum=0.9)),
    ("nesterov", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("adagrad", "Adagrad", dict(lr=0.01)),
    ("adadelta", "Adadelta", dict()),
    ("rmsprop", "RMSprop", dict()),
    ("rmsprop centered+momentum", "RMSprop", dict(centered=True, momentum=0.9)),
    ("adam", "Adam", dict()),
    ("adam amsgrad", "Adam", dict(amsgrad=True)),
    ("adamw", "AdamW", dict()),
]

# (title, shapes, repeats per arrangement, inner): inner steps per timed sample keep samples >= ~5 ms, well above
# the CPU clock's resolution
PARAM_SETS = [
    ("200 tensors of 64x64 + 200 of 64 (float32, 0.83M elements)",
     [(64, 64)] * 200 + [(64,)] * 200, 11, 3),
    ("22 tensors of 1024x1024 (float32, 23M elements)", [(1024, 1024)] * 22, 11, 1),
]


def cpu_samples(ours: Callable[[], object], theirs: Callable[[], object], *, repeats: int,
                inner: int, warmup: int = 2) -> tuple[list[float], list[float]]:
    """bench/_timing.duel's alternated samples, on the process CPU-time clock (module docstring)."""
    def once(fn):
        start = time.process_time()
        for _ in range(inner):
            fn()
        return (time.process_time() - start) / inner

    for _ in range(warmup):
        ours()
        theirs()
    a, b = [], []
    for i in range(repeats):
        first, second = ((ours, a), (theirs, b)) if i % 2 == 0 else ((theirs, b), (ours, a))
        first[1].append(once(first[0]))
        second[1].append(once(second[0]))
    return a, b


def make_params(shapes: list[tuple[int, ...]]) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(0)
    params = []
    for shape in shapes:
        p = torch.nn.Parameter(torch.randn(shape, generator=g))
        p.grad = torch.randn(shape, generator=g) * 0.01
        params.append(p)
    return params


def twins(shapes, cls_name: str, kwargs: dict, foreach: bool | None, ours_first: bool = True):
    """Our optimizer and torch's on two identical copies of the parameter set, state created."""
    made = {}
    for module in (optimizers, torch.optim) if ours_first else (torch.optim, optimizers):
        params = make_params(shapes)
        opt = getattr(module, cls_name)(params, **kwargs, foreach=foreach)
        opt.step()  # lazy state creation is not what is measured
        made[module] = opt
    return made[optimizers], made[torch.optim]


def run_set(shapes, repeats: int, inner: int, variants=VARIANTS) -> list:
    duels = []
    for name, cls_name, kwargs in variants:
        for foreach in (None, True):
            label = f"{name} ({'foreach' if foreach else 'default: single-tensor'})"
            a, b = [], []
            for ours_first in (True, False):
                ours, theirs = twins(shapes, cls_name, kwargs, foreach, ours_first)
                sa, sb = cpu_samples(ours.step, theirs.step, repeats=repeats, inner=inner)
                a += sa
                b += sb
                del ours, theirs
                gc.collect()
            duels.append(Duel(label, statistics.median(a), statistics.median(b)))
            print(f"  {label}: ratio {duels[-1].ratio:.3f}", flush=True)
    return duels


FUSED_LIMIT, SPEEDUP_BAR = 1.10, 2.0
FUSED_VARIANTS: list[tuple[str, str, dict]] = [
    ("sgd momentum", "SGD", dict(lr=0.1, momentum=0.9)),
    ("adagrad", "Adagrad", dict(lr=0.01)),
    ("adam", "Adam", dict()),
    ("adamw", "AdamW", dict()),
]
LARGE = ("8 tensors of 1024x1024 (float32, 8.4M elements)", [(1024, 1024)] * 8)
MANY = ("200 tensors of 64x64 + 200 of 64 (float32, 0.83M elements)", [(64, 64)] * 200 + [(64,)] * 200)
MANY_QUICK = ("20 tensors of 64x64 + 20 of 64 (float32; --quick stand-in)", [(64, 64)] * 20 + [(64,)] * 20)


def fused_opt(module, shapes, cls_name: str, kwargs: dict, fused: bool | None):
    """An optimizer on a fresh parameter set, its state created; returns (optimizer, first step s)."""
    opt = getattr(module, cls_name)(make_params(shapes), **kwargs, fused=fused)
    start = time.perf_counter()  # wall clock: the compiler runs in worker processes too
    opt.step()
    return opt, time.perf_counter() - start


def run_fused(title: str, shapes, repeats: int, inner: int, against_single: bool) -> tuple[list, list]:
    """(table rows, ratios checked against a bar) for the fused variants on one parameter set."""
    rows, checks = [], []
    for name, cls_name, kwargs in FUSED_VARIANTS:
        ours, compile_s = fused_opt(optimizers, shapes, cls_name, kwargs, True)
        theirs, _ = fused_opt(torch.optim, shapes, cls_name, kwargs, True)
        a, b = cpu_samples(ours.step, theirs.step, repeats=repeats, inner=inner)
        fused_ms, torch_ms = statistics.median(a) * 1e3, statistics.median(b) * 1e3
        ratio = fused_ms / torch_ms
        checks.append((f"{name}, {title}: ours fused / torch fused", ratio, FUSED_LIMIT, "<="))
        row = [name, round(compile_s, 1), fused_ms, torch_ms, round(ratio, 3),
               "yes" if ratio <= FUSED_LIMIT else "NO"]
        if against_single:
            single, _ = fused_opt(optimizers, shapes, cls_name, kwargs, None)
            a, b = cpu_samples(single.step, ours.step, repeats=repeats, inner=inner)
            speedup = statistics.median(a) / statistics.median(b)
            checks.append((f"{name}: ours single-tensor / ours fused", speedup, SPEEDUP_BAR, ">="))
            row += [statistics.median(a) * 1e3, round(speedup, 2), "yes" if speedup >= SPEEDUP_BAR else "NO"]
            del single
        rows.append(row)
        print(f"  {name}: first step {compile_s:.1f} s, fused {fused_ms:.3f} ms, torch fused "
              f"{torch_ms:.3f} ms, ratio {ratio:.3f}" + (f", speed-up over single {row[-2]}" if against_single else ""),
              flush=True)
        del ours, theirs
        gc.collect()
    headers = ["case", "first step (s)", "ours fused (ms)", "torch fused (ms)", "ratio", f"<= {FUSED_LIMIT}"]
    if against_single:
        headers += ["ours single (ms)", "speed-up", f">= {SPEEDUP_BAR}"]
    return [f"### fused: {title}\n\n{markdown_table(headers, rows)}"], checks


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    torch.set_num_threads(1)
    sections = [f"torch {torch.__version__}, 1 thread, float32. Each row: process CPU time per "
                "`step()`, median of alternated repeats in two allocation orders (see the docstring "
                "of bench/optimizers.py); "
                f"ratio = refzoo / torch.optim; required <= {LIMIT}."]
    worst = 0.0
    for title, shapes, repeats, inner in PARAM_SETS:
        print(title, flush=True)
        variants = VARIANTS[::3] if quick else VARIANTS
        duels = run_set(shapes, 3 if quick else repeats, inner, variants)
        worst = max(worst, *(d.ratio for d in duels))
        sections.append(f"### {title}\n\n{duel_table(duels, limit=LIMIT)}")
    sections.append(f"Worst ratio: {worst:.3f}.")

    sections.append("fused=True: our single-tensor rule compiled with torch.compile (one compiled call "
                    "per param group) against torch's fused kernels; process CPU time per `step()` "
                    "after the first; 'first step' is the wall time of the first step, which compiles "
                    "(inductor's on-disk cache makes later runs faster). Bars: ours fused / torch fused "
                    f"<= {FUSED_LIMIT}; on the large set ours single-tensor / ours fused >= {SPEEDUP_BAR}.")
    checks = []
    for (title, shapes), against_single in ((LARGE, True), (MANY_QUICK if quick else MANY, False)):
        print(f"fused: {title}", flush=True)
        text, found = run_fused(title, shapes, 5 if quick else 11, 1 if shapes is LARGE[1] else 3,
                                against_single)
        sections += text
        checks += found
    missed = [f"{what} = {value:.3f} ({op} {bar})" for what, value, bar, op in checks
              if not (value <= bar if op == "<=" else value >= bar)]
    sections.append("Fused bars: all met." if not missed else "Fused bars missed: " + "; ".join(missed) + ".")
    body = "\n\n".join(sections)
    if quick:
        print(body)
    else:
        write_result("optimizers", "Optimizer step time vs torch.optim (CPU)", body)


if __name__ == "__main__":
    main()
