"""Shared training/eval steps for classifiers: loss from config, accuracy from torchmetrics."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy, MulticlassStatScores

from ._accumulation import window_weight
from ._hook_attrs import LightningModuleBase
from ._recall import class_names_of, recall_table, write_recall
from ._running_mean import RunningMean


class ClassifierModule(LightningModuleBase):
    """Subclasses build `self.net`; logs train/loss, val/loss, val/acc, test/loss, test/acc.

    A batch is `(x, y)` or `(x1, ..., xk, y)`: everything before the labels goes to `net` as
    positional inputs (names batches are `(chars, lengths, labels)`). Subclasses may override
    `compute_loss` (e.g. one logit for binary targets), `metric_input` (what accuracy compares
    with the labels) and `penalty` (a regularizer added to the training loss only).
    """

    def __init__(self, optimizer: Callable[..., torch.optim.Optimizer], loss: nn.Module, num_classes: int,
                 compile: bool = False):
        super().__init__()
        if not callable(optimizer):
            raise ValueError("model.optimizer must be a `_partial_: true` optimizer config (a callable taking params)")
        self.optimizer_factory = optimizer
        self.loss_fn = loss
        self.compile_net = bool(compile)
        self.train_loss = RunningMean()
        self.val_loss = RunningMean()
        self.test_loss = RunningMean()
        self.val_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        self.test_acc = MulticlassAccuracy(num_classes=num_classes, average="micro")
        # per-class counts of the test set (tp, fp, tn, fn, support), synchronized across ranks by
        # torchmetrics; recall and support go to <run folder>/recall.md after testing
        self.test_counts = MulticlassStatScores(num_classes=num_classes, average=None)
        self.num_classes = int(num_classes)
        self.recall_report: str | None = None
        self.net: nn.Module

    def setup(self, stage: str) -> None:
        if self.compile_net and not getattr(self, "_compiled", False):
            self.net = torch.compile(self.net)
            self._compiled = True

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.net(*inputs)

    def compute_loss(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss_fn(out, y)

    def metric_input(self, out: torch.Tensor) -> torch.Tensor:
        return out

    def penalty(self) -> torch.Tensor | None:
        return None

    def training_step(self, batch, batch_idx):
        *inputs, y = batch
        loss = self.compute_loss(self(*inputs), y)
        extra = self.penalty()
        if extra is not None:
            loss = loss + extra
        self.train_loss.update(loss.detach(), y.shape[0])
        weight = window_weight(self, batch_idx, y.shape[0])
        return loss if weight == 1.0 else loss * weight

    def on_train_epoch_start(self) -> None:
        self.train_loss.reset()

    def on_train_epoch_end(self) -> None:
        # one log call per epoch: Lightning's per-step `self.log` costs more than a small model's step
        self.log("train/loss", self.train_loss.compute(), prog_bar=True, sync_dist=True)

    def _eval_step(self, stage: str, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Accumulates {stage}/loss and {stage}/acc; returns (what the metrics compare, labels)."""
        *inputs, y = batch
        out = self(*inputs)
        pred = self.metric_input(out)
        getattr(self, f"{stage}_acc").update(pred, y)
        getattr(self, f"{stage}_loss").update(self.compute_loss(out, y).detach(), y.shape[0])
        return pred, y

    def _log_eval(self, stage: str) -> None:
        # once per epoch with plain tensors, however many validation batches: each Lightning self.log call
        # goes through its result collection, and logging a torchmetrics object adds a device move per call
        loss, acc = getattr(self, f"{stage}_loss"), getattr(self, f"{stage}_acc")
        self.log(f"{stage}/loss", loss.compute(), prog_bar=stage == "val", sync_dist=True)
        self.log(f"{stage}/acc", acc.compute(), prog_bar=stage == "val")  # torchmetrics syncs ranks itself
        loss.reset()
        acc.reset()

    def on_validation_epoch_start(self) -> None:
        self.val_loss.reset()
        self.val_acc.reset()

    def validation_step(self, batch, batch_idx):
        self._eval_step("val", batch)

    def on_validation_epoch_end(self) -> None:
        self._log_eval("val")

    def test_step(self, batch, batch_idx):
        pred, y = self._eval_step("test", batch)
        self.test_counts.update(pred, y)

    def on_test_epoch_start(self) -> None:
        self.test_loss.reset()
        self.test_acc.reset()
        self.test_counts.reset()

    def on_test_epoch_end(self) -> None:
        self._log_eval("test")
        tp, _fp, _tn, _fn, support = self.test_counts.compute().cpu().unbind(-1)
        self.test_counts.reset()
        recall = torch.where(support > 0, tp / support.clamp_min(1), 0.0)
        trainer = self._trainer
        names = class_names_of(trainer.datamodule if trainer is not None else None, self.num_classes)
        self.recall_report = recall_table(recall, support, names)
        if trainer is not None and trainer.is_global_zero:
            write_recall(Path(trainer.default_root_dir) / "recall.md", self.recall_report)
            print("\nTest recall per class\n" + self.recall_report)

    def configure_optimizers(self):
        return self.optimizer_factory(self.parameters())
