"""A plain PyTorch twin of train.py for the classifiers: no Lightning, torch.optim.Adam, F.cross_entropy.

The twin builds the same model from the same composed config after the same seed (so the network,
its initial weights and its hand-written activations are identical), reads the same batches in the
same order from the datamodule's loaders, validates once per epoch, and tests the weights of its best
validation epoch, as train.py does with its checkpoint. What differs is only what train.py adds:
Lightning's loop, the hand-written Adam and cross-entropy, logging and checkpoints.
"""
from __future__ import annotations

import copy
import csv
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from hydra.utils import instantiate


@dataclass
class TwinResult:
    test_acc: float
    epoch_seconds: list[float]  # train + validation of each epoch

    @property
    def median_epoch_s(self) -> float:
        return median_epoch(self.epoch_seconds)


def median_epoch(seconds: list[float]) -> float:
    """Median epoch time, leaving out the first epoch (it pays one-off warm-up) when there are more."""
    return statistics.median(seconds[1:] if len(seconds) > 1 else seconds)


def lightning_epoch_seconds(run_dir: Path) -> list[float]:
    """Per-epoch seconds of a train.py run, from the `time/epoch_end_s` stamps in its metrics.csv."""
    with open(run_dir / "metrics.csv") as fh:
        stamps = sorted({float(r["time/epoch_end_s"]) for r in csv.DictReader(fh) if r.get("time/epoch_end_s")})
    return [b - a for a, b in zip([0.0, *stamps], stamps)]


def _accuracy(net: torch.nn.Module, loader) -> float:
    net.eval()
    correct = total = 0
    with torch.no_grad():
        for x, y in loader:
            correct += int((net(x).argmax(1) == y).sum())
            total += y.shape[0]
    return correct / total


def run_twin(cfg, epochs: int, limit_train_batches: int | None = None) -> TwinResult:
    """Train cfg.model on cfg.data for `epochs` in a plain loop; test accuracy at the best val epoch."""
    if cfg.trainer.get("deterministic"):
        torch.use_deterministic_algorithms(True)
    pl.seed_everything(cfg.seed, workers=True)  # the order train.py follows: seed, data, model
    dm = instantiate(cfg.data, _convert_="all")
    net = instantiate(cfg.model, _convert_="all").net
    dm.setup("fit")
    dm.setup("test")
    opt = torch.optim.Adam(net.parameters(), lr=cfg.optimizer.lr, betas=tuple(cfg.optimizer.betas),
                           eps=cfg.optimizer.eps, weight_decay=cfg.optimizer.weight_decay)
    best_acc, best_state, seconds = -1.0, None, []
    for epoch in range(epochs):
        start = time.perf_counter()
        loader = dm.train_dataloader()
        inner = getattr(loader, "loader", loader)  # a MappedBatchLoader wraps the slicing loader
        inner.epoch_fn = lambda e=epoch: e          # the shuffle train.py's loader uses in this epoch
        net.train()
        for i, (x, y) in enumerate(loader):
            if limit_train_batches is not None and i >= limit_train_batches:
                break
            loss = F.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        acc = _accuracy(net, dm.val_dataloader())
        seconds.append(time.perf_counter() - start)
        if acc > best_acc:
            best_acc, best_state = acc, copy.deepcopy(net.state_dict())
    net.load_state_dict(best_state)
    return TwinResult(_accuracy(net, dm.test_dataloader()), seconds)


class SaveFinalWeights(pl.Callback):
    """Saves the model's state_dict when training ends, as <run folder>/final_weights.pt.

    (last.ckpt is not the final state under every Lightning version: 2.6 rewrites it only in
    epochs where the monitored top-k checkpoint is written too.)
    """

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            torch.save(pl_module.state_dict(), Path(trainer.default_root_dir) / "final_weights.pt")
