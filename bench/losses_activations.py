"""Forward+backward time of the hand-written activations and losses against torch's, on CPU.

Activations: 4096 x 1024 float32, gradient of the output against a fixed upstream gradient, as users
get them by default: REFZOO_FUSED=auto puts tensors this large on the fused (torch.compile) kernels of
activations/_fused.py. The first call, which compiles them, is timed on its own (wall clock; inductor's
disk cache makes it shorter on later runs) and kept out of the medians, which follow duel's warm-up.
Losses: 4096 x 1000 logits for the classification losses (CrossEntropyLoss, NLLLoss on
log-probabilities, MultiMarginLoss), 4096 x 1024 elementwise for the others; gradient of the
default-reduced loss with respect to its input. Run from the repo root: python bench/losses_activations.py
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

import activations as A  # noqa: E402
from activations import _fused  # noqa: E402
from bench._timing import duel, duel_table, steady_allocator, write_result  # noqa: E402

LIMIT = 1.25
REPEATS = 41
SHORT_REPEATS, SHORT_INNER = 201, 3  # for the sub-millisecond NLLLoss
torch.manual_seed(0)
FIRST_CALL_S: dict[str, float] = {}  # activation or loss -> wall seconds of its first call (the compile)


def activation_duels() -> list:
    x = torch.randn(4096, 1024, requires_grad=True)
    up = torch.randn(4096, 1024)

    def run(fn):
        return lambda: torch.autograd.grad(fn(x), x, up)

    pairs = [
        ("LinearActivation(2.0)", A.LinearActivation(2.0), lambda z: z * 2.0),
        ("ReLU", A.ReLU(), nn.ReLU()),
        ("LeakyReLU", A.LeakyReLU(), nn.LeakyReLU()),
        ("ELU", A.ELU(), nn.ELU()),
        ("Sigmoid", A.Sigmoid(), nn.Sigmoid()),
        ("Tanh", A.Tanh(), nn.Tanh()),
        ("Softmax(dim=1)", A.Softmax(dim=1), nn.Softmax(dim=1)),
        ("LogSoftmax(dim=1)", A.LogSoftmax(dim=1), nn.LogSoftmax(dim=1)),
        ("GELU", A.GELU(), nn.GELU()),
        ("GELU(tanh)", A.GELU(approximate="tanh"), nn.GELU(approximate="tanh")),
        ("SiLU", A.SiLU(), nn.SiLU()),
        ("Softplus", A.Softplus(), nn.Softplus()),
    ]
    duels = []
    for name, ours, theirs in pairs:
        before = sum(_fused.calls.values())
        start = time.perf_counter()
        run(ours)()  # compiles the fused kernels, if any; duel's warm-up calls follow
        if sum(_fused.calls.values()) > before:
            FIRST_CALL_S[name] = time.perf_counter() - start
        duels.append(duel(f"act {name}", run(ours), run(theirs), repeats=REPEATS))
    return duels


def loss_duels() -> list:
    try:
        import losses as L
    except ImportError as err:  # losses/ is written separately; bench what is there
        print(f"losses not benchmarked: {err}")
        return []

    n, c, f = 4096, 1000, 1024
    logits = torch.randn(n, c, requires_grad=True)
    classes = torch.randint(0, c, (n,))
    logp = torch.log_softmax(torch.randn(n, c), 1).requires_grad_(True)
    pred = torch.randn(n, f, requires_grad=True)
    target = torch.randn(n, f)
    prob = (torch.rand(n, f) * 0.98 + 0.01).requires_grad_(True)
    soft = torch.rand(n, f)
    kl_in = torch.log_softmax(torch.randn(n, f), 1).requires_grad_(True)
    kl_target = torch.softmax(torch.randn(n, f), 1)

    cases = [
        ("MSELoss", "MSELoss", {}, pred, target),
        ("L1Loss", "L1Loss", {}, pred, target),
        ("HuberLoss", "HuberLoss", {}, pred, target),
        ("BCELoss", "BCELoss", {}, prob, soft),
        ("BCEWithLogitsLoss", "BCEWithLogitsLoss", {}, pred, soft),
        ("KLDivLoss(batchmean)", "KLDivLoss", {"reduction": "batchmean"}, kl_in, kl_target),
        ("CrossEntropyLoss", "CrossEntropyLoss", {}, logits, classes),
        ("NLLLoss", "NLLLoss", {}, logp, classes),
        ("MultiMarginLoss", "MultiMarginLoss", {}, logits, classes),
    ]
    duels = []
    for label, cls, kwargs, inp, tgt in cases:
        if not hasattr(L, cls):
            print(f"losses.{cls} missing; skipped")
            continue
        ours, theirs = getattr(L, cls)(**kwargs), getattr(nn, cls)(**kwargs)

        def run(loss, inp=inp, tgt=tgt):
            return lambda: torch.autograd.grad(loss(inp, tgt), inp)

        before = sum(_fused.calls.values())
        start = time.perf_counter()
        run(ours)()  # compiles CrossEntropyLoss's fused kernels; duel's warm-up calls follow
        if sum(_fused.calls.values()) > before:
            FIRST_CALL_S[label] = time.perf_counter() - start
        # NLLLoss takes ~0.6 ms, where one call's timing swings by a fifth: more and longer samples
        short = label == "NLLLoss"
        duels.append(duel(f"loss {label}", run(ours), run(theirs), repeats=SHORT_REPEATS if short else REPEATS,
                          inner=SHORT_INNER if short else 1))
    return duels


def main() -> None:
    steady = steady_allocator()
    duels = activation_duels() + loss_duels()
    table = duel_table(duels, limit=LIMIT)
    # torch's CPU kernels differ by instruction set (its AVX512 float expm1/log1p run ~5x slower than
    # its AVX2 ones), so the ratios depend on it
    note = (f"{torch.get_num_threads()} threads, torch {torch.__version__}, CPU kernels "
            f"{torch.backends.cpu.get_cpu_capability()}; medians of {REPEATS} "
            "alternating repeats of process CPU time (bench/_timing.duel; NLLLoss: "
            f"{SHORT_REPEATS} repeats of {SHORT_INNER} calls); "
            + ("glibc malloc set to reuse freed memory (bench/_timing.steady_allocator: fresh 16 MB "
               "mappings page-fault at random here and would decide the ratios)." if steady
               else "default allocator."))
    fused = ", ".join(f"{name} {s:.1f}" for name, s in FIRST_CALL_S.items()) or "none"
    mode = "on" if _fused.enabled("cpu") else "off"
    fused_note = (f"Fused kernels (activations/_fused.py): {mode}, for tensors of at least "
                  f"{_fused.THRESHOLD} elements (CrossEntropyLoss's index-target path uses the same). One-off "
                  "first call, compiling them (wall seconds, not in the medians; the first also starts "
                  f"inductor): {fused}.")
    write_result("losses_activations", "Losses and activations vs torch (forward+backward, CPU)",
                 note + "\n\n" + table + "\n\n" + fused_note)


if __name__ == "__main__":
    main()
