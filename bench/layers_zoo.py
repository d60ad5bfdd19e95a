"""model.layers=refzoo in the zoo (issue 18): accuracy targets on digits, and Fashion-MNIST's CNN with
torch's layers against the hand-written ones, into bench/results/layers_zoo.md.

    .venv/bin/python bench/layers_zoo.py            # digits (50 epochs each) + Fashion-MNIST cnn, 10 epochs
    .venv/bin/python bench/layers_zoo.py --quick    # Fashion-MNIST on 2 epochs x 50 batches: a few minutes
    .venv/bin/python bench/layers_zoo.py --only fashion

Digits: `python train.py model=... model.layers=refzoo` with every other setting at its default.
Fashion-MNIST: two train.py runs, model.layers=torch and model.layers=refzoo, same seed (so the same
initial weights: nn_for's classes draw them identically, checked here) and the same batches. They run
as two processes that take turns epoch by epoch (a callback hands the turn over after each epoch's
validation), so a drift of the shared machine hits both alike and neither competes with the other for
the cores. Epoch = train + validation, timed inside the turn; medians of epochs 2.. (the first pays
one-off warm-up).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402

from bench._timing import markdown_table, steady_allocator, write_result  # noqa: E402
from runner.compose import compose_config  # noqa: E402

QUIET = ["callbacks.progress_bar=null", "threads=1"]
DIGITS = [("model=mlp", 0.975), ("model=cnn", 0.985), ("model=rnn model.cell=lstm", 0.95),
          ("model=rnn model.cell=gru", 0.95)]
KINDS = ("torch", "refzoo")


def yes(ok: bool) -> str:
    return "yes" if ok else "NO"


def digits_section(root: Path) -> str:
    from train import train

    rows = []
    for choice, target in DIGITS:
        overrides = [*choice.split(), "model.layers=refzoo"]
        started = time.perf_counter()
        m = train(compose_config([*overrides, *QUIET], root / ("digits_" + "_".join(choice.split()))))
        secs = time.perf_counter() - started
        rows.append([f"`python train.py {' '.join(overrides)}`", round(m["test/acc"], 4), f">= {target}",
                     yes(m["test/acc"] >= target), round(secs, 1)])
    return ("Digits, every other setting at its default (50 epochs, seed 42), one thread:\n\n"
            + markdown_table(["run", "test/acc", "target", "met", "seconds"], rows))


class TakeTurns(pl.Callback):
    """Run epochs (and the final test) only while holding the turn; hand it over after each epoch's
    validation. Records each epoch's wall and process CPU seconds, and a digest of the initial weights."""

    def __init__(self, mine, theirs, record: dict):
        self.mine, self.theirs, self.record = mine, theirs, record
        self.started = (0.0, 0.0)

    def on_fit_start(self, trainer, pl_module):
        state = pl_module.state_dict()
        digest = hashlib.sha256()
        for key in sorted(state):
            digest.update(key.encode())
            digest.update(state[key].detach().cpu().contiguous().numpy().tobytes())
        self.record["initial_weights_sha256"] = digest.hexdigest()

    def on_train_epoch_start(self, trainer, pl_module):
        self.mine.acquire()
        self.started = (time.perf_counter(), time.process_time())

    def on_train_epoch_end(self, trainer, pl_module):  # after the epoch's validation
        wall, cpu = time.perf_counter() - self.started[0], time.process_time() - self.started[1]
        self.record.setdefault("epoch_wall_s", []).append(wall)
        self.record.setdefault("epoch_cpu_s", []).append(cpu)
        self.theirs.release()

    def on_test_start(self, trainer, pl_module):
        self.mine.acquire()

    def on_test_end(self, trainer, pl_module):
        self.theirs.release()


def _fashion_run(kind: str, overrides: list[str], out: str, mine, theirs) -> None:
    """One train.py run in its own process, taking turns with its partner; writes result.json."""
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    steady_allocator()
    from train import train

    record: dict = {"kind": kind}
    metrics = train(compose_config([*overrides, f"model.layers={kind}", *QUIET], Path(out)),
                    extra_callbacks=[TakeTurns(mine, theirs, record)])
    record["test/acc"] = metrics["test/acc"]
    (Path(out) / "result.json").write_text(json.dumps(record))


def median_epoch(seconds: list[float]) -> float:
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def fashion_section(root: Path, epochs: int, limit: int | None) -> str:
    overrides = ["model=cnn", "data=fashion_mnist", f"trainer.max_epochs={epochs}"]
    if limit:
        overrides.append(f"+trainer.limit_train_batches={limit}")
    ctx = mp.get_context("spawn")
    turns = [ctx.Semaphore(1), ctx.Semaphore(0)]  # torch's side goes first
    procs, outs = [], []
    for i, kind in enumerate(KINDS):
        out = root / f"fashion_cnn_{kind}"
        outs.append(out)
        procs.append(ctx.Process(target=_fashion_run, args=(kind, overrides, str(out), turns[i], turns[1 - i])))
    for p in procs:
        p.start()
    for p in procs:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a Fashion-MNIST run failed (exit {p.exitcode}); see {root}")
    res = {kind: json.loads((out / "result.json").read_text()) for kind, out in zip(KINDS, outs)}
    t, o = res["torch"], res["refzoo"]
    same_init = t["initial_weights_sha256"] == o["initial_weights_sha256"]
    gap = abs(o["test/acc"] - t["test/acc"]) * 100
    wall = {k: median_epoch(r["epoch_wall_s"]) for k, r in res.items()}
    cpu = {k: median_epoch(r["epoch_cpu_s"]) for k, r in res.items()}
    cmd = " ".join(overrides)
    table = markdown_table(
        ["`python train.py " + cmd + "`", "test/acc", "epoch wall s (median)", "epoch CPU s (median)"],
        [[f"model.layers={k}", round(res[k]["test/acc"], 4), round(wall[k], 2), round(cpu[k], 2)] for k in KINDS])
    per_epoch = markdown_table(
        ["epoch", *(f"{k} wall s" for k in KINDS), *(f"{k} CPU s" for k in KINDS)],
        [[e + 1, *(round(res[k]["epoch_wall_s"][e], 2) for k in KINDS),
          *(round(res[k]["epoch_cpu_s"][e], 2) for k in KINDS)] for e in range(len(t["epoch_wall_s"]))])
    ratio_wall, ratio_cpu = wall["refzoo"] / wall["torch"], cpu["refzoo"] / cpu["torch"]
    summary = markdown_table(
        ["same initial weights", "accuracy gap (points)", "<= 0.3", "refzoo/torch epoch (wall)",
         "refzoo/torch epoch (CPU)", "default (refzoo if <= 1.25)"],
        [[yes(same_init), round(gap, 2), yes(gap <= 0.3), round(ratio_wall, 3), round(ratio_cpu, 3),
          "refzoo" if ratio_cpu <= 1.25 else "torch"]])
    return f"{table}\n\n{summary}\n\nEach epoch (the two runs alternating):\n\n{per_epoch}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Fashion-MNIST on 2 epochs x 50 batches")
    parser.add_argument("--only", nargs="*", default=None, choices=["digits", "fashion"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    torch.set_num_threads(1)
    steady = steady_allocator()
    root = Path(tempfile.mkdtemp(prefix="refzoo_layers_zoo_"))
    wanted = set(args.only or ["digits", "fashion"])
    parts = []
    if "digits" in wanted:
        parts.append(digits_section(root))
    if "fashion" in wanted:
        epochs, limit = (2, 50) if args.quick else (10, None)
        what = "2 epochs of 50 batches (--quick)" if args.quick else "10 epochs"
        parts.append(f"Fashion-MNIST cnn, {what}, torch's layers against the hand-written ones, same seed and "
                     "batches, the two runs taking turns epoch by epoch:\n\n" + fashion_section(root, epochs, limit))
    cmd = "`.venv/bin/python bench/layers_zoo.py" + (" --quick" if args.quick else "") + (
        f" --only {' '.join(args.only)}" if args.only else "") + "`"
    write_result("layers_zoo", "model.layers=refzoo in the zoo",
                 f"{cmd}, 1 thread per run, "
                 + ("allocator reusing freed memory (bench/_timing.steady_allocator), " if steady else "")
                 + f"run folders under {root}.\n\n" + "\n\n".join(parts))


if __name__ == "__main__":
    main()
