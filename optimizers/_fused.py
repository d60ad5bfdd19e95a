"""fused=True: an optimizer's own per-parameter rule, compiled with torch.compile for a whole group.

torch's fused optimizers are hand-written C++/CUDA kernels. Ours are not a second copy of the math:
each optimizer's file has one per-parameter function (``_adam_param``, ``_sgd_param``, ...) that its
single-tensor path calls once per parameter, and a small "group loop" that calls the same function
for every parameter of a (device, dtype) group. fused=True runs that loop through
``torch.compile``, so the whole group becomes one compiled call whose kernels read each tensor once.

The values a rule multiplies by and that change while training (lr, momentum, betas, the bias
corrections of each param's step count) reach the compiled group loop as 0-dim tensors of the
param's dtype and device (see `operands`): torch.compile bakes a Python number into the compiled
code (and compiles again at each new value), while a tensor is read at run time, whether it is an
operand (``mul_``, ``lerp_``'s weight) or given where an op takes a number (``add_``'s ``alpha=``
is traced as a multiply-add by it). So a rule is written once with ops that take either form:
SGD's single-tensor path passes Python numbers to the same rule, as torch's does (a 0-dim tensor
operand costs a per-param dispatch on small tensors); Adam's and Adagrad's pass their per-step
values as 0-dim tensors on both paths, made once per distinct step count (see `PerStep`). The
scalar arithmetic that produces these values (e.g. ``lr / (1 - beta1 ** t)``) stays in Python
doubles, as in torch's single-tensor step; values that stay fixed for a run (eps, weight decay,
dampening, the on/off options) remain Python numbers.

torch.compile keys its compiled code on the group's layout (number, shapes, dtypes and strides of the
params, the on/off options), so a run compiles once per param group, on its first step.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import shutil
from typing import Callable

import torch
from torch import Tensor

# devices torch.compile's default backend (inductor) generates code for
FUSED_DEVICES = ("cpu", "cuda", "xpu")
# one compiled entry per group layout: a process that builds many optimizers with different layouts
# (a test session, a sweep over models) would exceed torch's default of 8 and stop compiling
RECOMPILE_LIMIT = 64


def check_fused_args(fused: bool | None, foreach: bool | None, differentiable: bool) -> None:
    """torch's refusals of fused mode combined with another mode, with its messages."""
    if fused:
        if differentiable:
            raise RuntimeError("`fused` does not support `differentiable`")
        if foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")


def check_fused_param(p: Tensor) -> None:
    """torch's rule for fused params (floating point, on a supported device), then the compiler."""
    if not (p.device.type in FUSED_DEVICES and torch.is_floating_point(p)):
        raise RuntimeError(
            "`fused=True` requires all the params to be floating point Tensors of supported "
            f"devices: {list(FUSED_DEVICES)} but {p.dtype} and {p.device.type}"
        )
    require_compiler(p.device.type)


def check_fused_groups(param_groups: list[dict]) -> None:
    """check_fused_param for every param of every group with fused=True."""
    for group in param_groups:
        if group["fused"]:
            for p in group["params"]:
                check_fused_param(p)


def require_compiler(device_type: str) -> None:
    """One clear error, before anything is traced, when torch.compile could not build kernels."""
    if device_type == "cpu":
        # inductor's CPU code is C++ built by $CXX (g++ unless set)
        names = [os.environ["CXX"]] if os.environ.get("CXX") else ["g++", "c++", "clang++"]
        if any(shutil.which(n) for n in names):
            return
        needs = f"a C++ compiler ({' or '.join(names)} on PATH)"
    else:
        if importlib.util.find_spec("triton") is not None:
            return
        needs = "the triton package"
    raise RuntimeError(
        f"fused=True compiles the optimizer step with torch.compile, which needs {needs} for "
        f"{device_type} tensors, and none was found: install it, or use fused=False (the "
        "single-tensor and foreach paths compute the same update)"
    )


@functools.cache
def compiled(group_loop: Callable) -> Callable:
    """torch.compile of an optimizer's group loop, built once per process.

    fullgraph: the loop must compile whole (a graph break would silently run parts eagerly);
    dynamic=False: shapes are fixed for a run, so kernels are specialised to them;
    size_asserts off: the compiled code would check every input's sizes and strides again after
    the guards (which check them before it may run), a per-tensor cost that made a third of the
    call on hundreds of small params.
    """
    return torch.compile(group_loop, fullgraph=True, dynamic=False,
                         recompile_limit=RECOMPILE_LIMIT, options={"size_asserts": False})


def skip_step(found_inf: Tensor | None) -> bool:
    """True when a mixed-precision scaler found inf/NaN gradients: torch's fused step then changes
    neither the params nor the state (step counts included)."""
    return found_inf is not None and bool(found_inf.item() != 0)


def operands(values, like: Tensor) -> tuple[Tensor, ...]:
    """Scalars (numbers, or 0-dim tensors for Tensor hyperparameters) as 0-dim tensors of `like`'s
    dtype and device: the form in which a per-parameter rule multiplies by them."""
    return tuple(torch.as_tensor(v, dtype=like.dtype, device=like.device) for v in values)


class PerStep:
    """`operands(rule(t), like)` made once per step count t: the params of a (device, dtype) group
    usually share their count, so the single-tensor path does not build tensors per param."""

    def __init__(self, rule: Callable, like: Tensor):
        self.rule, self.like, self.made = rule, like, {}

    def __call__(self, t: float) -> tuple[Tensor, ...]:
        if t not in self.made:
            self.made[t] = operands(self.rule(t), self.like)
        return self.made[t]


def per_step_values(steps: list[Tensor], rule: Callable[[float], tuple[float, ...]],
                    like: Tensor) -> Tensor:
    """``rule(t)`` for each param's step count t, as one (params, values) tensor of `like`'s dtype
    and device (the fused path indexes its rows); rule runs once per distinct count."""
    counts = torch.stack(steps).tolist()  # one transfer for the group, not one per param
    by_count = {t: rule(t) for t in set(counts)}
    return torch.tensor([by_count[t] for t in counts], dtype=like.dtype, device=like.device)


def on_device(x: Tensor | None, device: torch.device) -> Tensor | None:
    return None if x is None else x.to(device)
