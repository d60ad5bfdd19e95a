"""How many intra-op CPU threads torch may use.

On a busy machine, torch's default (one thread per core) oversubscribes the cores and its OpenMP threads
wait on each other: the default digits run took 29 s instead of 3 s here with one other job running.
`threads: auto` therefore takes the cores that are idle now (1-minute load average), at least one.
"""
from __future__ import annotations

import os

import torch


def resolve_threads(setting: int | str | None) -> int:
    if setting in (None, "default"):
        return torch.get_num_threads()
    if setting == "auto":
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        busy = int(os.getloadavg()[0] + 0.5) if hasattr(os, "getloadavg") else 0
        return max(1, min(torch.get_num_threads(), cores - busy))
    if isinstance(setting, int) and setting >= 1:
        return setting
    raise ValueError(f"threads must be a positive integer, 'auto' or null, got {setting!r}")


def apply_threads(setting: int | str | None) -> int:
    n = resolve_threads(setting)
    torch.set_num_threads(n)
    return n
