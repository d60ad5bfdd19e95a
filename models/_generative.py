"""Shared parts of the generative models: run-folder pictures, the judge, and feature-space metrics.

Pictures go to the run folder (`trainer.default_root_dir`, which train.py points at
`paths.output_dir`) and are written by global rank 0 only. Metrics that need the judge (test/fd,
test/confidence, test/coverage) gather features from every rank before reducing.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pytorch_lightning as pl
import torch
from torch import Tensor

from ._feature_metrics import confidence, coverage, frechet_distance
from ._base import ZooModule
from ._judge import JudgeNet, get_judge

JUDGE_DEFAULTS = {"path": None, "cache_dir": None, "epochs": 10, "min_steps": 600}


def check_optimizer(value: Any, key: str) -> Callable[..., torch.optim.Optimizer]:
    if not callable(value):
        raise ValueError(f"{key} must be a `_partial_: true` optimizer config (a callable taking params)")
    return value


def judge_settings(judge: Mapping[str, Any] | None) -> dict[str, Any]:
    settings = {**JUDGE_DEFAULTS, **dict(judge or {})}
    unknown = set(settings) - set(JUDGE_DEFAULTS)
    if unknown:
        raise ValueError(f"model.judge: unknown keys {sorted(unknown)}; allowed: {sorted(JUDGE_DEFAULTS)}")
    if int(settings["epochs"]) < 1:
        raise ValueError(f"model.judge.epochs must be a positive integer, got {settings['epochs']}")
    if int(settings["min_steps"]) < 0:
        raise ValueError(f"model.judge.min_steps must be a non-negative integer, got {settings['min_steps']}")
    return settings


def image_grid_path(module: pl.LightningModule, name: str) -> Path:
    trainer = module.trainer
    return Path(trainer.default_root_dir) / name


class GenerativeModule(ZooModule):
    """Base for autoencoder, VAE and GAN: judge loading, feature collection, picture saving."""

    def __init__(self, input_shape: Sequence[int], num_classes: int, judge: Mapping[str, Any] | None,
                 pictures: int = 16, means: Sequence[str] = ()):
        super().__init__(*means)
        self.input_shape = tuple(int(s) for s in input_shape)
        if len(self.input_shape) != 3:
            raise ValueError(f"data.input_shape must be (channels, height, width) for a generative model, "
                             f"got {list(self.input_shape)}")
        self.num_classes = int(num_classes)
        self.judge_cfg = judge_settings(judge)
        if int(pictures) < 1:
            raise ValueError(f"model.pictures must be a positive integer, got {pictures}")
        self.pictures = int(pictures)
        self._features: dict[str, list[Tensor]] = {}
        self._probs: dict[str, list[Tensor]] = {}

    # ---------------------------------------------------------------- judge
    @property
    def judge(self) -> JudgeNet:
        """The judge classifier, loaded or trained on first use; kept out of state_dict and checkpoints."""
        net = self.__dict__.get("_judge_net")
        if net is None:
            trainer = self.trainer
            net = get_judge(trainer.datamodule, self.input_shape, self.num_classes,
                            path=self.judge_cfg["path"], cache_dir=self.judge_cfg["cache_dir"],
                            epochs=int(self.judge_cfg["epochs"]), min_steps=int(self.judge_cfg["min_steps"]),
                            is_global_zero=trainer.is_global_zero,
                            barrier=trainer.strategy.barrier if trainer.world_size > 1 else None)
            for p in net.parameters():
                p.requires_grad_(False)
            self.__dict__["_judge_net"] = net
        if next(net.parameters()).device != self.device:
            net.to(self.device)
        return net

    @torch.no_grad()
    def collect(self, key: str, images: Tensor, with_probs: bool = False) -> None:
        """Store the judge's features (and class probabilities) of a batch under `key`."""
        judge = self.judge
        feats = judge.features(images.float().clamp(0, 1))
        self._features.setdefault(key, []).append(feats.to(torch.float64))
        if with_probs:
            logits = judge.head(feats)
            self._probs.setdefault(key, []).append(torch.exp(logits - logits.logsumexp(1, keepdim=True)))

    def _gathered(self, store: dict[str, list[Tensor]], key: str) -> Tensor:
        t = torch.cat(store[key])
        if self.trainer.world_size > 1:
            t = self.all_gather(t).flatten(0, 1)
        return t

    def frechet(self, real_key: str, fake_key: str) -> float:
        return frechet_distance(self._gathered(self._features, real_key), self._gathered(self._features, fake_key))

    def class_scores(self, key: str) -> tuple[float, float]:
        """(confidence, coverage) of the probabilities collected under `key`."""
        probs = self._gathered(self._probs, key)
        return confidence(probs), coverage(probs.argmax(1), self.num_classes)

    def clear_collected(self) -> None:
        self._features.clear()
        self._probs.clear()

    # ---------------------------------------------------------------- pictures
    def save_grid(self, name: str, images: Tensor, nrow: int) -> Path | None:
        """Write a PNG grid of images in [0, 1] into the run folder (rank 0 only)."""
        if not self.trainer.is_global_zero:
            return None
        from torchvision.utils import save_image

        path = image_grid_path(self, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        imgs = images.detach().float().reshape(-1, *self.input_shape).clamp(0, 1).cpu()
        scale = max(1, 32 // self.input_shape[-1])  # 8x8 digits become 32x32 blocks: visible in a viewer
        if scale > 1:
            imgs = imgs.repeat_interleave(scale, dim=-2).repeat_interleave(scale, dim=-1)
        save_image(imgs, path, nrow=nrow, padding=1, pad_value=0.5)
        return path

    def save_reconstructions(self, x: Tensor, recon: Tensor, name: str = "recon.png") -> Path | None:
        """Inputs in the top row(s), their reconstructions underneath."""
        n = min(self.pictures, x.shape[0])
        both = torch.cat([x[:n].reshape(n, -1), recon[:n].reshape(n, -1)])
        return self.save_grid(name, both, nrow=n)


def fixed_noise(n: int, dim: int, seed: int = 0) -> Tensor:
    """The same standard-normal codes in every run, from a private generator (the global stream is untouched)."""
    return torch.randn(n, dim, generator=torch.Generator().manual_seed(seed))


def normal_quantile_grid(steps: int, bound: float = 0.95) -> Tensor:
    """A steps x steps grid of 2-d codes at evenly spaced standard-normal quantiles in (1-bound, bound)."""
    p = torch.linspace(1 - bound, bound, steps, dtype=torch.float64)
    q = (2.0 ** 0.5) * torch.erfinv(2 * p - 1)
    ys, xs = torch.meshgrid(q.flip(0), q, indexing="ij")
    return torch.stack([xs.reshape(-1), ys.reshape(-1)], dim=1).float()
