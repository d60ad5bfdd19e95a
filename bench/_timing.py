"""Side-by-side timing shared by the benchmarks.

Two contenders are timed alternately (A, B, A, B, ...) so that slow drifts of the machine (thermal,
another process) hit both alike; each reports the median of its repeats and the ratio A/B.
The default clock is the process's CPU time: on a shared machine, wall time bills a contender for the
time it waited behind other processes, which swung ratios of identical code from 0.2 to 3 here.
"""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass
class Duel:
    name: str
    ours_s: float
    theirs_s: float

    @property
    def ratio(self) -> float:
        return self.ours_s / self.theirs_s


def steady_allocator() -> bool:
    """Make glibc's malloc keep and reuse freed memory (True if it could be set).

    By default a freed 16 MB buffer may go back to the kernel, and the next one is mapped afresh:
    page faults at first touch, which can cost more than the kernels measured and vary with the
    process's allocator state (bench/RESULTS.md has the figures). Fixed thresholds (mmap and trim only above 1 GB) take that out for
    both contenders alike: what is left is their arithmetic and memory traffic.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's mallopt parameters
        return bool(libc.mallopt(m_mmap_threshold, 1 << 30)) and bool(libc.mallopt(m_trim_threshold, 1 << 30))
    except (OSError, AttributeError):  # not glibc
        return False


def _once(fn: Callable[[], object], inner: int, clock: Callable[[], float]) -> float:
    start = clock()
    for _ in range(inner):
        fn()
    return (clock() - start) / inner


def duel(name: str, ours: Callable[[], object], theirs: Callable[[], object], *,
         repeats: int = 15, inner: int = 1, warmup: int = 2,
         clock: Callable[[], float] = time.process_time) -> Duel:
    """Median seconds per call of `ours` and `theirs`, measured alternately in one process."""
    for _ in range(warmup):
        ours()
        theirs()
    a, b = [], []
    for i in range(repeats):
        # alternate who goes first so neither always runs on a warm cache left by the other
        if i % 2 == 0:
            a.append(_once(ours, inner, clock))
            b.append(_once(theirs, inner, clock))
        else:
            b.append(_once(theirs, inner, clock))
            a.append(_once(ours, inner, clock))
    return Duel(name, statistics.median(a), statistics.median(b))


def markdown_table(headers: list[str], rows: list[list[object]]) -> str:
    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def duel_table(duels: list[Duel], limit: float | None = None) -> str:
    headers = ["case", "refzoo (ms)", "torch (ms)", "ratio"]
    if limit is not None:
        headers.append(f"<= {limit}")
    rows = []
    for d in duels:
        row: list[object] = [d.name, d.ours_s * 1e3, d.theirs_s * 1e3, round(d.ratio, 3)]
        if limit is not None:
            row.append("yes" if d.ratio <= limit else "NO")
        rows.append(row)
    return markdown_table(headers, rows)


def write_result(name: str, title: str, body: str) -> Path:
    """Write one benchmark's section; `make bench` gathers all sections into bench/RESULTS.md."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.md"
    stamp = time.strftime("%Y-%m-%d %H:%M")
    path.write_text(f"## {title}\n\n_measured {stamp}_\n\n{body}\n")
    print(path.read_text())
    return path
