"""Shared training/eval steps for classifiers: loss from config, accuracy from torchmetrics."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from ._base import ZooModule
from ._loss_kind import require_loss_kind
from ._recall import RecallTable


class ClassifierModule(ZooModule):
    """Subclasses build `self.net`; logs train/loss, val/loss, val/acc, test/loss, test/acc.

    A batch is `(x, y)` or `(x1, ..., xk, y)`: everything before the labels goes to `net` as
    positional inputs (names batches are `(chars, lengths, labels)`). Subclasses may override
    `compute_loss` (e.g. one logit for binary targets), `metric_input` (what accuracy compares
    with the labels), `predict_proba` (class probabilities, for ensembles) and `check_loss`.
    Per-class test recall comes from the RecallTable callback the model brings (`configure_callbacks`).
    """

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer], loss: nn.Module, num_classes: int,
                 compile: bool = False):
        super().__init__("train/loss", "val/loss", "test/loss")
        if not callable(optimizer):
            raise ValueError("model.optimizer must be a `_partial_: true` optimizer config (a callable taking params)")
        self.num_classes = int(num_classes)
        self.check_loss(loss)
        self.optimizer_factory = optimizer
        self.loss_fn = loss
        self.compile_net = bool(compile)
        self.net_compiled = False
        self.val_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.net: nn.Module

    def check_loss(self, loss: nn.Module) -> None:
        require_loss_kind(loss, ("class_index",), type(self).__name__.lower(),
                          "cross_entropy, nll, multi_margin (scores against class indices)")

    def setup(self, stage: str) -> None:
        if self.compile_net and not self.net_compiled:  # setup runs for fit and again for test
            self.net = torch.compile(self.net)
            self.net_compiled = True

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.net(*inputs)

    def compute_loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(out, y)

    def metric_input(self, out: torch.Tensor) -> torch.Tensor:
        return out

    def predict_proba(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Class probabilities (N, C): the softmax of the scores (compare.py --ensemble averages these)."""
        return torch.softmax(self(*inputs), dim=-1)

    def training_loss(self, batch):
        *inputs, y = batch
        return self.compute_loss(self(*inputs), y), y.shape[0]

    def _eval_step(self, stage: str, batch) -> dict[str, torch.Tensor]:
        """Adds the batch to {stage}/loss and {stage}/acc; returns what the metrics compare, with the labels."""
        *inputs, y = batch
        out = self(*inputs)
        pred = self.metric_input(out)
        getattr(self, f"{stage}_acc").update(pred, y)
        self.means.update(f"{stage}/loss", self.compute_loss(out, y), y.shape[0])
        return {"preds": pred, "target": y}

    def validation_step(self, batch, batch_idx):
        return self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        self.log_epoch("val", {"val/acc": self.val_acc})

    def test_step(self, batch, batch_idx):
        return self._eval_step("test", batch)  # the RecallTable callback counts these predictions

    def on_test_epoch_end(self) -> None:
        self.log_epoch("test", {"test/acc": self.test_acc})

    def configure_callbacks(self):
        return [RecallTable(self.num_classes)]

    def configure_optimizers(self):
        return self.optimizer_factory(self.parameters())
