"""Stop a run whose loss turns non-finite before a checkpoint can be written with broken weights."""
from __future__ import annotations

import math

import pytorch_lightning as pl
import torch


class DivergedError(RuntimeError):
    """Training produced a non-finite loss; carries the step and learning rate for the report."""

    def __init__(self, step: int, lr: float | None, value: float):
        self.step, self.lr, self.value = step, lr, value
        lr_text = f"{lr:g}" if lr is not None else "unknown"
        super().__init__(f"training diverged: loss is {value} at step {step} (learning rate {lr_text}); "
                         f"the last good checkpoint is kept. Try a smaller optimizer.lr")


def _current_lr(trainer: pl.Trainer) -> float | None:
    if not trainer.optimizers:
        return None
    return float(trainer.optimizers[0].param_groups[0]["lr"])


class DivergenceGuard(pl.Callback):
    """Raises DivergedError on the first non-finite training loss.

    Raising (rather than `trainer.should_stop`) ends fit at once, so ModelCheckpoint never saves the
    broken weights over last.ckpt; train.py turns the error into status "diverged" in metrics.json.
    """

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        value = float(loss.detach())
        if not math.isfinite(value):
            raise DivergedError(trainer.global_step, _current_lr(trainer), value)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        # manual-optimization models (GAN) return no loss: check the weights before checkpoints are saved
        if trainer.sanity_checking:
            return
        flags = [torch.isfinite(p).all() for p in pl_module.parameters()]
        # one host sync for all parameters, not one per tensor
        if flags and not bool(torch.stack(flags).all()):
            raise DivergedError(trainer.global_step, _current_lr(trainer), float("nan"))
