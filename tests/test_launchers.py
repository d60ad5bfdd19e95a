"""Scale-out as users launch it, on CPU (gloo): torchrun on one node and as two "nodes", the environment
srun gives its tasks (set by hand), and a sweep through Hydra's submitit launcher.

Every launch must make one run folder (named after the launcher's shared id: runner/launch.py), with
rank 0's files and one log file per other rank, and DDP must end with the parameters of one process
at twice the batch, as tests/test_ddp.py checks for Lightning's own launcher.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from runner.compose import compose_config
from runner.launch import LaunchError, launch_world_size, process_rank, rank_suffix, rank_zero_only, run_name
from test_ddp import COMMON  # the same deterministic two-epoch run as the Lightning-launcher test

ROOT = Path(__file__).resolve().parents[1]
TRAIN = str(ROOT / "train.py")
TORCHRUN = str(Path(sys.executable).parent / "torchrun")  # installed with torch, beside the venv's python
TIMEOUT = 600
# a launch inherits none of the launcher variables the test process may itself have been started with
_LAUNCHER_VAR = re.compile(
    r"SLURM_.*|TORCHELASTIC_.*|(LOCAL_|GROUP_|NODE_)?RANK|(LOCAL_)?WORLD_SIZE|MASTER_(ADDR|PORT)")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not _LAUNCHER_VAR.fullmatch(k)}
    # submitit's jobs unpickle train.py's task and import its packages by name: from this checkout
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return {**env, "OMP_NUM_THREADS": "1", **extra}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_together(commands: list[list[str]], envs: list[dict[str, str]], cwd: Path, logs: Path) -> None:
    """Start the processes of one launch at once (as nodes or srun tasks would); all must exit 0."""
    logs.mkdir(parents=True, exist_ok=True)
    procs, files = [], []
    for i, (cmd, env) in enumerate(zip(commands, envs)):
        f = open(logs / f"process{i}.txt", "w+")  # files, not pipes: a full pipe would stall one rank
        files.append(f)
        # own session: a hung launch is ended with the workers torchrun or Lightning started under it
        procs.append(subprocess.Popen(cmd, env=env, cwd=cwd, stdout=f, stderr=subprocess.STDOUT, text=True,
                                      start_new_session=True))
    deadline = time.monotonic() + TIMEOUT
    try:
        # one failed process leaves the others waiting for it in the process group: stop them at once
        while None in (codes := [p.poll() for p in procs]) and not any(codes):
            assert time.monotonic() < deadline, f"launch still running after {TIMEOUT} s"
            time.sleep(0.5)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
    failed = []
    for i, (p, f) in enumerate(zip(procs, files)):
        f.seek(0)
        if p.returncode:
            failed.append(f"process {i} exited {p.returncode}:\n{f.read()[-3000:]}")
        f.close()
    assert not failed, "\n".join(failed)


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    """One process at batch 64: the run every two-process launch below (batch 32 each) must reproduce."""
    run_dir = tmp_path_factory.mktemp("single") / "run"
    _run_together([[sys.executable, TRAIN, *COMMON, "data.batch_size=64", f"hydra.run.dir={run_dir}"]], [_env()],
                  ROOT, run_dir.parent / "logs")
    return run_dir


def _one_run_folder(cwd: Path) -> Path:
    """The launch left exactly one folder under cwd/outputs, and nothing else in cwd."""
    assert sorted(p.name for p in cwd.iterdir()) == ["outputs"]
    runs = list((cwd / "outputs").iterdir())
    assert len(runs) == 1, runs
    return runs[0]


def _assert_ddp_run(run_dir: Path, single: Path, environment: str) -> None:
    record = json.loads((run_dir / "metrics.json").read_text())
    assert record["status"] == "ok" and record["global_steps"] == 38
    assert record["world_size"] == 2 and record["cluster_environment"] == environment
    # rank 0 wrote what a single process writes; rank 1 only its own log file, in the same folder
    assert sorted(p.name for p in run_dir.iterdir()) == sorted([*(p.name for p in single.iterdir()), "train.rank1.log"])
    for rank, log_name in enumerate(["train.log", "train.rank1.log"]):
        assert f"process {rank} of 2 ({environment})" in (run_dir / log_name).read_text()

    a = torch.load(single / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    names = [n for n in a if n.startswith("net.")]
    assert names
    for name in names:
        torch.testing.assert_close(b[name], a[name], rtol=0, atol=1e-5, msg=name)


# ---- which folder a process names, from its launcher's environment (fast)

TORCHRUN_ENV = {"RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2", "GROUP_RANK": "0"}
SRUN_ENV = {"SLURM_NTASKS": "2", "SLURM_PROCID": "1", "SLURM_JOB_ID": "4242", "SLURM_STEP_ID": "0"}


@pytest.mark.parametrize("env, expected", [
    ({}, "2024-01-01/12-00-00"),
    # Lightning's own launcher sets these before starting its children, and passes them hydra.run.dir
    ({"WORLD_SIZE": "2", "LOCAL_RANK": "0", "NODE_RANK": "0"}, "2024-01-01/12-00-00"),
    ({**TORCHRUN_ENV, "TORCHELASTIC_RUN_ID": "job-7"}, "torchrun-job-7"),
    ({**TORCHRUN_ENV, "TORCHELASTIC_RUN_ID": "a/b c"}, "torchrun-a_b_c"),
    ({"RANK": "0", "WORLD_SIZE": "1", "TORCHELASTIC_RUN_ID": "none"}, "2024-01-01/12-00-00"),
    (SRUN_ENV, "slurm-4242.0"),
    ({**SRUN_ENV, "SLURM_NTASKS": "1", "SLURM_PROCID": "0"}, "2024-01-01/12-00-00"),
    # torchrun without --rdzv-id inside a SLURM job: the job id is shared by every node
    ({**TORCHRUN_ENV, "TORCHELASTIC_RUN_ID": "none", "SLURM_JOB_ID": "99", "SLURM_NTASKS": "1"}, "slurm-99"),
])
def test_run_name_follows_the_launcher(env, expected):
    assert run_name("2024-01-01/12-00-00", env) == expected


@pytest.mark.parametrize("env, launcher", [
    ({**TORCHRUN_ENV, "TORCHELASTIC_RUN_ID": "none"}, "torchrun"),
    (TORCHRUN_ENV, "a launcher setting RANK and WORLD_SIZE"),
])
def test_multi_process_run_without_shared_id_is_refused(env, launcher):
    with pytest.raises(LaunchError, match=rf"^hydra.run.dir: 2 processes started by {launcher} share no run id.*"
                                          r"pass hydra.run.dir=<folder> .* or torchrun --rdzv-id=<name>$"):
        run_name("2024-01-01/12-00-00", env)


def test_bad_launcher_variable_names_it():
    with pytest.raises(LaunchError, match=r"^WORLD_SIZE='two': the launcher variable must be an integer$"):
        launch_world_size({"RANK": "0", "WORLD_SIZE": "two"})


@pytest.mark.parametrize("env, rank", [({}, 0), (TORCHRUN_ENV, 1), (SRUN_ENV, 1), ({**SRUN_ENV, "RANK": "3"}, 3),
                                       ({"SLURM_NTASKS": "1", "SLURM_PROCID": "5"}, 0), ({"LOCAL_RANK": "1"}, 0)])
def test_rank_files(env, rank):
    assert process_rank(env) == rank
    assert rank_suffix(env) == (f".rank{rank}" if rank else "")
    assert rank_zero_only(".hydra", env) == (".hydra" if rank == 0 else None)


def test_hydra_config_uses_the_launcher_id(tmp_path, monkeypatch):
    """The composed hydra node: the run folder, the rank's log file, no .hydra/ on rank 1; an explicit
    hydra.run.dir is taken as given, even where the default would be refused."""
    for k in list(os.environ):
        if _LAUNCHER_VAR.fullmatch(k):
            monkeypatch.delenv(k)
    for k, v in {**TORCHRUN_ENV, "TORCHELASTIC_RUN_ID": "job-7"}.items():
        monkeypatch.setenv(k, v)
    cfg = compose_config([], tmp_path)
    assert cfg.hydra.run.dir == "outputs/torchrun-job-7"
    assert cfg.hydra.output_subdir is None
    log_file = OmegaConf.select(cfg, "hydra.job_logging.handlers.file.filename")
    assert log_file == f"{tmp_path}/{cfg.hydra.job.name}.rank1.log"

    monkeypatch.setenv("TORCHELASTIC_RUN_ID", "none")
    assert compose_config([f"hydra.run.dir={tmp_path}/mine"], tmp_path).hydra.run.dir == f"{tmp_path}/mine"


def test_cli_refuses_before_writing_anything(tmp_path):
    env = _env(**TORCHRUN_ENV, TORCHELASTIC_RUN_ID="none")
    proc = subprocess.run([sys.executable, TRAIN, "trainer=ddp_cpu"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1].startswith("config error: hydra.run.dir: 2 processes started by "
                                                            "torchrun share no run id")
    assert list(tmp_path.iterdir()) == []


# ---- the launches themselves (slow)

@pytest.mark.slow
def test_torchrun_one_node(tmp_path, single):
    """torchrun --standalone --nproc-per-node=2 train.py trainer=ddp_cpu: one folder, outputs/torchrun-<id>."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    _run_together([[TORCHRUN, "--standalone", "--nproc-per-node=2", TRAIN, "trainer=ddp_cpu", *COMMON,
                    "data.batch_size=32"]], [_env()], cwd, tmp_path / "logs")
    run_dir = _one_run_folder(cwd)
    assert re.fullmatch(r"torchrun-[0-9a-f-]{36}", run_dir.name), run_dir.name  # --standalone's random id
    _assert_ddp_run(run_dir, single, "TorchElasticEnvironment")


@pytest.mark.slow
def test_torchrun_two_nodes(tmp_path, single):
    """Two torchrun agents, node ranks 0 and 1, one process each, meeting at 127.0.0.1 as two machines would."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    port = _free_port()
    commands = [[TORCHRUN, "--nnodes=2", f"--node-rank={node}", "--nproc-per-node=1", "--master-addr=127.0.0.1",
                 f"--master-port={port}", "--rdzv-id=two-nodes", TRAIN, "trainer=ddp_cpu", "trainer.num_nodes=2",
                 "trainer.devices=1", *COMMON, "data.batch_size=32"] for node in (0, 1)]
    _run_together(commands, [_env(), _env()], cwd, tmp_path / "logs")
    run_dir = _one_run_folder(cwd)
    assert run_dir.name == "torchrun-two-nodes"
    _assert_ddp_run(run_dir, single, "TorchElasticEnvironment")


@pytest.mark.slow
def test_srun_environment(tmp_path, single):
    """What `srun --nodes=1 --ntasks-per-node=2 python train.py trainer=ddp_cpu` gives each task, set by
    hand: Lightning takes ranks and world size from SLURM, the master address from SLURM_NODELIST."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    port = str(_free_port())  # a real job derives it from SLURM_JOB_ID; here other tests may hold that one
    envs = [_env(SLURM_JOB_ID="4242", SLURM_STEP_ID="0", SLURM_JOB_NAME="refzoo", SLURM_NNODES="1",
                 SLURM_NTASKS="2", SLURM_NTASKS_PER_NODE="2", SLURM_NODEID="0", SLURM_PROCID=str(task),
                 SLURM_LOCALID=str(task), SLURM_NODELIST="localhost", MASTER_PORT=port) for task in (0, 1)]
    command = [sys.executable, TRAIN, "trainer=ddp_cpu", *COMMON, "data.batch_size=32"]
    _run_together([command, command], envs, cwd, tmp_path / "logs")
    run_dir = _one_run_folder(cwd)
    assert run_dir.name == "slurm-4242.0"
    # each task's log line carries the trainer's global rank and world size, which Lightning took from SLURM
    _assert_ddp_run(run_dir, single, "SLURMEnvironment")


@pytest.mark.slow
def test_submitit_local_sweep(tmp_path):
    """A -m sweep through hydra-submitit-launcher's local executor (the SLURM launcher's code, jobs run here)."""
    cwd = tmp_path / "work"
    cwd.mkdir()
    tiny = ["trainer.max_epochs=1", "+trainer.limit_train_batches=3", "+trainer.limit_val_batches=2",
            "+trainer.limit_test_batches=2", "callbacks.progress_bar=null"]
    _run_together([[sys.executable, TRAIN, "-m", "hydra/launcher=submitit_local", "optimizer=sgd,adam",
                    *tiny]], [_env()], cwd, tmp_path / "logs")  # needs the cluster extra: pip install -e .[cluster]
    assert sorted(p.name for p in cwd.iterdir()) == ["multirun"]
    sweeps = list(cwd.glob("multirun/*/*"))
    assert len(sweeps) == 1, sweeps
    sweep = sweeps[0]
    assert sorted(p.name for p in sweep.iterdir() if not p.name.startswith(".")) == [
        "0", "1", "comparison.md", "comparison.png", "multirun.yaml"]
    for job, optimizer in (("0", "sgd"), ("1", "adam")):
        record = json.loads((sweep / job / "metrics.json").read_text())
        assert record["status"] == "ok" and record["optimizer"] == optimizer and record["world_size"] == 1
    table = (sweep / "comparison.md").read_text()
    assert "2 runs, 2 configurations" in table and "optimizer=sgd" in table and "optimizer=adam" in table
