"""Epoch time of train.py's Lightning loop against a plain PyTorch loop: same MLP, data, batch size.

Epochs are timed in process CPU time (one thread, no worker processes), so other load on the machine does
not bill either side for waiting. Both sides use the same model class, hand-written optimizer and loss
from the composed default config, and both validate once per epoch; they alternate (Lightning epochs, then plain epochs, repeated) and
the medians of the per-epoch times are compared. Run: `python bench/loop_overhead.py`. The ratio is
reported, not held to a limit: the limits are on real-size epochs (bench/zoo.py, Fashion-MNIST).
"""
from __future__ import annotations

import contextlib
import io
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

from _timing import markdown_table, write_result  # noqa: E402
from runner.compose import compose_config  # noqa: E402
from train import train  # noqa: E402

EPOCHS = 50  # configs/trainer's default: a whole default run, so checkpoint writes weigh as they do in one
REPEATS = 5


class EpochTimer(pl.Callback):
    """Process time at the start of every training epoch, and when training ends.

    The gap between two epoch starts covers the whole epoch: training, validation, logging and checkpoints
    (checkpoint callbacks run in the epoch-end hooks, after every other callback).
    """

    def __init__(self, clock=time.process_time):
        self.stamps: list[float] = []
        self.clock = clock

    def on_train_epoch_start(self, trainer, pl_module):
        self.stamps.append(self.clock())

    def on_train_end(self, trainer, pl_module):
        self.stamps.append(self.clock())

    def epoch_times(self) -> list[float]:
        return [b - a for a, b in zip(self.stamps, self.stamps[1:])]


def lightning_epochs(overrides: list[str], out: Path) -> list[float]:
    """Epoch times of train.py's own train(cfg): every configured and built-in callback, logger and check."""
    cfg = compose_config([f"trainer.max_epochs={EPOCHS}", "test=false", "threads=1", *overrides], out)
    timer = EpochTimer()
    logging.disable(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()):  # the run summary; the progress bar is timed but not shown
        train(cfg, extra_callbacks=[timer])
    logging.disable(logging.NOTSET)
    return timer.epoch_times()[1:]  # the first epoch pays one-off setup


def plain_epochs(overrides: list[str], out: Path) -> list[float]:
    cfg = compose_config([f"trainer.max_epochs={EPOCHS}", *overrides], out)
    torch.manual_seed(0)
    dm = instantiate(cfg.data, _convert_="all")
    dm.setup("fit")
    model = instantiate(cfg.model, _convert_="all")
    net, loss_fn = model.net, model.loss_fn
    opt = model.optimizer_factory(net.parameters())
    xs, ys = dm.train_set
    vx, vy = dm.val_set
    bs = dm.batch_size
    times = []
    for epoch in range(EPOCHS):
        start = time.process_time()
        net.train()
        perm = torch.randperm(xs.shape[0])
        for i in range(0, xs.shape[0], bs):
            idx = perm[i:i + bs]
            loss = loss_fn(net(xs[idx]), ys[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            logits = net(vx)
            _ = (loss_fn(logits, vy).item(), (logits.argmax(1) == vy).float().mean().item())
        times.append(time.process_time() - start)
    return times[1:]


def main() -> None:
    torch.set_num_threads(1)  # one core each: the comparison is about loop overhead, not BLAS threads
    cases = {
        "train.py default (checkpoint + csv log + progress bar)": [],
        "train.py, bare (no callbacks, no logger)": ["~callbacks", "~logger", "+trainer.enable_progress_bar=false",
                                                     "+trainer.enable_checkpointing=false"],
    }
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for batch in (128, 64):  # 128 is configs/data/digits.yaml's default
            bs = [f"data.batch_size={batch}"]
            plain: list[float] = []
            results: dict[str, list[float]] = {k: [] for k in cases}
            pair_ratios: dict[str, list[float]] = {k: [] for k in cases}
            for r in range(REPEATS):
                for name, ov in cases.items():
                    # each run right beside a plain run: on this shared virtual machine the speed of the whole
                    # machine drifts over tens of seconds, and a ratio of neighbours cancels most of that drift
                    ours = lightning_epochs([*bs, *ov], Path(tmp) / f"{batch}-{r}-{len(results[name])}")
                    theirs = plain_epochs(bs, Path(tmp) / f"plain{batch}-{r}-{len(results[name])}")
                    results[name] += ours
                    plain += theirs
                    pair_ratios[name].append(statistics.median(ours) / statistics.median(theirs))
            p = statistics.median(plain)
            for name, times in results.items():
                m = statistics.median(times)
                ratio = statistics.median(pair_ratios[name])
                spread = f"{min(pair_ratios[name]):.2f}-{max(pair_ratios[name]):.2f}"
                rows.append([batch, name, m * 1e3, p * 1e3, round(m / p, 3), round(ratio, 3), spread])
    body = ("MLP (default config) on digits (1,257 training images), one validation pass per epoch, one thread, "
            f"process CPU time; each of {REPEATS} repeats runs train(cfg) for {EPOCHS} epochs and then the plain "
            f"loop for {EPOCHS}, first epochs dropped. Epoch columns: medians over all repeats; the paired ratio is "
            "the median of the per-repeat ratios (neighbouring runs), with their range. A digits epoch is about ten "
            "small batches, so this ratio is mostly Lightning's fixed cost per step and per epoch; it "
            "has no limit (the limits apply to bench/zoo.py's real-size Fashion-MNIST epochs).\n\n"
            + markdown_table(["batch", "loop", "epoch (ms)", "plain loop (ms)", "ratio of medians",
                              "median paired ratio", "paired range"], rows))
    write_result("loop_overhead", "Loop overhead: train.py vs a plain PyTorch loop", body)


if __name__ == "__main__":
    main()
