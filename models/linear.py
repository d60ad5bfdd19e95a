"""Linear and logistic regression (the cheatsheet's first two models).

Linear regression:    yhat = w . x + b,  trained with a regression loss (MSE by default)
    MSE = 1/N sum_i (y_i - yhat_i)^2
Logistic regression:  binary (num_classes == 2): one logit z = w . x + b, p = sigmoid(z), trained
    with BCEWithLogits  -1/N sum_i [y_i log p_i + (1 - y_i) log(1 - p_i)];
    multinomial: one logit per class, p = softmax(W x + b), trained with cross-entropy;
    one-vs-rest (multiclass: ovr): C binary classifiers p_c = sigmoid(w_c . x + b_c), each trained
    with BCEWithLogits on "class c or not", the loss being the sum of the C binary losses; the
    prediction is argmax_c p_c.
Both take the zoo's switches (models/_regularization.py): model.penalty adds l1 * sum|w| + l2 * sum w^2
(weights only) to the training loss; validation and test report the data loss alone.
`layers`: torch | refzoo, whose Linear computes w . x + b.
"""
from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn
from torchmetrics import MeanSquaredError, R2Score

from layers import nn_for

from ._base import ZooModule
from ._blocks import numel
from ._classifier import ClassifierModule
from ._loss_kind import loss_kind, require_loss_kind

MULTICLASS = ("multinomial", "ovr")


class LinearRegression(ZooModule):
    """yhat = w . x + b; logs train/loss, val/loss, val/mse, val/r2, test/loss, test/mse, test/r2."""

    def __init__(self, input_shape: Sequence[int], optimizer: Callable[..., torch.optim.Optimizer],
                 loss: nn.Module, output_dim: int = 1, compile: bool = False, layers: str = "torch",
                 penalty: dict | None = None, noise: dict | None = None, init: str = "torch",
                 init_bias: float | None = None):
        super().__init__("train/loss", "val/loss", "test/loss")
        if not callable(optimizer):
            raise ValueError("model.optimizer must be a `_partial_: true` optimizer config (a callable taking params)")
        require_loss_kind(loss, ("regression",), "linear", "mse, l1, huber")
        self.save_hyperparameters(ignore=["optimizer", "loss"])
        self.optimizer_factory = optimizer
        self.loss_fn = loss
        self.compile_net = bool(compile)
        self.net_compiled = False
        self.output_dim = int(output_dim)
        self.net = nn.Sequential(nn.Flatten(), nn_for(self.hparams.layers).Linear(numel(input_shape), self.output_dim))
        self.linear = self.net[1]
        self.val_mse, self.test_mse = MeanSquaredError(), MeanSquaredError()
        self.val_r2, self.test_r2 = R2Score(), R2Score()
        self.regularize(penalty, noise, init, init_bias)

    def setup(self, stage: str) -> None:
        if self.compile_net and not self.net_compiled:  # setup runs for fit and again for test
            self.net = torch.compile(self.net)
            self.net_compiled = True

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)

    def _targets(self, y: Tensor, pred: Tensor) -> Tensor:
        """Targets shaped like the predictions (N, output_dim): (N,) targets gain their column."""
        return y.to(pred.dtype).reshape(pred.shape)

    def training_loss(self, batch):
        x, y = batch
        pred = self(x)
        return self.loss_fn(pred, self._targets(y, pred)), y.shape[0]

    def _eval_step(self, stage: str, batch, mse: MeanSquaredError, r2: R2Score) -> None:
        x, y = batch
        pred = self(x)
        y = self._targets(y, pred)
        mse.update(pred.reshape(-1), y.reshape(-1))  # mean over all outputs
        # R^2 takes (N,) for one output and (N, outputs) for several (averaged uniformly)
        r2.update(*((pred.squeeze(-1), y.squeeze(-1)) if self.output_dim == 1 else (pred, y)))
        self.means.update(f"{stage}/loss", self.loss_fn(pred, y), y.shape[0])

    def validation_step(self, batch, batch_idx):
        self._eval_step("val", batch, self.val_mse, self.val_r2)

    def on_validation_epoch_end(self) -> None:
        self.log_epoch("val", {"val/mse": self.val_mse, "val/r2": self.val_r2})

    def test_step(self, batch, batch_idx):
        self._eval_step("test", batch, self.test_mse, self.test_r2)

    def on_test_epoch_end(self) -> None:
        self.log_epoch("test", {"test/mse": self.test_mse, "test/r2": self.test_r2})

    def configure_optimizers(self):
        return self.optimizer_factory(self.parameters())


class LogisticRegression(ClassifierModule):
    """Binary (one logit, BCEWithLogits) when num_classes == 2, else multinomial (softmax cross-entropy)
    or, with `multiclass: ovr`, one-vs-rest (one BCEWithLogits classifier per class).

    `multinomial: true` fits num_classes logits with cross-entropy even for two classes.
    """

    def __init__(self, input_shape: Sequence[int], num_classes: int, optimizer, loss: nn.Module,
                 multinomial: bool | None = None, multiclass: str = "multinomial", compile: bool = False,
                 layers: str = "torch", penalty: dict | None = None, noise: dict | None = None,
                 init: str = "torch", init_bias: float | None = None):
        if int(num_classes) < 2:
            raise ValueError(f"model=logistic needs at least 2 classes, got data.num_classes={num_classes}")
        if multiclass not in MULTICLASS:
            raise ValueError(f"model.multiclass must be one of {', '.join(MULTICLASS)}; got {multiclass!r}")
        # before the base checks the loss against them
        self.ovr = multiclass == "ovr"
        self.binary = int(num_classes) == 2 and not multinomial and not self.ovr
        super().__init__(optimizer=optimizer, loss=loss, num_classes=num_classes, compile=compile)
        self.save_hyperparameters(ignore=["optimizer", "loss"])
        outputs = 1 if self.binary else int(num_classes)
        self.net = nn.Sequential(nn.Flatten(), nn_for(self.hparams.layers).Linear(numel(input_shape), outputs))
        self.linear = self.net[1]
        self.regularize(penalty, noise, init, init_bias)

    def check_loss(self, loss: nn.Module) -> None:
        if self.ovr and loss_kind(loss) != "binary_logit":
            raise ValueError(f"model.multiclass=ovr trains one binary classifier per class with "
                             f"loss=bce_with_logits; got {type(loss).__name__}")
        if self.binary and loss_kind(loss) != "binary_logit":
            raise ValueError(f"model=logistic on two classes fits one logit with loss=bce_with_logits; got "
                             f"{type(loss).__name__}. Pass loss=bce_with_logits, or model.multinomial=true for "
                             f"two softmax logits")
        if not self.binary and not self.ovr:
            require_loss_kind(loss, ("class_index",), "logistic",
                              "cross_entropy (softmax over the logits), or multi_margin / nll")

    def compute_loss(self, out: Tensor, y: Tensor) -> Tensor:
        if self.binary:
            return self.loss_fn(out.squeeze(-1), y.to(out.dtype))
        if self.ovr:
            # classifier c: "class c" (1) against the rest (0); the C binary problems' losses summed
            return sum(self.loss_fn(out[:, c], (y == c).to(out.dtype)) for c in range(self.num_classes))
        return self.loss_fn(out, y)

    def metric_input(self, out: Tensor) -> Tensor:
        # one logit: class 1 where z > 0, i.e. sigmoid(z) > 1/2; one-vs-rest: argmax_c sigmoid(z_c)
        if self.binary:
            return (out.squeeze(-1) > 0).long()
        return torch.sigmoid(out) if self.ovr else out

    def predict_proba(self, *inputs: Tensor) -> Tensor:
        out = self(*inputs)
        if self.binary:
            p = torch.sigmoid(out.squeeze(-1))
            return torch.stack([1 - p, p], dim=-1)
        if self.ovr:
            p = torch.sigmoid(out)  # C separate probabilities; normalized so that members average alike
            return p / p.sum(dim=-1, keepdim=True)
        return torch.softmax(out, dim=-1)
