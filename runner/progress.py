"""Lightning's tqdm progress bar, drawn at most `max_redraws_per_second` times a second.

Lightning redraws its bars about eleven times an epoch (reset, description, update, postfix, and a
validation bar made, updated and cleared): frames no one can read on small epochs. Through
TQDMProgressBar's documented override points (`init_*_tqdm` return the bars), every bar here is a
`ThrottledTqdm`, which redraws only when 1 / max_redraws_per_second has passed since its last frame;
the metrics shown are recomputed at most as often; and a validation pass during fit that is over within
one refresh (no more than `refresh_rate` batches) gets no bar of its own (its metrics still reach the
training bar). Closing a bar always draws its final state, and the training bar's final frame shows
the final metrics. The bars' other arguments are those Lightning's own `init_*_tqdm` use.
"""
from __future__ import annotations

import sys
import time
from typing import Any

from pytorch_lightning.callbacks import TQDMProgressBar
from pytorch_lightning.callbacks.progress.tqdm_progress import Tqdm


class ThrottledTqdm(Tqdm):
    """A tqdm bar whose `refresh` draws at most once every `min_gap` seconds (closing still draws)."""

    def __init__(self, *args: Any, min_gap: float = 0.1, **kwargs: Any):
        self.min_gap = float(min_gap)
        self.drawn_at = float("-inf")
        super().__init__(*args, **kwargs)

    def refresh(self, nolock: bool = False, lock_args=None):
        now = time.monotonic()
        if now - self.drawn_at < self.min_gap:
            return None
        self.drawn_at = now
        return super().refresh(nolock=nolock, lock_args=lock_args)


class ProgressBar(TQDMProgressBar):
    def __init__(self, refresh_rate: int = 1, process_position: int = 0, leave: bool = False,
                 max_redraws_per_second: float = 10.0):
        super().__init__(refresh_rate=refresh_rate, process_position=process_position, leave=leave)
        if not max_redraws_per_second > 0:
            raise ValueError(f"max_redraws_per_second must be > 0, got {max_redraws_per_second}")
        self.min_gap = 1.0 / float(max_redraws_per_second)
        self.shown_metrics: dict | None = None
        self.shown_at = float("-inf")

    def get_metrics(self, trainer, pl_module) -> dict:
        now = time.monotonic()
        if self.shown_metrics is None or now - self.shown_at >= self.min_gap:
            self.shown_metrics, self.shown_at = super().get_metrics(trainer, pl_module), now
        return self.shown_metrics

    def on_train_end(self, trainer, pl_module) -> None:
        self.shown_metrics = None  # the last frame shows the final numbers
        bar = self.train_progress_bar
        if not bar.disable:
            bar.set_postfix(self.get_metrics(trainer, pl_module), refresh=False)
        super().on_train_end(trainer, pl_module)

    def _bar(self, desc: str, position: int, leave: bool, **kwargs: Any) -> ThrottledTqdm:
        return ThrottledTqdm(desc=desc, position=position, disable=self.is_disabled, leave=leave,
                             dynamic_ncols=True, file=sys.stdout, bar_format=self.BAR_FORMAT,
                             min_gap=self.min_gap, **kwargs)

    def init_sanity_tqdm(self) -> Tqdm:
        return self._bar(self.sanity_check_description, 2 * self.process_position, leave=False)

    def init_train_tqdm(self) -> Tqdm:
        return self._bar(self.train_description, 2 * self.process_position, leave=True, smoothing=0)

    def init_validation_tqdm(self) -> Tqdm:
        trainer = self.trainer
        if trainer.state.fn == "fit" and sum(trainer.num_val_batches) <= self.refresh_rate:
            return Tqdm(disable=True)  # over before its first refresh: a bar would only flash
        has_main_bar = trainer.state.fn != "validate"  # trainer.validate() draws no training bar
        return self._bar(self.validation_description, 2 * self.process_position + has_main_bar,
                         leave=not has_main_bar)

    def init_test_tqdm(self) -> Tqdm:
        return self._bar("Testing", 2 * self.process_position, leave=True)

    def init_predict_tqdm(self) -> Tqdm:
        return self._bar(self.predict_description, 2 * self.process_position, leave=True, smoothing=0)
