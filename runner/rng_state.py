"""Save the random number generators' states in checkpoints, so a resumed run continues exactly.

Lightning restores weights, optimizer state and loop counters but not the RNGs; with dropout (or any
random augmentation) a resumed run would otherwise draw different masks than an uninterrupted one.
"""
from __future__ import annotations

import pytorch_lightning as pl
import torch


class RngStateCheckpoint(pl.Callback):
    def state_dict(self) -> dict:
        state = {"torch": torch.get_rng_state()}
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        self._pending = state_dict

    def on_train_start(self, trainer, pl_module) -> None:
        # restore as late as possible: nothing between here and the first batch draws random numbers
        pending = getattr(self, "_pending", None)
        if pending is None:
            return
        torch.set_rng_state(pending["torch"])
        if "cuda" in pending and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(pending["cuda"])
        self._pending = None
