"""The generative zoo's full runs: digits pictures and timings, Fashion-MNIST parity with plain PyTorch twins.

    .venv/bin/python bench/zoo_generative.py           # digits (default config) + Fashion-MNIST, 10 epochs
    .venv/bin/python bench/zoo_generative.py --quick   # digits + a Fashion-MNIST subset (a few minutes)

Twins: the same networks (our model's layers, initial weights copied, hand-written activations swapped
for torch.nn's), torch.optim.Adam and torch.nn.functional losses, the same seed and the same batches
(the datamodule's loader); each side is tested at its best validation epoch, as train.py does.
Results go to bench/results/zoo_generative.md; pictures stay in the run folders under /tmp.
"""
from __future__ import annotations

import argparse
import copy
import csv

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PROJECT_ROOT", str(ROOT))

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from torch import nn  # noqa: E402

from bench._timing import markdown_table, write_result  # noqa: E402
from runner.compose import compose_config  # noqa: E402

def compose_cfg(overrides: list[str], out: Path):
    return compose_config([*overrides], out)


def run_ours(overrides: list[str], out: Path) -> tuple[dict, float]:
    from train import train

    cfg = compose_cfg([*overrides, "callbacks.progress_bar=null"], out)
    started = time.perf_counter()
    metrics = train(cfg)
    return metrics, time.perf_counter() - started


def torch_twin(module: nn.Module) -> nn.Module:
    """A deep copy with every hand-written activation replaced by torch.nn's."""
    import activations as A

    twin = copy.deepcopy(module)
    swap = {A.ReLU: nn.ReLU, A.Sigmoid: nn.Sigmoid}
    for parent in twin.modules():
        for name, child in list(parent.named_children()):
            if type(child) in swap:
                setattr(parent, name, swap[type(child)]())
    return twin


def _vae_loss(net, x, sample: bool):
    h = net.encoder(x)
    mu, logvar = net.fc_mu(h), net.fc_logvar(h)
    z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar) if sample else mu
    recon = net.decoder(z)
    rec = F.binary_cross_entropy(recon.reshape(x.shape), x, reduction="sum") / x.shape[0]
    kl = -0.5 * (1 + logvar - mu.square() - logvar.exp()).sum() / x.shape[0]
    return rec + kl


def run_twin(overrides: list[str], epochs: int, limit_batches: int | None) -> float:
    """Plain PyTorch: same network and initial weights, torch.optim.Adam, F losses; test loss at best val epoch."""
    cfg = compose_cfg(overrides, Path(tempfile.mkdtemp()))
    pl.seed_everything(cfg.seed, workers=True)
    dm = instantiate(cfg.data, _convert_="all")
    ours = instantiate(cfg.model, _convert_="all")
    dm.setup("fit")
    dm.setup("test")
    net = torch_twin(ours)
    vae = cfg.model._target_.endswith("VAE")

    def loss_of(x, sample):
        return _vae_loss(net, x, sample) if vae else F.mse_loss(net.decoder(net.encoder(x)), x)

    opt = torch.optim.Adam(net.parameters(), lr=cfg.optimizer.lr, betas=tuple(cfg.optimizer.betas),
                           eps=cfg.optimizer.eps)
    best, best_state = float("inf"), None
    for epoch in range(epochs):
        loader = dm.train_dataloader()
        loader.epoch_fn = lambda e=epoch: e  # the order train.py's loader uses in this epoch
        net.train()
        for i, (x, *_rest) in enumerate(loader):
            if limit_batches is not None and i >= limit_batches:
                break
            loss = loss_of(x, True)
            opt.zero_grad()
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            tot = n = 0.0
            for x, *_rest in dm.val_dataloader():
                tot += float(loss_of(x, True if vae else False)) * x.shape[0]
                n += x.shape[0]
        if tot / n < best:
            best, best_state = tot / n, copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    with torch.no_grad():
        tot = n = 0.0
        for x, *_rest in dm.test_dataloader():
            tot += float(loss_of(x, True)) * x.shape[0]
            n += x.shape[0]
    return tot / n


def digits_section(root: Path) -> str:
    rows = []
    # the GAN's measured setup (model/gan.yaml stays in its lane: optimizer and batch come from here)
    for model, extra in (("autoencoder", []), ("vae", []), ("gan", ["optimizer=adam_dcgan", "data.batch_size=16"])):
        out = root / f"digits_{model}"
        m, secs = run_ours([f"model={model}", *extra], out)
        keys = ["test/loss", "test/recon", "test/fd", "test/confidence", "test/coverage", "test/fd_noise"]
        rows.append([f"{model} {' '.join(extra)}".strip(), round(secs, 1), "yes" if secs < 120 else "NO",
                     *[round(m[k], 3) if k in m else "" for k in keys], str(out)])
    return markdown_table(["digits run (default config, 50 epochs)", "seconds", "< 120 s", "test/loss", "test/recon",
                           "test/fd", "test/confidence", "test/coverage", "fd of uniform noise", "run folder"], rows)


def fashion_section(root: Path, epochs: int, limit: int | None) -> str:
    lim = [f"+trainer.limit_train_batches={limit}"] if limit else []
    base = ["data=fashion_mnist", f"trainer.max_epochs={epochs}"]
    rows = []
    for model in ("autoencoder", "vae_mlp"):
        ours, secs = run_ours([f"model={model}", *base, *lim], root / f"fashion_{model}")
        twin = run_twin([f"model={model}", *base], epochs, limit)
        gap = ours["test/loss"] / twin - 1
        rows.append([model, round(ours["test/loss"], 5), round(twin, 5), f"{gap:+.2%}",
                     "yes" if abs(gap) <= 0.02 else "NO", round(secs, 1)])
    return markdown_table(["Fashion-MNIST", "refzoo test/loss", "torch twin test/loss", "gap", "within 2%",
                           "refzoo seconds"], rows)


def fashion_gan_section(root: Path, epochs: int) -> str:
    out = root / "fashion_gan"
    m, secs = run_ours(["experiment=gan_fashion", f"trainer.max_epochs={epochs}"], out)
    with open(out / "metrics.csv") as fh:
        fds = [float(r["val/fd"]) for r in csv.DictReader(fh) if r.get("val/fd")]
    return markdown_table(
        ["Fashion-MNIST gan", "value", "target", "met"],
        [["test/confidence", round(m["test/confidence"], 3), ">= 0.8", "yes" if m["test/confidence"] >= 0.8 else "NO"],
         ["test/coverage", round(m["test/coverage"], 3), ">= 0.9", "yes" if m["test/coverage"] >= 0.9 else "NO"],
         ["test/fd / fd of noise", round(m["test/fd"] / m["test/fd_noise"], 3), "<= 0.333",
          "yes" if m["test/fd"] <= m["test/fd_noise"] / 3 else "NO"],
         ["val/fd by epoch", " ".join(f"{v:.0f}" for v in fds), "falls", "yes" if fds and fds[-1] < fds[0] else "NO"],
         ["seconds", round(secs, 1), "", ""]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="digits + a Fashion-MNIST subset, no Fashion GAN")
    args = parser.parse_args()
    # one thread: on a small shared machine a descheduled worker thread stalls every op
    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="refzoo_generative_"))
    cmd = "`.venv/bin/python bench/zoo_generative.py" + (" --quick`" if args.quick else "`")
    head = f"{cmd}, {torch.get_num_threads()} threads, judge cache {os.environ.get('REFZOO_CACHE', '~/.cache/refzoo')}."
    parts: list[str] = []

    def publish(done: bool) -> None:
        # written after every section, so a long run that is stopped still leaves what it measured
        state = "" if done else "\n\n_(partial: the run was still going when this was written)_"
        write_result("zoo_generative", "Generative zoo: digits runs and Fashion-MNIST parity",
                     head + state + "\n\n" + "\n\n".join(parts))

    parts.append(digits_section(root))
    publish(False)
    if args.quick:
        parts.append("Fashion-MNIST subset (--quick: 2 epochs of 50 batches; the full run is 10 epochs):\n\n"
                     + fashion_section(root, 2, 50))
    else:
        parts.append("Fashion-MNIST, 10 epochs:\n\n" + fashion_section(root, 10, None))
        publish(False)
        parts.append("Fashion-MNIST GAN, 10 epochs:\n\n" + fashion_gan_section(root, 10))
    publish(True)

if __name__ == "__main__":
    main()
