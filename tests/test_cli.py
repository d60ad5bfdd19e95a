"""Real `python train.py ...` subprocesses: what a user types."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *args], cwd=cwd, env=env, text=True,
                          capture_output=True, timeout=timeout)


def test_train_cli_end_to_end(tmp_path):
    out = tmp_path / "run"
    proc = run("trainer.max_epochs=2", "data.batch_size=32", "seed=1", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert f"run folder: {out}" in proc.stdout.replace("\n", "")
    record = json.loads((out / "metrics.json").read_text())
    assert record["status"] == "ok" and record["seed"] == 1 and record["epochs"] == 2
    assert (out / ".hydra" / "config.yaml").is_file()
    assert (out / "metrics.csv").is_file()
    assert (out / "checkpoints" / "last.ckpt").is_file()


def test_train_prints_progress_recall_summary_and_run_folder_only(tmp_path):
    """No deprecation warnings, no Lightning setup lines or advertising tips, no ModelCheckpoint warning."""
    out = tmp_path / "run"
    proc = run("trainer.max_epochs=2", f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (proc.stdout + proc.stderr).replace("\r", "\n")
    for noise in ("Tip", "litlogger", "deprecated", "Warning", "warn(", "ModelCheckpoint", "GPU available",
                  "TPU available", "Seed set", "Restoring states", "Loaded model weights"):
        assert noise not in text, noise
    lines = [line for line in text.splitlines() if line.strip()]
    last = next(i for i, line in enumerate(lines) if line.startswith("run folder:"))  # rich may wrap the path
    assert all(line.startswith(("Training", "Epoch ", "Testing", "Test recall per class", "|", " refzoo run:",
                                "┏", "┃", "┡", "│", "└")) for line in lines[:last]), lines
    assert "Test recall per class" in text and f"run folder: {out}" in text.replace("\n", "")


def test_cfg_job_prints_config(tmp_path):
    proc = run("--cfg", "job")
    assert proc.returncode == 0, proc.stderr
    assert "_target_: datamodules.DigitsDataModule" in proc.stdout
    assert "optimizer:" in proc.stdout


def test_unknown_option_lists_choices(tmp_path):
    proc = run("model=nope", f"hydra.run.dir={tmp_path}")
    assert proc.returncode != 0
    assert "Could not find 'model/nope'" in proc.stderr
    assert "Available options in 'model'" in proc.stderr and "mlp" in proc.stderr


@pytest.mark.parametrize("override, message", [
    ("optimizer.lr=-0.1", "config error: optimizer.lr: Invalid learning rate: -0.1"),
    ("model.dropout=1.5", "config error: model.dropout must be in [0, 1), got 1.5"),
    ("trainer=gpu", "no GPU is available here; use trainer=cpu"),
])
def test_bad_config_is_one_line_before_training(tmp_path, override, message):
    if override == "trainer=gpu":
        import torch

        if torch.cuda.is_available():
            pytest.skip("a GPU is present, so trainer=gpu is valid here")
    out = tmp_path / "run"
    proc = run(override, f"hydra.run.dir={out}")
    assert proc.returncode == 2
    assert message in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (out / "metrics.csv").exists()  # nothing trained
