"""Two-process DDP on CPU (gloo) from the CLI: one run folder, rank 0 writes, same result as one process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
# no dropout or batch norm (their randomness/statistics are per process); only full batches, so each step's
# global batch is the same 64 samples in both runs (ranks take interleaved shards of one shuffled order)
COMMON = ["model.dropout=0.0", "model.batch_norm=false", "trainer.max_epochs=2", "+trainer.limit_train_batches=19",
          "callbacks.progress_bar=null", "optimizer=momentum", "seed=7"]


def _run(run_dir: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(ROOT / "train.py"), *COMMON, f"hydra.run.dir={run_dir}", *extra],
                          env=env, capture_output=True, text=True, timeout=900, cwd=ROOT)


@pytest.mark.slow
def test_ddp_cpu_matches_one_process(tmp_path):
    single = _run(tmp_path / "single", "data.batch_size=64")
    assert single.returncode == 0, single.stderr[-3000:]
    ddp = _run(tmp_path / "ddp", "trainer=ddp_cpu", "data.batch_size=32")
    assert ddp.returncode == 0, ddp.stderr[-3000:]

    record = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert record["status"] == "ok" and record["global_steps"] == 38
    # one run folder: no per-rank folders or files appeared beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddp", "single"]
    assert ddp.stdout.count("run folder:") == 1

    a = torch.load(tmp_path / "single" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "ddp" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    for name in a:
        if name.startswith("net."):
            torch.testing.assert_close(b[name], a[name], rtol=0, atol=1e-5, msg=name)
    # recall.md counts the test images of both ranks (Lightning's sampler pads to equal shards, so at least all)
    def support(run):
        rows = (tmp_path / run / "recall.md").read_text().splitlines()[4:]
        return sum(int(r.split("|")[2]) for r in rows if r.startswith("|"))

    assert support("ddp") >= support("single") > 0
