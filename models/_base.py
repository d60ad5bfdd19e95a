"""What every zoo model shares: per-epoch logging, exact gradient accumulation, and the optimizer's
request for a double-backward graph. Each piece uses Lightning's public hooks only.

Logging: a model adds each batch's values to its epoch means (`self.means.update`) and its torchmetrics
(`update`), and `log_epoch` logs them once when the stage's epoch ends. One `self.log` call costs more
than a small model's whole training step, so nothing is logged per step.

Training: an automatically optimized model implements `training_loss(batch) -> (loss, samples)`; the
shared `training_step` records `train/loss` and scales the loss for exact accumulation (models/_accumulation.py).
It also adds the weight penalty (`train/penalty`) and runs the loss with noisy weights when the model's
`regularize` call switched them on (models/_regularization.py).
"""
from __future__ import annotations

import warnings
from typing import Any, Mapping

import pytorch_lightning as pl
from torch import Tensor
from torchmetrics import Metric

from ._accumulation import window_weight
from ._regularization import Regularization
from ._running_mean import EpochMeans


def wants_double_backward(trainer: pl.Trainer) -> bool:
    """Whether an optimizer asks for a backward that keeps its graph (Newton's Hessian-vector products)."""
    return any(getattr(opt, "needs_create_graph", False) for opt in trainer.optimizers)


class ZooModule(pl.LightningModule):
    """Base of every zoo model; subclasses name their epoch means: `super().__init__("train/loss", ...)`."""

    def __init__(self, *mean_names: str):
        super().__init__()
        self.means = EpochMeans(*mean_names)
        self.regularization = Regularization()  # off until the model calls `regularize`

    # ------------------------------------------------------------ logging
    def log_epoch(self, stage: str, extra: Mapping[str, Tensor | float | Metric] | None = None) -> None:
        """Log the stage's epoch means and `extra` (torchmetrics objects are computed, then reset)."""
        show = stage != "test"  # the progress bar shows training and validation numbers
        for name, value in self.means.pop(stage).items():
            self.log(name, value, prog_bar=show, sync_dist=True)  # each rank's mean: average them
        for name, value in (extra or {}).items():
            if isinstance(value, Metric):
                metric, value = value, value.compute()  # torchmetrics synchronizes the ranks itself
                metric.reset()
            self.log(name, value, prog_bar=show)

    def on_train_epoch_start(self) -> None:
        self.means.reset("train")

    def on_validation_epoch_start(self) -> None:
        self.means.reset("val")

    def on_test_epoch_start(self) -> None:
        self.means.reset("test")

    def on_train_epoch_end(self) -> None:
        self.log_epoch("train")

    def on_validation_epoch_end(self) -> None:
        self.log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self.log_epoch("test")

    # ------------------------------------------------------------ training
    def regularize(self, penalty: Mapping[str, Any] | None = None, noise: Mapping[str, Any] | None = None,
                   init: str = "torch", init_bias: float | None = None) -> None:
        """model.penalty, model.noise, model.init and model.init_bias (models/_regularization.py);
        a model calls it once its layers exist."""
        self.regularization = Regularization(penalty, noise, init, init_bias)
        self.regularization.attach(self)
        if self.regularization.penalized:
            self.means = EpochMeans(*self.means.names, "train/penalty")

    def penalty(self) -> Tensor | None:
        """l1 * sum|w| + l2 * sum w^2 over the weights, or None without a penalty."""
        return self.regularization.penalty(self)

    def training_loss(self, batch: Any) -> tuple[Tensor, int]:
        """(mean training loss of the batch, number of samples in it); automatically optimized models only."""
        raise NotImplementedError

    def training_step(self, batch: Any, batch_idx: int) -> Tensor:
        loss, n, penalty = self.regularization.training_loss(self, batch)  # weight noise, when on
        if penalty is not None:
            self.means.update("train/penalty", penalty, n)
            loss = loss + penalty
        self.means.update("train/loss", loss, n)
        weight = window_weight(self.trainer, batch_idx, n)
        return loss if weight == 1.0 else loss * weight

    def backward(self, loss: Tensor, *args: Any, **kwargs: Any) -> None:
        """Lightning's backward hook; keeps the graph when an optimizer asks (Newton differentiates the gradient)."""
        if not wants_double_backward(self.trainer):
            super().backward(loss, *args, **kwargs)
            return
        with warnings.catch_warnings():
            # torch warns that .grad and its parameter now form a reference cycle until .grad is reset;
            # Lightning resets every .grad to None before each closure's backward, which breaks it
            warnings.filterwarnings("ignore", message=r"Using backward\(\) with create_graph=True",
                                    category=UserWarning)
            super().backward(loss, *args, create_graph=True, **kwargs)
