"""`python train.py ...` as a user types it, run in this process (fast) or as a real subprocess.

In-process runs execute train.py as `__main__` (runpy), so Hydra parses the same argv, runs the same
callbacks and error handler, and the exit code is the SystemExit's; only the interpreter start-up is
saved. Output is captured through sys.stdout/sys.stderr, which Hydra's console handler binds when it
configures logging for the run.
"""
from __future__ import annotations

import contextlib
import io
import os
import runpy
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from hydra.core.global_hydra import GlobalHydra

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT / "train.py"
# one epoch, two training batches: enough to write every record of a run, fast
QUICK = ("trainer.max_epochs=1", "+trainer.limit_train_batches=2", "+trainer.limit_val_batches=1",
         "+trainer.limit_test_batches=1", "callbacks.progress_bar=null")


@dataclass
class Result:
    code: int
    out: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.out.splitlines() if line.strip()]


def cli(*args: str) -> Result:
    """Run train.py in this process; returns the exit code and everything printed."""
    GlobalHydra.instance().clear()
    buffer = io.StringIO()
    argv, sys.argv = sys.argv, [str(TRAIN), *args]
    os.environ.setdefault("PROJECT_ROOT", str(ROOT))
    code = 0
    try:
        with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
            try:
                runpy.run_path(str(TRAIN), run_name="__main__")
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 1
    finally:
        sys.argv = argv
        GlobalHydra.instance().clear()
    return Result(code, buffer.getvalue())


def env(**extra: str) -> dict[str, str]:
    # a proxy that refuses at once: nothing a subprocess tries can reach beyond this machine
    return {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0", "PROJECT_ROOT": str(ROOT),
            "http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": "", **extra}


def popen(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(TRAIN), *args], cwd=ROOT, env=env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def run(*args: str, timeout: int = 300) -> Result:
    proc = subprocess.run([sys.executable, str(TRAIN), *args], cwd=ROOT, env=env(), text=True,
                          capture_output=True, timeout=timeout)
    return Result(proc.returncode, proc.stdout + proc.stderr)
