"""last.ckpt: written after the first and the final epoch, in between at most every `every_n_seconds`."""
from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch

from runner import ConfigError
from train import train

FAST = ["callbacks.progress_bar=null", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1",
        "test=false"]


@pytest.fixture
def last_writes(monkeypatch):
    """The epoch of every checkpoint written to a file named last.ckpt, in order."""
    writes: list[int] = []
    real = pl.Trainer.save_checkpoint

    def spy(self, filepath, *args, **kwargs):
        if str(filepath).endswith("last.ckpt"):
            writes.append(self.current_epoch)
        return real(self, filepath, *args, **kwargs)

    monkeypatch.setattr(pl.Trainer, "save_checkpoint", spy)
    return writes


def _epoch_in(path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["epoch"])


def test_default_writes_first_and_final_epoch_only(make_cfg, tmp_path, last_writes):
    train(make_cfg(*FAST, "trainer.max_epochs=6", "callbacks.last_checkpoint.every_n_seconds=3600", tiny=False))
    assert last_writes == [0, 5]
    assert _epoch_in(tmp_path / "checkpoints" / "last.ckpt") == 5


def test_zero_seconds_writes_every_epoch(make_cfg, tmp_path, last_writes):
    train(make_cfg(*FAST, "trainer.max_epochs=4", "callbacks.last_checkpoint.every_n_seconds=0", tiny=False))
    assert last_writes == [0, 1, 2, 3]


def test_interval_elapsed_triggers_a_write(make_cfg, tmp_path, last_writes, monkeypatch):
    from runner.last_checkpoint import LastCheckpoint

    now = [0.0]
    monkeypatch.setattr(LastCheckpoint, "clock", staticmethod(lambda: now[0]))

    class Tick(pl.Callback):  # each epoch lasts 6 "seconds"
        def on_train_epoch_start(self, trainer, pl_module):
            now[0] += 6.0

    train(make_cfg(*FAST, "trainer.max_epochs=7", "callbacks.last_checkpoint.every_n_seconds=10", tiny=False),
          extra_callbacks=[Tick()])
    # written after epoch 0 (t=6); 12 s later after epoch 2 (t=18), after epoch 4 (t=30), and the final epoch 6
    assert last_writes == [0, 2, 4, 6]


def test_early_stopping_end_is_written(make_cfg, tmp_path, last_writes):
    train(make_cfg(*FAST, "trainer.max_epochs=30", "callbacks.last_checkpoint.every_n_seconds=3600",
                   "+callbacks.early_stopping._target_=pytorch_lightning.callbacks.EarlyStopping",
                   "+callbacks.early_stopping.monitor=val/loss", "+callbacks.early_stopping.patience=0",
                   "+callbacks.early_stopping.min_delta=10.0", tiny=False))
    # min_delta=10 means no epoch ever counts as an improvement: stop after epoch 1
    assert last_writes == [0, 1]
    assert _epoch_in(tmp_path / "checkpoints" / "last.ckpt") == 1


def test_max_steps_end_is_written(make_cfg, tmp_path, last_writes):
    train(make_cfg(*FAST, "trainer.max_epochs=30", "+trainer.max_steps=7",
                   "callbacks.last_checkpoint.every_n_seconds=3600", tiny=False))
    assert last_writes == [0, 3]  # 2 steps an epoch: step 7 is reached in epoch 3


def test_negative_interval_is_a_config_error(make_cfg):
    with pytest.raises(ConfigError, match="callbacks.last_checkpoint.*every_n_seconds must be >= 0"):
        train(make_cfg("callbacks.last_checkpoint.every_n_seconds=-1"))
