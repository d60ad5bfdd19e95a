"""Forward+backward time of the hand-written activations and losses against torch's, eager and compiled.

Each entry is timed four ways in one process: refzoo eager / torch eager, and refzoo compiled /
torch compiled, where "compiled" is the same `torch.compile` applied to a small nn.Module holding
either one (so both go through dynamo, AOTAutograd and inductor alike). Eager mode is the readable
reference; compiling it is how to go fast, so the limit applies to the compiled ratio only.

Activations: 4096 x 1024 float32, gradient of the output against a fixed upstream gradient.
Losses: 4096 x 1000 logits for the classification losses (CrossEntropyLoss, NLLLoss on
log-probabilities, MultiMarginLoss), 4096 x 1024 elementwise for the others; gradient of the
default-reduced loss with respect to its input. Medians of alternating repeats (bench/_timing.duel);
the first call of each compiled module (the compile) is timed on its own, in wall seconds.

Run from the repo root: python bench/losses_activations.py [--quick] [--only SUBSTRING]
(--quick: small tensors and few repeats, a smoke test that writes no results file).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import activations as A  # noqa: E402
import losses as L  # noqa: E402
from bench._timing import duel, markdown_table, steady_allocator, write_result  # noqa: E402

LIMIT = 1.10  # compiled refzoo / compiled torch
REPEATS, QUICK_REPEATS = 41, 5
SHORT_REPEATS, SHORT_INNER = 201, 3  # NLLLoss takes well under a millisecond: more, longer samples


class Holder(nn.Module):
    """The module handed to torch.compile: calls the activation or loss it holds."""

    def __init__(self, fn: Callable[..., torch.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: torch.Tensor) -> torch.Tensor:
        return self.fn(*args)


@dataclass
class Entry:
    name: str
    ours: Callable[..., torch.Tensor]
    theirs: Callable[..., torch.Tensor]
    args: tuple[torch.Tensor, ...]  # args[0] is differentiated
    upstream: torch.Tensor | None = None  # for non-scalar outputs
    short: bool = False


def entries(rows: int) -> list[Entry]:
    torch.manual_seed(0)
    f, c = 1024, 1000
    x = torch.randn(rows, f, requires_grad=True)
    up = torch.randn(rows, f)
    acts = [
        ("LinearActivation(2.0)", A.LinearActivation(2.0), lambda z: z * 2.0),
        ("ReLU", A.ReLU(), nn.ReLU()), ("LeakyReLU", A.LeakyReLU(), nn.LeakyReLU()),
        ("ELU", A.ELU(), nn.ELU()), ("Sigmoid", A.Sigmoid(), nn.Sigmoid()), ("Tanh", A.Tanh(), nn.Tanh()),
        ("Softmax(dim=1)", A.Softmax(dim=1), nn.Softmax(dim=1)),
        ("LogSoftmax(dim=1)", A.LogSoftmax(dim=1), nn.LogSoftmax(dim=1)),
        ("GELU", A.GELU(), nn.GELU()), ("GELU(tanh)", A.GELU(approximate="tanh"), nn.GELU(approximate="tanh")),
        ("SiLU", A.SiLU(), nn.SiLU()), ("Softplus", A.Softplus(), nn.Softplus()),
    ]
    out = [Entry(f"act {name}", ours, theirs, (x,), up) for name, ours, theirs in acts]

    logits = torch.randn(rows, c, requires_grad=True)
    classes = torch.randint(0, c, (rows,))
    logp = torch.log_softmax(torch.randn(rows, c), 1).requires_grad_(True)
    target = torch.randn(rows, f)
    prob = (torch.rand(rows, f) * 0.98 + 0.01).requires_grad_(True)
    soft = torch.rand(rows, f)
    kl_in = torch.log_softmax(torch.randn(rows, f), 1).requires_grad_(True)
    kl_target = torch.softmax(torch.randn(rows, f), 1)
    loss_cases = [
        ("MSELoss", {}, x, target), ("L1Loss", {}, x, target), ("HuberLoss", {}, x, target),
        ("BCELoss", {}, prob, soft), ("BCEWithLogitsLoss", {}, x, soft),
        ("KLDivLoss", {"reduction": "batchmean"}, kl_in, kl_target),
        ("CrossEntropyLoss", {}, logits, classes), ("NLLLoss", {}, logp, classes),
        ("MultiMarginLoss", {}, logits, classes),
    ]
    for cls, kwargs, inp, tgt in loss_cases:
        label = "KLDivLoss(batchmean)" if cls == "KLDivLoss" else cls
        out.append(Entry(f"loss {label}", getattr(L, cls)(**kwargs), getattr(nn, cls)(**kwargs), (inp, tgt),
                         short=cls == "NLLLoss"))
    return out


def step(fn: Callable[..., torch.Tensor], entry: Entry) -> Callable[[], object]:
    """One forward+backward: the gradient of fn(*args) with respect to args[0]."""
    return lambda: torch.autograd.grad(fn(*entry.args), entry.args[0], entry.upstream)


def first_call_seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(entry: Entry, repeats: int) -> list[object]:
    reps, inner = (SHORT_REPEATS, SHORT_INNER) if entry.short and repeats == REPEATS else (repeats, 1)
    eager = duel(entry.name, step(entry.ours, entry), step(entry.theirs, entry), repeats=reps, inner=inner)
    # dynamo keys its cache on Holder.forward's code, shared by every entry: start each one afresh
    # (past its recompile limit it would silently run the rest eagerly)
    torch.compiler.reset()
    ours_c = step(torch.compile(Holder(entry.ours)), entry)
    theirs_c = step(torch.compile(Holder(entry.theirs)), entry)
    compile_ours, compile_theirs = first_call_seconds(ours_c), first_call_seconds(theirs_c)
    comp = duel(entry.name, ours_c, theirs_c, repeats=reps, inner=inner)
    row = [entry.name, eager.ours_s * 1e3, eager.theirs_s * 1e3, round(eager.ratio, 3),
           comp.ours_s * 1e3, comp.theirs_s * 1e3, round(comp.ratio, 3), "yes" if comp.ratio <= LIMIT else "NO",
           f"{compile_ours:.1f} / {compile_theirs:.1f}"]
    print(" | ".join(str(v) for v in row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small tensors, few repeats, no results file")
    parser.add_argument("--only", default="", help="run only entries whose name contains this")
    opts = parser.parse_args()
    steady = steady_allocator()
    rows, repeats = (256, QUICK_REPEATS) if opts.quick else (4096, REPEATS)
    load_before = os.getloadavg()[0]
    table = [measure(e, repeats) for e in entries(rows) if opts.only in e.name]
    headers = ["case", "eager refzoo (ms)", "eager torch (ms)", "eager ratio", "compiled refzoo (ms)",
               "compiled torch (ms)", "compiled ratio", f"compiled <= {LIMIT}", "compile s (refzoo / torch)"]
    text = markdown_table(headers, table)
    note = (f"{torch.get_num_threads()} threads, torch {torch.__version__}, CPU kernels "
            f"{torch.backends.cpu.get_cpu_capability()}; medians of {repeats} alternating repeats of process "
            f"CPU time (bench/_timing.duel; NLLLoss: {SHORT_REPEATS} repeats of {SHORT_INNER} calls); "
            "compiled = torch.compile(Holder(loss or activation)) on both sides; compile s = wall seconds "
            "of each side's first call (inductor's disk cache shortens later runs); "
            + ("glibc malloc set to reuse freed memory (bench/_timing.steady_allocator). " if steady
               else "default allocator. ")
            + f"Load average (1 min) {load_before:.1f} before and {os.getloadavg()[0]:.1f} after, on "
            f"{os.cpu_count()} CPUs: above about 1, other processes shared the machine.")
    if opts.quick or opts.only:
        print(f"\n{note}\n\n{text}")
        return
    write_result("losses_activations", "Losses and activations vs torch (forward+backward, CPU)",
                 note + "\n\n" + text)


if __name__ == "__main__":
    main()
