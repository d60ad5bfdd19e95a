"""Lightning's tqdm progress bar, drawn at most `max_redraws_per_second` times a second.

Lightning redraws its bars about eleven times an epoch (reset, description, update, postfix, and a
validation bar made, updated and cleared), ~1 ms an epoch: 4% of a digits epoch, for frames no one can
read. Here a bar redraws only when 1 / max_redraws_per_second has passed since its last frame, the
metrics shown are recomputed at most as often, and a validation pass during fit that is over within one
refresh (no more than `refresh_rate` batches) gets no bar of its own; its metrics still reach the
training bar. Closing a bar always draws its final state, and the training bar's final frame shows the
final metrics. Everything else is TQDMProgressBar's.
"""
from __future__ import annotations

import time

from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.callbacks.progress.tqdm_progress import Tqdm


class _ThrottledTqdm(Tqdm):
    min_gap = 0.1  # seconds between frames; set per bar by ProgressBar
    _drawn_at = float("-inf")

    def refresh(self, nolock: bool = False, lock_args=None):
        now = time.monotonic()
        if now - self._drawn_at < self.min_gap:
            return None
        self._drawn_at = now
        return super().refresh(nolock=nolock, lock_args=lock_args)


class ProgressBar(TQDMProgressBar):
    def __init__(self, refresh_rate: int = 1, process_position: int = 0, leave: bool = False,
                 max_redraws_per_second: float = 10.0):
        super().__init__(refresh_rate=refresh_rate, process_position=process_position, leave=leave)
        if not max_redraws_per_second > 0:
            raise ValueError(f"max_redraws_per_second must be > 0, got {max_redraws_per_second}")
        self.min_gap = 1.0 / float(max_redraws_per_second)
        self._metrics: dict | None = None
        self._metrics_at = float("-inf")

    def get_metrics(self, trainer, pl_module) -> dict:
        now = time.monotonic()
        if self._metrics is None or now - self._metrics_at >= self.min_gap:
            self._metrics, self._metrics_at = super().get_metrics(trainer, pl_module), now
        return self._metrics

    def on_train_end(self, trainer, pl_module) -> None:
        self._metrics = None  # the last frame shows the final numbers
        if self._train_progress_bar is not None and not self.train_progress_bar.disable:
            self.train_progress_bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=False)
        super().on_train_end(trainer, pl_module)

    def _throttled(self, bar: Tqdm) -> Tqdm:
        # re-class the bar Lightning built (its arguments stay Lightning's); the first frame is already drawn
        bar.__class__ = _ThrottledTqdm
        bar.min_gap = self.min_gap
        bar._drawn_at = time.monotonic()
        return bar

    def init_sanity_tqdm(self) -> Tqdm:
        return self._throttled(super().init_sanity_tqdm())

    def init_train_tqdm(self) -> Tqdm:
        return self._throttled(super().init_train_tqdm())

    def init_validation_tqdm(self) -> Tqdm:
        trainer = self.trainer
        if trainer.state.fn == "fit" and sum(trainer.num_val_batches) <= self.refresh_rate:
            return Tqdm(disable=True)  # over before its first refresh: a bar would only flash
        return self._throttled(super().init_validation_tqdm())

    def init_test_tqdm(self) -> Tqdm:
        return self._throttled(super().init_test_tqdm())

    def init_predict_tqdm(self) -> Tqdm:
        return self._throttled(super().init_predict_tqdm())
