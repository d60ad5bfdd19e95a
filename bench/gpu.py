"""train.py on one GPU against a plain PyTorch loop on the same GPU: images per second, fp32 and bf16-mixed.

Each case composes train.py's config with `trainer=gpu trainer.precision=...` and times whole epochs
(training plus the one validation pass) of train(cfg) itself, every configured callback included; the
plain loop runs the same model class, hand-written optimizer and loss on the same batches (sliced from
the same in-memory tensors and copied to the GPU per batch, as the datamodule's loader does), under
torch.autocast for bf16. Wall clock with a device synchronize at each epoch boundary; the two sides
alternate, first epochs dropped, medians compared. Run: `python bench/gpu.py` (skips without CUDA).
Fashion-MNIST is read from data.root or /usr/share/datasets/fashion-mnist: `REFZOO_FASHION_ROOT=...`.
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from hydra.utils import instantiate  # noqa: E402

from _timing import markdown_table, write_result  # noqa: E402
from loop_overhead import EpochTimer  # noqa: E402
from runner.compose import compose_config  # noqa: E402
from train import train  # noqa: E402

EPOCHS = int(os.environ.get("REFZOO_GPU_EPOCHS", 5))
REPEATS = int(os.environ.get("REFZOO_GPU_REPEATS", 3))
DEVICE, TRAINER = "cuda", "trainer=gpu"  # a dry run on the CPU swaps these


def gpu_clock() -> float:
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def _cases() -> dict[str, list[str]]:
    fashion = os.environ.get("REFZOO_FASHION_ROOT")
    root = [f"data.root={fashion}"] if fashion else []
    return {
        "mlp / digits (default)": [],
        "cnn / fashion_mnist": ["model=cnn", "data=fashion_mnist", "data.download=false", *root],
    }


def lightning_epochs(overrides: list[str], out: Path) -> list[float]:
    cfg = compose_config([f"trainer.max_epochs={EPOCHS}", "test=false", TRAINER, *overrides], out)
    timer = EpochTimer(clock=gpu_clock)
    logging.disable(logging.WARNING)
    with contextlib.redirect_stdout(io.StringIO()):
        train(cfg, extra_callbacks=[timer])
    logging.disable(logging.NOTSET)
    return timer.epoch_times()[1:]


def plain_epochs(overrides: list[str], out: Path, precision: str) -> tuple[list[float], int]:
    cfg = compose_config([f"trainer.max_epochs={EPOCHS}", *overrides], out)
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True  # as configs/trainer/gpu.yaml sets it
    dev = torch.device(DEVICE)
    dm = instantiate(cfg.data, _convert_="all")
    dm.setup("fit")
    model = instantiate(cfg.model, _convert_="all")
    net, loss_fn = model.net.to(dev), model.loss_fn.to(dev)
    opt = model.optimizer_factory(net.parameters())
    xs, ys = dm.train_set
    vx, vy = dm.val_set
    bs = dm.batch_size
    amp = (torch.autocast(DEVICE, dtype=torch.bfloat16) if precision == "bf16-mixed"
           else contextlib.nullcontext())
    times = []
    for _ in range(EPOCHS):
        start = gpu_clock()
        net.train()
        perm = torch.randperm(xs.shape[0])
        for i in range(0, xs.shape[0], bs):
            idx = perm[i:i + bs]
            x, y = xs[idx].to(dev, non_blocking=True), ys[idx].to(dev, non_blocking=True)
            with amp:
                loss = loss_fn(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad(), amp:
            # summed on the device and read once, as the Lightning module's running means are
            correct, total = torch.zeros((), device=dev), torch.zeros((), device=dev)
            for i in range(0, vx.shape[0], bs):
                x, y = vx[i:i + bs].to(dev), vy[i:i + bs].to(dev)
                logits = net(x)
                total += loss_fn(logits, y).float() * len(y)
                correct += (logits.argmax(1) == y).sum()
            _ = (float(total) / vx.shape[0], float(correct) / vx.shape[0])
        times.append(gpu_clock() - start)
    return times[1:], xs.shape[0]


def throughput_rows(tmp: Path) -> list[list[object]]:
    rows = []
    for name, ov in _cases().items():
        for precision in ("32-true", "bf16-mixed"):
            full = [*ov, f"trainer.precision={precision}"]
            ours, theirs, n = [], [], 0
            for r in range(REPEATS):
                ours += lightning_epochs(full, tmp / f"{name[:3]}-{precision}-{r}")
                t, n = plain_epochs(full, tmp / f"plain-{name[:3]}-{precision}-{r}", precision)
                theirs += t
            m, p = statistics.median(ours), statistics.median(theirs)
            rows.append([name, precision, m * 1e3, p * 1e3, round(n / m), round(n / p), round(m / p, 3)])
            print(rows[-1], flush=True)
    return rows


def main() -> None:
    if not torch.cuda.is_available():
        print("bench/gpu.py: no CUDA device, skipped")
        return
    with tempfile.TemporaryDirectory() as tmp:
        rows = throughput_rows(Path(tmp))
    body = (f"{torch.cuda.get_device_name()}, torch {torch.__version__}; {REPEATS} repeats of {EPOCHS} epochs "
            "per side, first epoch of each dropped; an epoch is the training pass plus one validation pass; "
            "wall clock with a device synchronize at each epoch boundary; batch 128 (the data configs' "
            "default).\n\n"
            + markdown_table(["model / data", "precision", "train.py epoch (ms)", "plain loop epoch (ms)",
                              "train.py images/s", "plain images/s", "ratio"], rows))
    write_result("gpu", "GPU throughput: train.py vs a plain PyTorch loop", body)


if __name__ == "__main__":
    main()
