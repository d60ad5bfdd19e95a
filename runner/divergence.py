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

    On the CPU every step's loss is read at once (reading a CPU tensor costs nothing). On an accelerator a
    per-step read would be a host sync that stalls the kernel queue every step, so the first bad step and
    its loss are recorded on the device and read once, at the end of the training epoch or of validation,
    both of which run before any checkpoint is written (checkpoint callbacks come last).
    """

    immediate_devices = ("cpu",)  # a class attribute so tests can run the deferred path on the CPU

    def __init__(self):
        self._first_bad: torch.Tensor | None = None  # step of the first non-finite loss, -1 while none
        self._bad_value: torch.Tensor | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if not isinstance(loss, torch.Tensor):
            return
        loss = loss.detach()
        if loss.device.type in self.immediate_devices:
            value = float(loss)
            if not math.isfinite(value):
                raise DivergedError(trainer.global_step, _current_lr(trainer), value)
            return
        if self._first_bad is None:
            self._first_bad = torch.full((), -1, dtype=torch.long, device=loss.device)
            self._bad_value = torch.zeros((), dtype=torch.float32, device=loss.device)
        new = ~torch.isfinite(loss) & (self._first_bad < 0)
        self._first_bad = torch.where(new, trainer.global_step, self._first_bad)
        self._bad_value = torch.where(new, loss.float(), self._bad_value)

    def _raise_if_pending(self, trainer) -> None:
        if self._first_bad is None:
            return
        step = int(self._first_bad)  # the one host sync per epoch
        if step >= 0:
            raise DivergedError(step, _current_lr(trainer), float(self._bad_value))

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._raise_if_pending(trainer)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if trainer.sanity_checking:
            return
        self._raise_if_pending(trainer)
        # manual-optimization models (GAN) return no loss: check the weights before checkpoints are saved
        flags = [torch.isfinite(p).all() for p in pl_module.parameters()]
        # one host sync for all parameters, not one per tensor
        if flags and not bool(torch.stack(flags).all()):
            raise DivergedError(trainer.global_step, _current_lr(trainer), float("nan"))
