"""The cheap run plumbing: throttled progress bar, buffered CSV rows, epoch times straight to the loggers."""
from __future__ import annotations

import csv
import re

import pytest
import pytorch_lightning as pl

from runner.csv_logger import CSVLogger
from runner.progress import ProgressBar, _ThrottledTqdm
from train import train

FAST = ["+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1", "test=false"]


def test_throttled_bar_draws_at_most_once_per_gap_and_closes_with_the_final_state(monkeypatch, capsys):
    now = [100.0]
    monkeypatch.setattr("runner.progress.time.monotonic", lambda: now[0])
    bar = ProgressBar(max_redraws_per_second=10)._throttled(_ThrottledTqdm(total=50, disable=False))
    frames = []
    real = _ThrottledTqdm.display
    monkeypatch.setattr(_ThrottledTqdm, "display", lambda self, *a, **k: frames.append(self.n) or real(self, *a, **k))
    for i in range(1, 51):
        bar.n = i
        bar.refresh()
        now[0] += 0.01  # 100 updates a second
    assert 4 <= len(frames) <= 6  # 0.5 s at 10 frames a second
    bar.close()
    assert frames[-1] == 50  # closing draws the last state even when a frame was due to be skipped


def test_bad_redraw_rate_is_an_error():
    with pytest.raises(ValueError, match="max_redraws_per_second must be > 0"):
        ProgressBar(max_redraws_per_second=0)


def test_progress_bar_run_shows_final_epoch_and_metrics(make_cfg, capfd):
    metrics = train(make_cfg(*FAST, "trainer.max_epochs=7", "callbacks.progress_bar.max_redraws_per_second=0.001",
                             tiny=False))
    out = capfd.readouterr().out.replace("\r", "\n")
    frames = [line for line in out.splitlines() if line.startswith("Epoch ")]
    # one frame a thousand seconds: the first one, then only the final frame at the end of fit
    assert frames[-1].startswith("Epoch 6")
    shown = float(re.search(r"val/loss=([0-9.e+-]+)", frames[-1]).group(1))
    assert shown == float(f"{metrics['val/loss']:.3g}")  # tqdm shows 3 significant digits
    assert len({f.split(":")[0] for f in frames}) <= 3


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_csv_rows_are_buffered_then_written_when_the_run_ends(make_cfg, tmp_path, monkeypatch):
    writes = []
    real = CSVLogger.save

    def spy(self):
        before = len(self.experiment.metrics)
        real(self)
        writes.append(before - len(self.experiment.metrics))  # rows written by this call

    monkeypatch.setattr(CSVLogger, "save", spy)
    train(make_cfg(*FAST, "trainer.max_epochs=6", "logger.csv.flush_every_seconds=3600", tiny=False))
    # Lightning asked to save after every log call; within the hour only the first call could write
    assert len(writes) >= 6 and not any(writes[1:])
    rows = _rows(tmp_path / "metrics.csv")
    assert sorted({int(r["epoch"]) for r in rows if r.get("val/loss")}) == list(range(6))


def test_epoch_times_reach_metrics_csv_once_per_epoch(make_cfg, tmp_path):
    train(make_cfg(*FAST, "trainer.max_epochs=4", tiny=False))
    times = [(int(r["epoch"]), float(r["time/epoch_end_s"])) for r in _rows(tmp_path / "metrics.csv")
             if r.get("time/epoch_end_s")]
    assert [e for e, _ in times] == [0, 1, 2, 3]
    assert all(b > a > 0 for (_, a), (_, b) in zip(times, times[1:]))


class _CountsBatches(pl.Callback):
    def __init__(self):
        self.train_batches = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.train_batches += 1


def test_unused_batch_hooks_are_skipped_and_used_ones_still_called(make_cfg):
    from pytorch_lightning.callbacks import ModelCheckpoint

    from runner.hooks import skip_unused_batch_hooks

    counter = _CountsBatches()
    every_step = ModelCheckpoint(every_n_train_steps=1)
    idle = ModelCheckpoint(monitor="val/acc", mode="max")
    skipped = skip_unused_batch_hooks([counter, every_step, idle])
    # overridden and working hooks stay; Callback's no-ops and a ModelCheckpoint that saves on no step go
    assert callable(counter.on_train_batch_end) and callable(every_step.on_train_batch_end)
    assert counter.on_after_backward is None and idle.on_train_batch_end is None
    assert "ModelCheckpoint.on_train_batch_end" in skipped and "_CountsBatches.on_train_batch_end" not in skipped
    # inside train(): the counter still sees every step (3 batches, TINY's limit)
    counter = _CountsBatches()
    train(make_cfg(), extra_callbacks=[counter])
    assert counter.train_batches == 3 and counter.on_before_backward is None


def test_fast_logging_skips_the_state_move_only_when_nothing_would_move(monkeypatch):
    import torch
    from pytorch_lightning.trainer.connectors.logger_connector import result

    from runner import fast_logging

    assert fast_logging.install() and fast_logging.install()  # idempotent
    coll = result._ResultCollection(training=False)
    value = torch.tensor(0.5)

    def log(v):
        coll.log("validation_step", "val/loss", v, on_step=False, on_epoch=True, reduce_fx="mean",
                 sync_dist=False, batch_size=2)

    log(value)
    metric = coll["validation_step.val/loss"]
    moves = []
    real = result.apply_to_collection
    monkeypatch.setattr(result, "apply_to_collection", lambda *a, **k: moves.append(1) or real(*a, **k))
    log(value * 3)  # states already on the CPU: no traversal, and the mean is still right
    assert moves == [] and float(metric.compute()) == 1.0
    # one state elsewhere (as after a reset from defaults on another device): Lightning's own move
    metric.value = metric.value.to("meta")
    log(value.to("meta"))
    assert moves and metric.cumulated_batch_size.device.type == "meta"


def test_hook_name_bookkeeping_is_a_plain_attribute_and_modules_still_register(make_cfg, monkeypatch):
    import torch
    from torch import nn

    import models
    from models._hook_attrs import LightningModuleBase

    # every model of the zoo gets it
    zoo = [getattr(models, n) for n in dir(models) if isinstance(getattr(models, n), type)]
    lightning = [c for c in zoo if issubclass(c, pl.LightningModule)]
    assert lightning and all(issubclass(c, LightningModuleBase) for c in lightning), lightning

    calls = []
    real = nn.Module.__setattr__
    monkeypatch.setattr(nn.Module, "__setattr__", lambda self, k, v: calls.append(k) or real(self, k, v))
    seen = []

    class Probe(LightningModuleBase):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(2, 2)  # modules, parameters and other names still go through nn.Module

        def training_step(self, batch, batch_idx):
            seen.append(self._current_fx_name)  # Lightning still names the running hook
            return self.layer(batch[0]).sum()

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    probe = Probe()
    assert "layer" in calls and "layer" in probe._modules
    probe.extra = nn.Parameter(torch.zeros(1))
    assert "extra" in probe._parameters
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.randn(4, 2)), batch_size=2)
    calls.clear()
    pl.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
               enable_model_summary=False).fit(probe, data)
    assert seen == ["training_step", "training_step"]
    assert "_current_fx_name" not in calls  # Lightning set it around every hook, never through nn.Module
    probe._current_fx_name = 3  # anything but a string or None takes nn.Module's path
    assert calls[-1] == "_current_fx_name"
