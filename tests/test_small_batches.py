"""Any batch size trains the default MLP (batch norm) or is refused in one line before training.

Digits has 1,257 training images: batch sizes 2 and 8 leave a last batch of one sample, which batch norm
cannot normalize; data.drop_last (null = automatic) drops it. Each run is one whole epoch, so the last
batch is reached.
"""
from __future__ import annotations

import json

import pytest

from _train_cli import cli

TRAIN_IMAGES = 1257
ONE_EPOCH = ("trainer.max_epochs=1", "+trainer.limit_val_batches=1", "+trainer.limit_test_batches=1",
             "callbacks.progress_bar=null")


@pytest.mark.parametrize("batch_size, steps", [
    (2, TRAIN_IMAGES // 2),          # 628 batches of 2; the 629th would hold one sample: dropped
    (3, TRAIN_IMAGES // 3),          # 419 full batches
    (8, TRAIN_IMAGES // 8),          # 157 batches of 8; the last one sample dropped
    (TRAIN_IMAGES, 1),               # the whole training set in one batch
])
def test_batch_size_trains_the_default_mlp(batch_size, steps, tmp_path):
    result = cli(*ONE_EPOCH, f"data.batch_size={batch_size}", f"hydra.run.dir={tmp_path}")
    assert result.code == 0, result.out[-3000:]
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "ok" and record["global_steps"] == steps


def test_without_batch_norm_the_last_sample_is_kept(tmp_path):
    result = cli(*ONE_EPOCH, "data.batch_size=8", "model.batch_norm=false", f"hydra.run.dir={tmp_path}")
    assert result.code == 0, result.out[-3000:]
    assert json.loads((tmp_path / "metrics.json").read_text())["global_steps"] == TRAIN_IMAGES // 8 + 1


@pytest.mark.parametrize("overrides, message", [
    (["data.batch_size=1"], "config error: data.batch_size=1: MLP normalizes over the batch (batch norm), which "
                            "needs at least 2 samples per batch"),
    (["data.batch_size=8", "data.drop_last=false"],
     "data error: data.drop_last=false with data.batch_size=8 leaves a last batch of 1 of 1257 training samples"),
])
def test_batch_sizes_batch_norm_cannot_train_are_refused_in_one_line(overrides, message, tmp_path):
    result = cli(*ONE_EPOCH, *overrides, f"hydra.run.dir={tmp_path}")
    assert result.code == 2 and len(result.lines) == 1, result.out
    assert message in result.out and "Traceback" not in result.out
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "failed" and "data" in record["error"]
    assert not list(tmp_path.glob("checkpoints/*.ckpt")), "a training step ran"
