"""Bagging and ensembles of a sweep's seeds: data.bootstrap and `compare.py --ensemble` (runner/ensemble.py)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from _train_cli import QUICK, env
from datamodules import DigitsDataModule
from datamodules._tensor_loader import bootstrap_sample
from runner.compose import compose_config
from runner.ensemble import ensemble_runs, load_member, probabilities_on_test

ROOT = Path(__file__).resolve().parents[1]


# --- bagging ------------------------------------------------------------------------------------------------
def test_bootstrap_draws_n_training_rows_with_replacement_by_seed():
    dm = DigitsDataModule(bootstrap=True)
    dm.setup("fit")
    x, y = dm.train_set
    torch.manual_seed(3)  # what seed_everything(3) does to the run's seed
    bx, by = dm.training_tensors()
    assert bx.shape == x.shape and by.shape == y.shape
    # every drawn row is a training row, with its own label; some rows repeat, so some are left out
    rows = {tuple(r.tolist()): int(label) for r, label in zip(x.reshape(len(x), -1), y)}
    assert all(rows[tuple(r.tolist())] == int(label) for r, label in zip(bx.reshape(len(bx), -1), by))
    distinct = len({tuple(r.tolist()) for r in bx.reshape(len(bx), -1)})
    assert distinct < len(set(rows))
    torch.manual_seed(3)
    assert torch.equal(dm.training_tensors()[0], bx)
    torch.manual_seed(4)
    assert not torch.equal(dm.training_tensors()[0], bx)
    assert dm.training_tensors() is not dm.train_set and DigitsDataModule().training_tensors() is None


def test_bootstrap_sample_is_row_aligned_and_checked():
    a, b = torch.arange(10), torch.arange(10) * 2
    sa, sb = bootstrap_sample((a, b), seed=0)
    assert torch.equal(sb, sa * 2) and sa.shape == (10,)
    with pytest.raises(ValueError, match="data.bootstrap must be true or false, got 'yes'"):
        DigitsDataModule(bootstrap="yes")


# --- ensembles ----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """mlp on digits, 2 seeds, 1 epoch of 2 batches (the test batch is the whole test split), through the real CLI."""
    out = tmp_path_factory.mktemp("ensemble") / "sw"
    proc = subprocess.run([sys.executable, str(ROOT / "train.py"), "-m", "seed=0,1", *QUICK,
                           "compare.ensemble=true", f"hydra.sweep.dir={out}"],
                          cwd=ROOT, env=env(), text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def ensemble_table(md: str) -> list[list[str]]:
    section = md.split("## Ensembles of seeds", 1)[1]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in section.splitlines() if ln.startswith("|")]


def test_sweep_end_reports_the_ensemble_beside_its_members(sweep):
    head, _, row = ensemble_table((sweep / "comparison.md").read_text())
    assert head == ["configuration", "members", "ensemble test/acc", "members' test/acc (mean ± std)",
                    "ensemble − members' mean"]
    assert row[1] == "2"
    # recomputed here: each member's best weights, probabilities averaged over the two seeds
    probs, accs = [], []
    for job in ("0", "1"):
        p, y = probabilities_on_test(*load_member(sweep / job))
        probs.append(p)
        accs.append(float((p.argmax(1) == y).double().mean()))
        # the member is the model the run tested: its accuracy is the run's own test/acc
        recorded = json.loads((sweep / job / "metrics.json").read_text())["metrics"]["test/acc"]
        assert accs[-1] == pytest.approx(recorded, abs=1e-6)
    ensemble = float(((probs[0] + probs[1]) / 2).argmax(1).eq(y).double().mean())
    assert row[2] == f"{ensemble:.4f}"
    assert row[3].startswith(f"{sum(accs) / 2:.4f} ± ")
    assert row[4] == f"{ensemble - sum(accs) / 2:+.4f}"


def test_compare_cli_ensemble_flag(sweep, tmp_path, capsys):
    from compare import main

    assert main([str(sweep), "--ensemble", "--out", str(tmp_path)]) == 0
    assert "## Ensembles of seeds" in (tmp_path / "comparison.md").read_text()
    assert main([str(sweep), "--out", str(tmp_path)]) == 0
    assert "## Ensembles" not in (tmp_path / "comparison.md").read_text()


def test_not_ensembled_runs_say_why(sweep, tmp_path):
    one = ensemble_runs("one seed", [sweep / "0"])
    assert one.reason == "1 seed finished ok; an ensemble needs at least 2" and one.acc != one.acc
    run = tmp_path / "ae"
    (run / ".hydra").mkdir(parents=True)
    cfg = compose_config(["model=autoencoder"], run)
    OmegaConf.save(cfg, run / ".hydra" / "config.yaml")
    row = ensemble_runs("autoencoder", [run, run])
    assert row.reason == "model=Autoencoder is not a classifier (no class probabilities to average)"
    empty = tmp_path / "nockpt"
    (empty / ".hydra").mkdir(parents=True)
    OmegaConf.save(compose_config([], empty), empty / ".hydra" / "config.yaml")
    assert "expected one best checkpoint" in ensemble_runs("x", [empty, empty]).reason
