"""Private helpers shared by the first-order optimizers: the foreach default, device/dtype grouping,
per-param state creation, the `step` counter tensor (and its repair when a state dict stored it as a
plain number), defaults for param groups loaded from older state dicts, hyperparameter checks with
torch's wording, and the refusal of torch's capturable/differentiable modes."""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor
from torch.nn import Parameter
from torch.optim import Optimizer

from ._fused import check_fused_param

# torch's multi-tensor kernels are real fused kernels only on these accelerators; on CPU a
# torch._foreach_* call is a C++ loop, so torch keeps the single-tensor path as the CPU default.
# torch also counts an out-of-tree (PrivateUse1) backend, whose name only a private function
# gives; here such a backend gets the single-tensor default, and foreach=True selects the other.
_FOREACH_DEVICES = frozenset({"cuda", "xpu", "mtia"})
# tensor subclasses (e.g. DTensor) may not implement the foreach ops, so only plain tensors count
_PLAIN_TYPES = (Tensor, Parameter)


def use_foreach(foreach: bool | None, params: list[Tensor]) -> bool:
    """`foreach` if the user chose; otherwise True only when every param is a plain accelerator tensor."""
    if foreach is not None:
        return foreach
    return all(type(p) in _PLAIN_TYPES and p.device.type in _FOREACH_DEVICES for p in params)


def _split_by_device_and_dtype(tensorlists: tuple[list, ...]) -> dict[tuple, tuple[list[list[Any]], list[int]]]:
    """The aligned lists split by the (device, dtype) of the first list's tensors (the params), with
    each part's positions. An empty list (an unused state kind) stays empty in every part; None
    entries (a buffer not created yet) pass through."""
    keys = [(p.device, p.dtype) for p in tensorlists[0]]
    if len(set(keys)) == 1:  # the usual case, one device and one dtype: one part, copied in one go
        return {keys[0]: ([list(whole) for whole in tensorlists], list(range(len(keys))))}
    parts: dict[tuple, tuple[list[list[Any]], list[int]]] = {}
    for i, key in enumerate(keys):
        lists, positions = parts.setdefault(key, ([[] for _ in tensorlists], []))
        for part, whole in zip(lists, tensorlists):
            if whole:
                part.append(whole[i])
        positions.append(i)
    return parts


def group_by_device_and_dtype(*tensorlists: list) -> Iterable[list[list[Any]]]:
    """The aligned lists split per (device, dtype), since one foreach call needs one of each.

    Lists may be empty (an unused state kind) or hold None (a buffer not created yet). The split
    lists are new lists holding the same tensors: in-place updates reach the caller, list assignments
    do not (see `group_with_indices`).
    """
    return (lists for lists, _ in _split_by_device_and_dtype(tensorlists).values())


def group_with_indices(*tensorlists: list) -> Iterable[tuple[list[list[Any]], list[int]]]:
    """As `group_by_device_and_dtype`, with each group's positions in the input lists."""
    return _split_by_device_and_dtype(tensorlists).values()


def params_with_grads(group: dict, who: str) -> tuple[list[Tensor], list[Tensor]]:
    """The group's params that have a gradient (the others are skipped), and those gradients."""
    # comprehensions rather than an append loop: this runs per param per step
    params = [p for p in group["params"] if p.grad is not None]
    grads = [p.grad for p in params]
    if any(g.is_sparse for g in grads):
        raise RuntimeError(f"refzoo's {who} does not support sparse gradients")
    return params, grads


def fill_group_defaults(param_groups: list[dict], **defaults: Any) -> None:
    """Give loaded param groups the keys that state dicts from older torch versions lack, in the
    order torch adds them."""
    for group in param_groups:
        for key, value in defaults.items():
            group.setdefault(key, value)


def real_only(p: Tensor, who: str) -> None:
    if torch.is_complex(p):
        raise RuntimeError(f"refzoo's {who} does not support complex parameters")


def states_of(optimizer: Optimizer, params: list[Tensor], who: str, buffers: tuple[str, ...],
              fused: bool = False) -> list[dict]:
    """The params' state dicts; a param seen for the first time gets a `step` counter and a zero
    tensor for each name in `buffers` (in that order, as torch creates them)."""
    states = [optimizer.state[p] for p in params]
    for p, state in zip(params, states):
        if len(state) == 0:  # once per param in a run: the per-step cost is this length test
            if fused:  # torch's rule for fused params, and a compiler to build the step
                check_fused_param(p)
            real_only(p, who)
            state["step"] = new_step(p, fused)
            for name in buffers:
                state[name] = torch.zeros_like(p, memory_format=torch.preserve_format)
    return states


def scalar_dtype() -> torch.dtype:
    """dtype of the `step` counter: float64 when that is the default dtype, else float32 (as torch)."""
    return torch.float64 if torch.get_default_dtype() == torch.float64 else torch.float32


def new_step(p: Tensor | None = None, fused: bool = False, value: float = 0.0) -> Tensor:
    """A step counter holding `value`. It is a CPU tensor (as in torch) so state dicts are
    interchangeable and `.item()` on it never synchronizes a device; in fused mode it is a float32
    tensor on the param's device, as torch's fused optimizers keep it."""
    if fused:
        return torch.tensor(value, dtype=torch.float32, device=p.device)
    return torch.tensor(value, dtype=scalar_dtype())


def tensor_steps(optimizer: Optimizer) -> None:
    """Turn each `step` that a loaded state dict stored as a plain number (older torch versions and
    other tools write it so) into the tensor torch's own optimizers make of it on load."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p)  # .get: do not create empty states for unused params
            if state and "step" in state and not torch.is_tensor(state["step"]):
                state["step"] = new_step(p, bool(group.get("fused")), float(state["step"]))


def bump_steps(steps: list[Tensor]) -> None:
    """steps += 1 for a list of 0-dim tensors on one device, in one call."""
    if steps[0].device.type == "cpu":
        # a Python 1 would be wrapped into a new tensor per element inside the CPU fallback
        torch._foreach_add_(steps, _ONE, alpha=1.0)
    else:  # fused mode keeps the steps on the params' device
        torch._foreach_add_(steps, 1.0)


_ONE = torch.tensor(1.0)


def check_lr(lr: float | Tensor) -> None:
    if isinstance(lr, Tensor) and lr.numel() != 1:
        raise ValueError("Tensor lr must be 1-element")
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")


def as_scalar(value: float | Tensor) -> float | Tensor:
    """A hyperparameter given as a 1-element tensor, as a 0-dim tensor; numbers stay numbers.

    torch's optimizers compute with a Tensor lr (or betas) as a tensor, so the bias corrections
    and step sizes derived from it are rounded to its dtype; ours do the same to give the same
    numbers."""
    if isinstance(value, Tensor) and value.dim() != 0:
        return value.reshape(())
    return value


def check_non_negative(value: float, what: str) -> None:
    """torch's wording: `Invalid <what>: <value>` (what is e.g. "epsilon value")."""
    if not 0.0 <= value:
        raise ValueError(f"Invalid {what}: {value}")


def refuse_modes(name: str, *, capturable: bool = False, differentiable: bool = False) -> None:
    """The arguments exist so configs and state dicts written for torch.optim load unchanged, but only
    their off values are implemented here."""
    for flag, on in (("capturable", capturable), ("differentiable", differentiable)):
        if on:
            raise ValueError(f"{name}(..., {flag}=True) is not implemented in refzoo; "
                             f"use torch.optim.{name} for {flag} mode")


def as_float(x: float | Tensor) -> float:
    """A 1-element tensor hyperparameter read as a Python number (the value torch's kernels see)."""
    return x.item() if isinstance(x, Tensor) else x


def closure_loss(closure):
    """Evaluate the closure with autograd on (step itself runs under no_grad) and return its loss."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()
