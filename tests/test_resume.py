"""A run killed mid-training and resumed with ckpt_path=last ends exactly like an uninterrupted one,
and its metrics.csv holds every epoch once, in order, with the numbers of the uninterrupted run."""
from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
# every_n_seconds=0: last.ckpt after every epoch, so there is a mid-run checkpoint to kill the run after
ARGS = ["trainer.max_epochs=25", "seed=5", "callbacks.progress_bar=null", "optimizer=momentum",
        "callbacks.last_checkpoint.every_n_seconds=0"]


def _cmd(run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, str(ROOT / "train.py"), *ARGS, f"hydra.run.dir={run_dir}", *extra]


def _env():
    return {**os.environ, "OMP_NUM_THREADS": "1"}


def _epoch_of(ckpt: Path, scratch: Path) -> int:
    try:
        shutil.copy(ckpt, scratch)  # read a copy: the trainer may be rewriting the file
        return int(torch.load(scratch, map_location="cpu", weights_only=True)["epoch"])
    except Exception:  # noqa: BLE001 - absent or half-written
        return -1


def test_killed_then_resumed_equals_uninterrupted(tmp_path):
    whole = tmp_path / "whole"
    subprocess.run(_cmd(whole), check=True, env=_env(), capture_output=True, timeout=600)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(_cmd(killed), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = killed / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and _epoch_of(last, tmp_path / "peek.ckpt") < 1:
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (killed / "metrics.json").exists()
    killed_at = _epoch_of(last, tmp_path / "peek.ckpt")
    assert 1 <= killed_at < 24
    # every epoch up to the checkpoint was on disk when the process died
    assert set(range(killed_at + 1)) <= {e for e, _ in _epoch_rows(killed)}

    resumed = subprocess.run(_cmd(killed, "ckpt_path=last"), env=_env(), capture_output=True, text=True,
                             timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]

    a = json.loads((whole / "metrics.json").read_text())
    b = json.loads((killed / "metrics.json").read_text())
    def numbers(record):  # wall-clock timings differ by nature; every learned number must not
        return {k: v for k, v in record["metrics"].items() if not k.startswith("time/")}

    assert numbers(a) == numbers(b) and "test/acc" in numbers(a)
    assert a["epochs"] == b["epochs"] and a["global_steps"] == b["global_steps"]
    # last.ckpt is the final epoch's, not the last epoch that happened to improve the val metric
    assert torch.load(whole / "checkpoints" / "last.ckpt", weights_only=True)["epoch"] == 24
    pa = torch.load(whole / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    pb = torch.load(killed / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for name in pa:
        assert torch.equal(pa[name], pb[name]), name
    # metrics.csv: each epoch once, in order, as the uninterrupted run logged it (the epochs trained again
    # after the resume replaced the rows the killed process wrote after its last checkpoint)
    assert _epoch_rows(killed) == _epoch_rows(whole)
    assert [e for e, _ in _epoch_rows(whole)] == list(range(25))


def _epoch_rows(run: Path) -> list[tuple[int, tuple[str, str, str]]]:
    """(epoch, (train/loss, val/loss, val/acc)) of every training row of metrics.csv, in file order."""
    with open(run / "metrics.csv", newline="") as fh:
        return [(int(r["epoch"]), (r["train/loss"], r["val/loss"], r["val/acc"])) for r in csv.DictReader(fh)
                if r.get("val/loss")]
