"""Run plumbing: the throttled progress bar, metrics.csv written as rows are logged, epoch times."""
from __future__ import annotations

import csv
import re

import pytest
import pytorch_lightning as pl

from runner.csv_logger import CSVLogger
from runner.progress import ProgressBar, ThrottledTqdm
from train import train

FAST = ["+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1", "test=false"]


def test_throttled_bar_draws_at_most_once_per_gap_and_closes_with_the_final_state(monkeypatch, capsys):
    now = [100.0]
    monkeypatch.setattr("runner.progress.time.monotonic", lambda: now[0])
    bar = ThrottledTqdm(total=50, disable=False, min_gap=1 / 10)
    frames = []
    real = ThrottledTqdm.display
    monkeypatch.setattr(ThrottledTqdm, "display", lambda self, *a, **k: frames.append(self.n) or real(self, *a, **k))
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


def test_csv_rows_reach_the_file_as_they_are_logged_one_row_per_step(tmp_path):
    logger = CSVLogger(save_dir=str(tmp_path))
    path = tmp_path / "metrics.csv"
    logger.log_metrics({"val/loss": 2.0, "epoch": 0}, step=9)
    logger.save()
    assert _rows(path) == [{"epoch": "0", "step": "9", "val/loss": "2.0"}]  # on disk before the epoch is over
    logger.log_metrics({"train/loss": 1.5, "epoch": 0}, step=9)  # the same step: the same row, rewritten
    logger.save()
    logger.log_metrics({"val/loss": 1.0, "epoch": 1}, step=19)
    logger.finalize("success")
    rows = _rows(path)
    assert [(r["epoch"], r["step"], r["train/loss"], r["val/loss"]) for r in rows] == [
        ("0", "9", "1.5", "2.0"), ("1", "19", "", "1.0")]
    assert list(rows[0]) == ["epoch", "step", "train/loss", "val/loss"]  # the header grew with the new column


def test_csv_keeps_earlier_rows_and_drops_the_epochs_a_resume_trains_again(tmp_path):
    first = CSVLogger(save_dir=str(tmp_path))
    for epoch in range(4):
        first.log_metrics({"val/loss": 1.0 / (epoch + 1), "epoch": epoch}, step=10 * epoch + 9)
        first.save()
    # a new logger in the same folder (a resumed run) keeps the file; the resumed epoch 2 and later go
    second = CSVLogger(save_dir=str(tmp_path))
    assert second.drop_epochs_from(2) == 2
    second.log_metrics({"val/loss": 0.3, "test/acc": 0.9, "epoch": 2}, step=29)
    second.finalize("success")
    rows = _rows(tmp_path / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["0", "1", "2"]
    assert rows[1]["val/loss"] == "0.5" and rows[2]["val/loss"] == "0.3" and rows[2]["test/acc"] == "0.9"


def test_epoch_times_share_the_epoch_rows_of_metrics_csv(make_cfg, tmp_path):
    train(make_cfg(*FAST, "trainer.max_epochs=4", tiny=False))
    rows = [r for r in _rows(tmp_path / "metrics.csv") if r.get("time/epoch_end_s")]
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert all(r["val/loss"] and r["train/loss"] for r in rows)  # one row per epoch, not one per log call
    times = [float(r["time/epoch_end_s"]) for r in rows]
    assert all(b > a > 0 for a, b in zip(times, times[1:]))


def test_resume_replaces_rows_logged_after_the_checkpoint(make_cfg, tmp_path):
    common = [*FAST, "callbacks.last_checkpoint.every_n_seconds=0"]
    train(make_cfg(*common, "trainer.max_epochs=2", tiny=False))  # last.ckpt holds epoch 1
    path = tmp_path / "metrics.csv"
    rows = _rows(path)
    with open(path, "a", newline="") as fh:  # what a run killed in epoch 2, before its checkpoint, left behind
        csv.DictWriter(fh, fieldnames=list(rows[0])).writerow({**rows[0], "epoch": "2", "val/loss": "123.0"})
    train(make_cfg(*common, "trainer.max_epochs=4", "ckpt_path=last", tiny=False))
    epochs = [int(r["epoch"]) for r in _rows(path) if r.get("val/loss")]
    assert epochs == [0, 1, 2, 3]
    assert "123.0" not in path.read_text()


def test_resume_completes_the_checkpoint_epoch_row_a_kill_left_without_its_training_loss(make_cfg, tmp_path):
    # Lightning writes an epoch's checkpoint before the loggers get that epoch's training metrics; a kill
    # in between leaves the row with validation numbers only. The resume fills it from the checkpoint.
    common = [*FAST, "callbacks.last_checkpoint.every_n_seconds=0"]
    train(make_cfg(*common, "trainer.max_epochs=2", tiny=False))  # last.ckpt holds epoch 1
    path = tmp_path / "metrics.csv"
    rows = _rows(path)
    whole = dict(rows[1])
    assert whole["epoch"] == "1" and whole["train/loss"] and whole["val/loss"]
    rows[1] = {**whole, "train/loss": "", "time/epoch_end_s": ""}
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    train(make_cfg(*common, "trainer.max_epochs=3", "ckpt_path=last", tiny=False))
    after = [r for r in _rows(path) if r.get("val/loss")]
    assert [int(r["epoch"]) for r in after] == [0, 1, 2]
    assert after[1]["train/loss"] == whole["train/loss"] and after[1]["val/loss"] == whole["val/loss"]
    assert after[1]["time/epoch_end_s"] == whole["time/epoch_end_s"]


def test_resume_adds_no_earlier_epochs_validation_to_a_row_without_one(make_cfg, tmp_path):
    # callback metrics keep the last validation's values through epochs that skip validation: the
    # checkpoint's copy must hold only what its own epoch computed
    common = [*FAST, "callbacks.last_checkpoint.every_n_seconds=0", "trainer.check_val_every_n_epoch=2"]
    train(make_cfg(*common, "trainer.max_epochs=3", tiny=False))  # validates after epoch 1 only
    train(make_cfg(*common, "trainer.max_epochs=4", "ckpt_path=last", tiny=False))
    rows = {int(r["epoch"]): r for r in _rows(tmp_path / "metrics.csv") if r.get("train/loss")}
    assert sorted(rows) == [0, 1, 2, 3]
    assert [bool(rows[e]["val/loss"]) for e in range(4)] == [False, True, False, True]
