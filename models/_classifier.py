"""Shared training/eval steps for classifiers: loss from config, accuracy from torchmetrics."""
from __future__ import annotations

from typing import Callable

import pytorch_lightning as pl
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy


class ClassifierModule(pl.LightningModule):
    """Subclasses build `self.net`; logs train/loss, val/loss, val/acc, test/loss, test/acc."""

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer], loss: nn.Module, num_classes: int,
                 compile: bool = False):
        super().__init__()
        if not callable(optimizer):
            raise ValueError("model.optimizer must be a `_partial_: true` optimizer config (a callable taking params)")
        self.optimizer_factory = optimizer
        self.loss_fn = loss
        self.compile_net = bool(compile)
        self.val_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.net: nn.Module

    def setup(self, stage: str) -> None:
        if self.compile_net and not getattr(self, "_compiled", False):
            self.net = torch.compile(self.net)
            self._compiled = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.loss_fn(self(x), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=y.shape[0])
        return loss

    def _eval_step(self, stage: str, batch, metric: MulticlassAccuracy) -> None:
        x, y = batch
        logits = self(x)
        loss = self.loss_fn(logits, y)
        metric.update(logits, y)
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, prog_bar=stage == "val", batch_size=y.shape[0])
        self.log(f"{stage}/acc", metric, on_step=False, on_epoch=True, prog_bar=stage == "val")

    def validation_step(self, batch, batch_idx):
        self._eval_step("val", batch, self.val_acc)

    def test_step(self, batch, batch_idx):
        self._eval_step("test", batch, self.test_acc)

    def configure_optimizers(self):
        return self.optimizer_factory(self.parameters())
