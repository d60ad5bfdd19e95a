"""One compiled kernel per direction for the activations on large tensors (and for CrossEntropyLoss's
row statistics and gradient, losses/_softmax_ce.py).

Eager, a written-out formula makes one pass over memory per primitive: 1 / (1 + e^-z) is an exp, an
add and a reciprocal, 3-6 passes over a 16 MB tensor where torch's own activation makes one. `fused(fn)`
hands the SAME formula to inductor (`torch.compile(fn, dynamic=True, fullgraph=True)`), which writes it
as one loop: one pass per direction, as torch's. The compiled kernel is used only when all hold:

- fusion is on: `set_fused(True | False | "auto")`, else the env var REFZOO_FUSED = auto (default) | 1 | 0;
  "auto" means where inductor can build kernels for the device (CPU: a working C++ compiler; CUDA: triton);
- every tensor argument is floating point, and each one (or, for `fused(name, large=k)`, each of the
  first k: a loss's row statistics are small) has at least THRESHOLD elements (smaller tensors are
  cheap eager, and would not repay a compile);
- grad mode is off (in a backward with create_graph=True the eager, differentiable ops must run so
  that double backward works);
- no torch.compile is tracing us already (then the eager formula is traced into the caller's graph).

Otherwise `fn` runs eagerly. If compiling or running the kernel raises, one warning names the
activation and the error, and that kernel is eager from then on: training never fails on its account.
The first call per dtype and device compiles (seconds; inductor caches the code on disk).
"""
from __future__ import annotations

import functools
import os
import warnings
from typing import Callable

import torch

THRESHOLD = 1 << 20  # elements; module constant so that tests can lower it
calls: dict[str, int] = {}  # kernel name -> calls that ran compiled (read by the tests)
_setting: bool | str | None = None  # set by set_fused; None defers to REFZOO_FUSED


def set_fused(mode: bool | str | None) -> None:
    """Turn fusion on (True), off (False) or back to "auto"; None returns control to REFZOO_FUSED."""
    global _setting
    if mode not in (True, False, "auto", None):
        raise ValueError(f"set_fused takes True, False, 'auto' or None, got {mode!r}")
    _setting = mode


def _mode() -> bool | str:
    if _setting is not None:
        return _setting
    env = os.environ.get("REFZOO_FUSED", "auto").strip().lower()
    return {"1": True, "true": True, "on": True, "0": False, "false": False, "off": False}.get(env, "auto")


@functools.lru_cache(maxsize=None)
def _inductor_works(device_type: str) -> bool:
    try:
        if device_type == "cpu":
            from torch._inductor.cpp_builder import get_cpp_compiler

            return bool(get_cpp_compiler())  # runs `<compiler> --version`; raises when there is none
        if device_type == "cuda":
            from torch.utils._triton import has_triton

            return has_triton()
    except Exception:  # noqa: BLE001 - any failure means: not usable
        return False
    return False


def enabled(device_type: str = "cpu") -> bool:
    """Whether fusion is on for tensors on this device type."""
    mode = _mode()
    return _inductor_works(device_type) if mode == "auto" else bool(mode)


class Fused:
    """`fn` (a plain function of tensors and Python numbers) that runs compiled where `ok(*args)`."""

    def __init__(self, fn: Callable[..., object], name: str, large: int | None = None) -> None:
        self.fn, self.name, self.large = fn, name, large
        self.broken = False
        self._compiled: Callable[..., object] | None = None
        functools.update_wrapper(self, fn)

    def ok(self, *args: object) -> bool:
        """True when a call with these arguments would run the compiled kernel (see the module doc)."""
        if torch.compiler.is_compiling() or self.broken or torch.is_grad_enabled():
            return False
        tensors = [a for a in args if isinstance(a, torch.Tensor)]
        if not tensors or not all(t.is_floating_point() for t in tensors):
            return False
        if any(t.numel() < THRESHOLD for t in tensors[:self.large]):
            return False
        return enabled(tensors[0].device.type)

    def __call__(self, *args: object):
        if not self.ok(*args):
            return self.fn(*args)
        # detached: the kernel never records a graph, and requires_grad flags need no extra guards
        args = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in args)
        try:
            if self._compiled is None:
                self._compiled = torch.compile(self.fn, dynamic=True, fullgraph=True)
            out = self._compiled(*args)
        except Exception as err:  # noqa: BLE001 - the eager formula below is always an answer
            self.broken = True
            msg = str(err).strip().splitlines()[0][:300] if str(err).strip() else ""
            warnings.warn(f"refzoo: the fused kernel {self.name} failed ({type(err).__name__}: {msg}); "
                          "it runs eagerly from now on (REFZOO_FUSED=0 turns fusion off)",
                          RuntimeWarning, stacklevel=2)
            return self.fn(*args)
        calls[self.name] = calls.get(self.name, 0) + 1
        return out


def fused(name: str, large: int | None = None) -> Callable[[Callable[..., object]], Fused]:
    """Decorator: @fused("sigmoid.fwd") def f(z): ... -> a Fused kernel named for warnings and `calls`.

    `large=k`: only the first k tensor arguments need THRESHOLD elements (default: all of them)."""
    return lambda fn: Fused(fn, name, large)
