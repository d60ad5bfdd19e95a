"""A run folder belongs to one run: locked while a run lives, never reused by a new run without asking,
and a resume keeps the original run's .hydra files; Ctrl+C leaves metrics.json saying "interrupted"."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from hydra.core.hydra_config import HydraConfig
from omegaconf import OmegaConf

from _train_cli import QUICK, cli, popen
from runner.compose import compose_config
from runner.lock import LOCK_NAME, FolderLockedError, RunFolderLock
from runner.run_folder import RunFolderGuard, is_secondary_process


def test_new_run_into_a_finished_run_is_refused_unless_overwrite(tmp_path):
    folder = tmp_path / "run"
    assert cli(*QUICK, "seed=1", f"hydra.run.dir={folder}").code == 0
    before = {name: (folder / name).read_bytes() for name in ("metrics.csv", "metrics.json")}
    refused = cli(*QUICK, "seed=2", f"hydra.run.dir={folder}")
    assert refused.code == 2 and len(refused.lines) == 1, refused.out
    assert f"config error: hydra.run.dir={folder} already holds a run (metrics.csv); resume it with ckpt_path=last, " \
           f"replace it with overwrite=true" in refused.out
    assert {name: (folder / name).read_bytes() for name in before} == before
    assert "seed=1" in yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text())  # refused before Hydra wrote

    replaced = cli(*QUICK, "seed=2", "overwrite=true", f"hydra.run.dir={folder}")
    assert replaced.code == 0, replaced.out[-3000:]
    assert json.loads((folder / "metrics.json").read_text())["seed"] == 2
    assert len(list((folder / "checkpoints").glob("epoch_*.ckpt"))) == 1  # one best checkpoint, not two runs'
    assert not (folder / LOCK_NAME).exists()


def test_a_run_that_failed_before_training_leaves_the_folder_reusable(tmp_path):
    folder = tmp_path / "run"
    assert cli(*QUICK, "optimizer.lr=abc", f"hydra.run.dir={folder}").code == 2
    assert json.loads((folder / "metrics.json").read_text())["status"] == "failed"
    assert cli(*QUICK, f"hydra.run.dir={folder}").code == 0


HYDRA_FILES = ["config.yaml", "hydra.yaml", "overrides.yaml"]


def test_resume_keeps_the_original_hydra_files_and_records_its_own(tmp_path):
    folder = tmp_path / "run"
    assert cli(*QUICK, "optimizer=sgd", f"hydra.run.dir={folder}").code == 0
    hydra_dir = folder / ".hydra"
    original = {name: (hydra_dir / name).read_bytes() for name in HYDRA_FILES}
    for n, epochs in ((1, 2), (2, 3)):
        result = cli(*QUICK, "optimizer=sgd", f"trainer.max_epochs={epochs}", "ckpt_path=last",
                     f"hydra.run.dir={folder}")
        assert result.code == 0, result.out[-3000:]
        assert {name: (hydra_dir / name).read_bytes() for name in HYDRA_FILES} == original
        assert sorted(p.name for p in hydra_dir.iterdir()) == HYDRA_FILES + [f"resume-{k}" for k in range(1, n + 1)]
        resume_dir = hydra_dir / f"resume-{n}"
        assert sorted(p.name for p in resume_dir.iterdir()) == HYDRA_FILES
        assert yaml.safe_load((resume_dir / "overrides.yaml").read_text()) == [
            *QUICK, "optimizer=sgd", f"trainer.max_epochs={epochs}", "ckpt_path=last"]
        config = yaml.safe_load((resume_dir / "config.yaml").read_text())
        assert config["ckpt_path"] == "last" and config["trainer"]["max_epochs"] == epochs
    assert yaml.safe_load(original["overrides.yaml"]) == [*QUICK, "optimizer=sgd"]
    assert yaml.safe_load(original["config.yaml"])["ckpt_path"] is None


def test_output_subdir_is_chosen_once_per_run(tmp_path, monkeypatch):
    """hydra.output_subdir names the folder Hydra writes into, however often it is read: once that folder
    exists it still names it. Resumes with no earlier .hydra/config.yaml to keep, and new runs, use .hydra."""
    for name in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "SLURM_NTASKS", "TORCHELASTIC_RUN_ID", "WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert compose_config(["ckpt_path=last"], tmp_path).hydra.output_subdir == ".hydra"
    (tmp_path / ".hydra").mkdir()
    (tmp_path / ".hydra" / "config.yaml").write_text("{}")
    assert compose_config([], tmp_path).hydra.output_subdir == ".hydra"
    for n in (1, 2):
        cfg = compose_config(["ckpt_path=last"], tmp_path)
        assert cfg.hydra.output_subdir == f".hydra/resume-{n}"
        (tmp_path / ".hydra" / f"resume-{n}").mkdir()
        assert cfg.hydra.output_subdir == f".hydra/resume-{n}"
        assert HydraConfig.get().output_subdir == f".hydra/resume-{n}"
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert compose_config(["ckpt_path=last", f"hydra.run.dir={tmp_path}"], tmp_path).hydra.output_subdir is None


def test_a_second_sweep_into_a_finished_sweep_folder_is_refused_unless_it_resumes(tmp_path):
    sweep = tmp_path / "sweep"
    assert cli("-m", *QUICK, "seed=1", f"hydra.sweep.dir={sweep}").code == 0
    again = cli("-m", *QUICK, "seed=1", f"hydra.sweep.dir={sweep}")
    assert again.code == 2 and len(again.lines) == 1, again.out
    assert f"hydra.sweep.dir={sweep} already holds a sweep (1 run folders with records, e.g. 0/)" in again.out

    hydra_dir = sweep / "0" / ".hydra"
    original = {name: (hydra_dir / name).read_bytes() for name in HYDRA_FILES}
    resumed = cli("-m", *QUICK, "seed=1", "trainer.max_epochs=2", "ckpt_path=last", f"hydra.sweep.dir={sweep}")
    assert resumed.code == 0, resumed.out[-3000:]
    assert json.loads((sweep / "0" / "metrics.json").read_text())["epochs"] == 2
    assert {name: (hydra_dir / name).read_bytes() for name in HYDRA_FILES} == original
    assert "ckpt_path=last" in yaml.safe_load((hydra_dir / "resume-1" / "overrides.yaml").read_text())


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_stale_lock_is_taken_over_and_the_lock_goes_when_the_run_ends(tmp_path):
    import socket

    folder = tmp_path / "run"
    folder.mkdir()
    (folder / LOCK_NAME).write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname()}))
    result = cli(*QUICK, f"hydra.run.dir={folder}")
    assert result.code == 0, result.out[-3000:]
    assert not (folder / LOCK_NAME).exists()


def test_lock_held_by_a_live_process_is_refused(tmp_path):
    import socket

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": live.pid, "host": socket.gethostname()}))
        with pytest.raises(FolderLockedError, match=f"in use by process {live.pid}"):
            RunFolderLock(tmp_path).acquire()
    finally:
        live.kill()
        live.wait()
    assert RunFolderLock(tmp_path).acquire().held  # now stale


def _guard_config(folder: Path):
    return OmegaConf.create({"hydra": {"run": {"dir": str(folder)}, "output_subdir": ".hydra"}, "ckpt_path": None,
                             "overwrite": False})


@pytest.mark.parametrize("env, secondary", [({}, False), ({"LOCAL_RANK": "0"}, False), ({"LOCAL_RANK": "1"}, True),
                                            ({"NODE_RANK": "1", "LOCAL_RANK": "0"}, True), ({"RANK": "3"}, True),
                                            ({"SLURM_PROCID": "1", "SLURM_NTASKS": "2"}, True)])
def test_secondary_processes_of_a_launch_are_recognised(env, secondary):
    assert is_secondary_process(env) is secondary


def test_ddp_children_share_the_first_process_folder(tmp_path, monkeypatch):
    """Lightning's launcher re-runs train.py with LOCAL_RANK=1 into the folder its first process holds."""
    import socket

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / LOCK_NAME).write_text(json.dumps({"pid": live.pid, "host": socket.gethostname()}))
        (tmp_path / "metrics.csv").write_text("epoch\n0\n")
        monkeypatch.setenv("LOCAL_RANK", "1")
        RunFolderGuard().on_run_start(_guard_config(tmp_path))  # neither the lock nor the records refuse it
        monkeypatch.delenv("LOCAL_RANK")
        with pytest.raises(SystemExit):
            RunFolderGuard().on_run_start(_guard_config(tmp_path))
    finally:
        live.kill()
        live.wait()


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 240) -> None:
    deadline = time.time() + seconds
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early: {proc.communicate()[1][-3000:]}")
        if time.time() > deadline:
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.1)


def test_live_run_owns_its_folder_and_ctrl_c_records_interrupted(tmp_path):
    folder = tmp_path / "run"
    proc = popen("trainer.max_epochs=100000", "callbacks.progress_bar=null", f"hydra.run.dir={folder}")
    try:
        _wait_for(folder / "checkpoints" / "last.ckpt", proc)  # written after the first epoch
        owner = json.loads((folder / LOCK_NAME).read_text())
        assert owner["pid"] == proc.pid

        second = cli(*QUICK, f"hydra.run.dir={folder}")
        assert second.code == 2 and len(second.lines) == 1, second.out
        assert f"another run is using this folder: {folder} is in use by process {proc.pid}" in second.out

        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    record = json.loads((folder / "metrics.json").read_text())
    assert record["status"] == "interrupted"
    assert isinstance(record["last_completed_epoch"], int) and record["last_completed_epoch"] >= 0
    assert record["epochs"] == record["last_completed_epoch"] + 1
    assert not (folder / LOCK_NAME).exists(), "the lock outlived its run"
    assert os.path.getsize(folder / "train.log") > 0 and "epoch 0:" in (folder / "train.log").read_text()


def test_train_log_holds_the_run(tmp_path):
    folder = tmp_path / "run"
    assert cli(*QUICK, "trainer.max_epochs=2", f"hydra.run.dir={folder}").code == 0
    log = (folder / "train.log").read_text()
    assert "fit: model=mlp data=digits optimizer=adam" in log
    assert "epoch 0: " in log and "epoch 1: " in log and "train/loss=" in log.split("epoch 0: ")[1]
    assert "test: test/acc=" in log
