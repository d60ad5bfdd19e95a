"""The judge: a small CNN classifier whose penultimate features and class probabilities score images.

Generative models need a feature space for the Frechet distance and a classifier for confidence and
coverage; instead of downloaded Inception weights the zoo trains its own judge on the same dataset,
once, and caches it under `<cache>/judges/<dataset>_e<epochs>_s<min_steps>.pt` (cache = `judge.cache_dir`, else
$REFZOO_CACHE, else ~/.cache/refzoo), or loads the file given by `judge.path`.

It is a referee, not a zoo exhibit: it trains with torch's own Adam and cross-entropy so that its
verdicts do not depend on the hand-written pieces being judged.
"""
from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger("refzoo")

FEATURES = 64


class JudgeNet(nn.Module):
    """conv3x3(32) -> ReLU -> conv3x3(64) -> ReLU -> pool to 4x4 -> Linear(FEATURES) -> ReLU -> Linear(C)."""

    def __init__(self, input_shape: Sequence[int], num_classes: int):
        super().__init__()
        self.input_shape = tuple(int(s) for s in input_shape)
        self.num_classes = int(num_classes)
        c = self.input_shape[0]
        self.body = nn.Sequential(
            nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1, stride=2 if self.input_shape[-1] >= 16 else 1), nn.ReLU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(),
            nn.Linear(64 * 16, FEATURES), nn.ReLU(),
        )
        self.head = nn.Linear(FEATURES, self.num_classes)

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer activations: the space the Frechet distance is measured in."""
        return self.body(x.reshape(-1, *self.input_shape))

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    if cache_dir:
        return Path(cache_dir).expanduser()
    env = os.environ.get("REFZOO_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "refzoo"


def dataset_key(datamodule: object, input_shape: Sequence[int]) -> str:
    """'digits_1x8x8' from DigitsDataModule and its image shape."""
    name = type(datamodule).__name__.removesuffix("DataModule").lower() or "data"
    return f"{name}_{'x'.join(str(int(s)) for s in input_shape)}"


def _batches(datamodule, which: str) -> Iterable[tuple[Tensor, Tensor]]:
    if getattr(datamodule, "train_set", None) is None and hasattr(datamodule, "setup"):
        datamodule.setup("fit")  # a test-only run may not have loaded the training split
    tensors = getattr(datamodule, f"{which}_set", None)
    if tensors is not None:  # in-memory datamodules: no loader needed
        yield tensors[0], tensors[1]
        return
    loader = datamodule.train_dataloader() if which == "train" else datamodule.val_dataloader()
    yield from loader


def train_judge(datamodule, input_shape: Sequence[int], num_classes: int, epochs: int = 2,
                batch_size: int = 64, seed: int = 0, min_steps: int = 600) -> JudgeNet:
    """`epochs` of Adam on the datamodule's training images, more if that is under `min_steps` steps
    (small sets such as digits need many passes); a few seconds on digits."""
    gen = torch.Generator().manual_seed(seed)
    # called from validation or test, where Lightning has switched gradients off
    with torch.inference_mode(False), torch.enable_grad(), torch.random.fork_rng(devices=[]):
        # fork_rng: the judge must not shift the run's random stream
        torch.manual_seed(seed)
        net = JudgeNet(input_shape, num_classes)
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        xs, ys = zip(*[(x.cpu(), y.cpu()) for x, y in _batches(datamodule, "train")])
        x_all, y_all = torch.cat(xs).float(), torch.cat(ys).long()
        net.train()
        per_epoch = -(-len(y_all) // batch_size)
        for _ in range(max(int(epochs), -(-int(min_steps) // per_epoch))):
            order = torch.randperm(len(y_all), generator=gen)
            for i in range(0, len(order), batch_size):
                idx = order[i:i + batch_size]
                loss = F.cross_entropy(net(x_all[idx]), y_all[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return net.eval()


def accuracy(net: JudgeNet, x: Tensor, y: Tensor, batch_size: int = 1024) -> float:
    with torch.no_grad():
        hits = sum(int((net(x[i:i + batch_size]).argmax(1) == y[i:i + batch_size]).sum())
                   for i in range(0, len(y), batch_size))
    return hits / max(len(y), 1)


def save_judge(net: JudgeNet, path: Path, **meta) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    torch.save({"state_dict": net.state_dict(), "input_shape": list(net.input_shape),
                "num_classes": net.num_classes, **meta}, tmp)
    tmp.replace(path)  # atomic: a concurrent run never reads half a file
    return path


def load_judge(path: str | os.PathLike, input_shape: Sequence[int] | None = None,
               num_classes: int | None = None) -> JudgeNet:
    path = Path(path).expanduser()
    if not path.is_file():
        raise ValueError(f"judge.path: {path} does not exist (leave it null to train and cache a judge)")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    shape, classes = tuple(payload["input_shape"]), int(payload["num_classes"])
    if input_shape is not None and tuple(int(s) for s in input_shape) != shape:
        raise ValueError(f"judge.path: {path} judges images of shape {list(shape)}, not {list(input_shape)}")
    if num_classes is not None and int(num_classes) != classes:
        raise ValueError(f"judge.path: {path} has {classes} classes, the data has {num_classes}")
    net = JudgeNet(shape, classes)
    net.load_state_dict(payload["state_dict"])
    return net.eval()


def get_judge(datamodule, input_shape: Sequence[int], num_classes: int, path: str | None = None,
              cache_dir: str | None = None, epochs: int = 2, min_steps: int = 600,
              is_global_zero: bool = True, barrier=None) -> JudgeNet:
    """Load `path`, else the cached judge for this dataset, else train one (rank 0) and cache it."""
    with torch.inference_mode(False):  # normal tensors, usable outside Lightning's eval loops too
        return _get_judge(datamodule, input_shape, num_classes, path, cache_dir, epochs, min_steps,
                          is_global_zero, barrier)


def _get_judge(datamodule, input_shape, num_classes, path, cache_dir, epochs, min_steps, is_global_zero,
               barrier) -> JudgeNet:
    if path:
        return load_judge(path, input_shape, num_classes)
    # the whole training budget is part of the name: a judge trained for fewer steps is a different ruler
    budget = f"e{int(epochs)}_s{int(min_steps)}"
    file = cache_root(cache_dir) / "judges" / f"{dataset_key(datamodule, input_shape)}_{budget}.pt"
    if not file.is_file() and is_global_zero:
        started = time.perf_counter()
        net = train_judge(datamodule, input_shape, num_classes, epochs=epochs, min_steps=min_steps)
        val = next(iter(_batches(datamodule, "val")), None)
        acc = accuracy(net, val[0].cpu().float(), val[1].cpu()) if val is not None else float("nan")
        save_judge(net, file, val_accuracy=acc, epochs=int(epochs))
        log.info("trained judge for %s in %.1fs (val accuracy %.3f) -> %s", file.stem,
                 time.perf_counter() - started, acc, file)
    if barrier is not None:
        barrier()
    return load_judge(file, input_shape, num_classes)
