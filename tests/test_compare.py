"""compare.py and the sweep callback: one real `train.py -m` sweep, then tables checked against metrics.json."""
from __future__ import annotations

import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import JobReturn, JobStatus
from hydra.types import RunMode
from omegaconf import OmegaConf

from compare import compare, main, resolve_target
from runner.sweep_callback import CompareOnSweepEnd

from conftest import compose_config

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """2 optimizers x 2 seeds x 2 epochs through the real CLI; the callback writes the comparison."""
    out = tmp_path_factory.mktemp("sweep") / "sw"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", "optimizer=sgd,adam", "seed=0,1", "trainer.max_epochs=2",
         "callbacks.progress_bar=null", f"hydra.sweep.dir={out}"],
        cwd=ROOT, env=ENV, text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def copy_sweep(sweep: Path, dest: Path) -> Path:
    shutil.copytree(sweep, dest, ignore=shutil.ignore_patterns("checkpoints", "comparison.*"))
    return dest


def write_overrides(job: Path, like: Path, **changes: object) -> None:
    """Give a fabricated job `like`'s overrides (the sweep's constant ones too), with some values changed."""
    ov = yaml.safe_load((like / ".hydra" / "overrides.yaml").read_text())
    keys = {o.split("=", 1)[0] for o in ov}
    ov = [f"{k}={changes[k]}" if (k := o.split("=", 1)[0]) in changes else o for o in ov]
    ov += [f"{k}={v}" for k, v in changes.items() if k not in keys]
    (job / ".hydra").mkdir(parents=True, exist_ok=True)
    (job / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(ov))


def table(md: str) -> dict[str, dict[str, str]]:
    """The ranking table as {configuration: {column: cell}}, in row order; '**' and the trophy stripped."""
    lines = [ln for ln in md.splitlines() if ln.startswith("|")]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = {}
    for ln in lines[2:]:
        cells = [c.strip().replace("**", "") for c in ln.strip("|").split("|")]
        row = dict(zip(head, cells))
        rows[row["configuration"]] = row
    return rows


def mean_std(cell: str) -> tuple[float, float]:
    mean, _, std = cell.partition(" ± ")
    return float(mean), float(std) if std else math.nan


def jobs_by_optimizer(sweep: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for d in sorted(p for p in sweep.iterdir() if p.is_dir()):
        ov = yaml.safe_load((d / ".hydra" / "overrides.yaml").read_text())
        opt = next(o.split("=", 1)[1] for o in ov if o.startswith("optimizer="))
        out.setdefault(opt, []).append(d)
    return out


def val_curve(job: Path, key: str) -> list[float]:
    with (job / "metrics.csv").open() as fh:
        by_epoch = {int(r["epoch"]): float(r[key]) for r in csv.DictReader(fh) if r.get(key)}
    return [by_epoch[e] for e in sorted(by_epoch)]


def first_reach(curve: list[float], target: float, lower: bool) -> int | None:
    for i, v in enumerate(curve):
        if (v <= target) if lower else (v >= target):
            return i + 1
    return None


def test_sweep_writes_comparison_with_numbers_from_metrics_json(sweep):
    md_path, png_path = sweep / "comparison.md", sweep / "comparison.png"
    assert md_path.is_file() and png_path.read_bytes()[:8] == PNG_MAGIC
    md = md_path.read_text()
    assert md.splitlines()[0].startswith("# mlp on digits · sweep ")
    assert str(sweep) in md.splitlines()[0]
    rows = table(md)
    assert set(rows) == {"optimizer=sgd", "optimizer=adam"}  # seed and constant overrides are not in the label

    finals = {}
    for opt, jobs in jobs_by_optimizer(sweep).items():
        recs = [json.loads((j / "metrics.json").read_text()) for j in jobs]
        assert all(r["status"] == "ok" for r in recs)
        row = rows[f"optimizer={opt}"]
        acc = [r["metrics"]["test/acc"] for r in recs]
        mean, std = mean_std(row["test/acc (mean ± std)"])
        assert mean == pytest.approx(statistics.fmean(acc), abs=6e-5)
        assert std == pytest.approx(statistics.stdev(acc), abs=6e-5)
        bmean, _ = mean_std(row["best val/acc"])
        assert bmean == pytest.approx(statistics.fmean(r["metrics"]["best/val/acc"] for r in recs), abs=6e-5)
        assert float(row["final train/loss"]) == pytest.approx(
            statistics.fmean(r["metrics"]["train/loss"] for r in recs), abs=6e-5)
        assert row["seeds ok"] == "2/2" and row["diverged"] == "0" and row["failed"] == "0"
        finals[opt] = (statistics.fmean(acc), jobs)

    # best first, winner marked
    order = list(rows)
    first, second = (lbl.split("=", 1)[1] for lbl in order)
    assert finals[first][0] >= finals[second][0]
    assert "🏆" in next(ln for ln in md.splitlines() if f"**{order[0]}**" in ln)

    # default target: 95% of the winner's final val/acc, met by the val curves at the epochs shown
    winner_jobs = finals[first][1]
    target = 0.95 * statistics.fmean(val_curve(j, "val/acc")[-1] for j in winner_jobs)
    assert f"val/acc ≥ {target:.4f}" in md
    for opt, (_, jobs) in finals.items():
        reach = [first_reach(val_curve(j, "val/acc"), target, lower=False) for j in jobs]
        cell = rows[f"optimizer={opt}"]["epochs to target"]
        hit = [r for r in reach if r is not None]
        if not hit:
            assert cell == "never"
        else:
            assert float(cell.split()[0]) == pytest.approx(statistics.fmean(hit), abs=0.05)
            # seconds come from the logged per-epoch clock, not the wall_seconds estimate
            assert not rows[f"optimizer={opt}"]["seconds to target"].startswith("~")


def test_failed_and_diverged_jobs_are_rows_not_crashes(sweep, tmp_path):
    d = copy_sweep(sweep, tmp_path / "sw")
    write_overrides(d / "7", like=d / "0", optimizer="rmsprop", seed=0)  # crashed: no metrics.json
    diverged = d / "8"
    shutil.copytree(d / "0", diverged)
    rec = json.loads((diverged / "metrics.json").read_text())
    opt = rec["optimizer"]
    rec.update(status="diverged", seed=5, metrics={"train/loss": "nan"})
    (diverged / "metrics.json").write_text(json.dumps(rec))
    write_overrides(diverged, like=d / "0", seed=5)

    proc = subprocess.run([sys.executable, str(ROOT / "compare.py"), str(d)], cwd=ROOT, env=ENV, text=True,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = table((d / "comparison.md").read_text())
    assert list(rows)[-1] == "optimizer=rmsprop"  # nothing finished: ranked last
    bad = rows["optimizer=rmsprop"]
    assert bad["failed"] == "1 (failed)" and bad["seeds ok"] == "0/1" and bad["test/acc (mean ± std)"] == "—"
    assert rows[f"optimizer={opt}"]["diverged"] == "1" and rows[f"optimizer={opt}"]["seeds ok"] == "2/3"
    # the diverged run does not enter the mean: it still equals the two ok seeds' mean
    recs = [json.loads((j / "metrics.json").read_text()) for j in jobs_by_optimizer(sweep)[opt]]
    mean, _ = mean_std(rows[f"optimizer={opt}"]["test/acc (mean ± std)"])
    assert mean == pytest.approx(statistics.fmean(r["metrics"]["test/acc"] for r in recs), abs=6e-5)
    assert "no metrics.json" in (d / "comparison.md").read_text()


def test_cli_metric_and_target(sweep, tmp_path, capsys):
    out = tmp_path / "out"
    assert main([str(sweep), "--metric", "loss", "--target", "0.9", "--out", str(out)]) == 0
    md = (out / "comparison.md").read_text()
    assert md == capsys.readouterr().out.split("\nwrote ")[0]
    assert "ranked by test/loss (lower is better)" in md and "val/loss ≤ 0.9000 (given val/loss)" in md
    rows = table(md)
    means = [mean_std(r["test/loss (mean ± std)"])[0] for r in rows.values()]
    assert means == sorted(means)  # lower loss first
    for opt, jobs in jobs_by_optimizer(sweep).items():
        row = rows[f"optimizer={opt}"]
        assert mean_std(row["test/loss (mean ± std)"])[0] == pytest.approx(
            statistics.fmean(json.loads((j / "metrics.json").read_text())["metrics"]["test/loss"] for j in jobs),
            abs=6e-5)
        assert mean_std(row["best val/loss"])[0] == pytest.approx(
            statistics.fmean(min(val_curve(j, "val/loss")) for j in jobs), abs=6e-5)
        hit = [r for r in (first_reach(val_curve(j, "val/loss"), 0.9, lower=True) for j in jobs) if r]
        assert row["epochs to target"] == ("never" if not hit else row["epochs to target"])
        if hit:
            assert float(row["epochs to target"].split()[0]) == pytest.approx(statistics.fmean(hit), abs=0.05)
    assert (out / "comparison.png").read_bytes()[:8] == PNG_MAGIC
    # an unreachable target reads "never"; a missing folder is one line and exit 2
    assert main([str(sweep), "--target", "1.5", "--out", str(out)]) == 0
    assert all(r["epochs to target"] == "never" for r in table((out / "comparison.md").read_text()).values())
    assert main([str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_twins_report_their_largest_loss_gap(sweep, tmp_path):
    d = tmp_path / "sw"
    d.mkdir()
    ours = jobs_by_optimizer(sweep)["sgd"]
    gap = {0: 2e-6, 1: 7e-6}
    for i, job in enumerate(ours):
        for name, prefix, shift in ((f"{i}", "", 0.0), (f"{i + 10}", "torch_", gap[i])):
            dst = copy_sweep(job, d / name)
            rec = json.loads((dst / "metrics.json").read_text())
            rec["metrics"]["train/loss"] += shift
            (dst / "metrics.json").write_text(json.dumps(rec))
            write_overrides(dst, like=job, optimizer=f"{prefix}sgd")
    md_path, _ = compare(d)
    md = md_path.read_text()
    rows = table(md)
    assert set(rows) == {"optimizer=sgd", "optimizer=torch_sgd"}
    cell = rows["optimizer=sgd"]["max abs Δ loss vs twin"]
    assert float(cell.split()[0]) == pytest.approx(7e-6, rel=1e-2) and "torch_sgd" in cell
    assert "Largest difference in final loss between twins: **7.00e-06**" in md


def test_best_of_keeps_best_config_per_key_chosen_on_val(sweep, tmp_path):
    d = tmp_path / "sw"
    d.mkdir()
    for i, job in enumerate(sorted(p for p in sweep.iterdir() if p.is_dir())):
        dst = copy_sweep(job, d / str(i))
        rec = json.loads((dst / "metrics.json").read_text())
        rec["metrics"]["best/val/acc"] = 0.5 + 0.1 * i  # later jobs "tuned" better on val
        (dst / "metrics.json").write_text(json.dumps(rec))
        write_overrides(dst, like=job, **{"optimizer.lr": f"0.{i + 1}", "seed": 0})
    md = compare(d, best_of="optimizer")[0].read_text()
    rows = table(md)
    assert len(rows) == 2  # one per optimizer
    kept = {lbl.split()[0]: lbl.split()[1] for lbl in rows}
    last = {}
    for i, job in enumerate(sorted(p for p in sweep.iterdir() if p.is_dir())):
        last[json.loads((job / "metrics.json").read_text())["optimizer"]] = f"optimizer.lr=0.{i + 1}"
    assert kept == {f"optimizer={k}": v for k, v in last.items()}
    assert "python train.py -m" in md and "seed=0,1,2" in md


def test_resolve_target_direction():
    assert resolve_target(None, 0.9, "max")[0] == pytest.approx(0.855)
    assert resolve_target(None, 0.19, "min")[0] == pytest.approx(0.2)
    assert resolve_target("80%", 0.5, "max")[0] == pytest.approx(0.4)
    assert resolve_target(0.3, 0.9, "max") == (0.3, "given")


def test_callback_compares_after_failed_job_and_on_multirun_end(sweep, tmp_path, caplog):
    d = copy_sweep(sweep, tmp_path / "sw")
    cfg = OmegaConf.create({"hydra": {"mode": RunMode.MULTIRUN, "sweep": {"dir": str(d)}}})
    cb = CompareOnSweepEnd()
    cb.on_multirun_start(cfg)
    cb.on_job_end(cfg, JobReturn(status=JobStatus.COMPLETED))
    assert not (d / "comparison.md").exists()  # no failure yet: wait for on_multirun_end
    cb.on_job_end(cfg, JobReturn(status=JobStatus.FAILED))
    assert (d / "comparison.md").is_file()  # Hydra will skip on_multirun_end after a failure
    (d / "comparison.md").unlink()
    cb.on_multirun_end(cfg)
    assert (d / "comparison.md").is_file()
    # an empty sweep folder is logged, never raised
    empty = tmp_path / "empty"
    empty.mkdir()
    CompareOnSweepEnd().on_multirun_end(OmegaConf.create({"hydra": {"sweep": {"dir": str(empty)}}}))
    assert "could not compare" in caplog.text


def _sweeper_params(cfg) -> dict[str, str]:
    return {k: str(v) for k, v in cfg.hydra.sweeper.params.items()}


def test_experiment_configs_compose(tmp_path):
    try:
        cfg = compose_config(["experiment=compare_optimizers"], tmp_path)
        params = _sweeper_params(cfg)
        assert params["optimizer"].split(",") == ["sgd", "momentum", "nesterov", "adagrad", "adadelta",
                                                  "rmsprop", "adam"]
        assert params["seed"] == "0,1,2"
        assert cfg.model._target_ == "models.MLP" and cfg.data._target_ == "datamodules.DigitsDataModule"

        cfg = compose_config(["experiment=ours_vs_torch"], tmp_path)
        names = [n.strip() for n in _sweeper_params(cfg)["optimizer"].split(",")]
        ours = [n for n in names if not n.startswith("torch_")]
        assert sorted(names) == sorted(ours + [f"torch_{n}" for n in ours])  # every one paired with its twin
        available = {p.stem for p in (ROOT / "configs" / "optimizer").glob("*.yaml")}
        assert set(names) <= available
        # every hand-written optimizer with a torch twin config is in the sweep
        assert {n for n in available if f"torch_{n}" in available} <= set(ours)
    finally:
        GlobalHydra.instance().clear()


def test_optuna_search_composes(tmp_path):
    import hydra_plugins.hydra_optuna_sweeper  # noqa: F401 - the plugin must be installed

    try:
        cfg = compose_config(["hparams_search=optuna", "optimizer=adam"], tmp_path)
        sw = cfg.hydra.sweeper
        assert sw._target_.endswith("OptunaSweeper")
        assert sw.direction == "maximize"  # optimized_mode=max
        assert sw.sampler._target_ == "optuna.samplers.TPESampler" and sw.sampler.seed == 0
        assert str(sw.params["optimizer.lr"]).startswith("tag(log, interval(")
        assert sw.study_name == "lr_adam" and cfg.hydra.sweep.dir == "multirun/tune_lr/adam"
        cfg = compose_config(["hparams_search=optuna", "optimized_metric=val/loss", "optimized_mode=min"], tmp_path)
        assert cfg.hydra.sweeper.direction == "minimize"
    finally:
        GlobalHydra.instance().clear()


@pytest.mark.slow
def test_optuna_sweep_runs(tmp_path):
    out = tmp_path / "tune"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "-m", "hparams_search=optuna", "optimizer=sgd",
         "hydra.sweeper.n_trials=2", "trainer.max_epochs=1", f"hydra.sweep.dir={out}"],
        cwd=ROOT, env=ENV, text=True, capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    best = yaml.safe_load((out / "optimization_results.yaml").read_text())
    assert 1e-4 <= best["best_params"]["optimizer.lr"] <= 2.0
    assert len(table((out / "comparison.md").read_text())) == 2


# -- bad input: one line, exit 2; broken records: failed rows -------------------------------------------------
def test_help_prints_and_exits_0():
    proc = subprocess.run([sys.executable, str(ROOT / "compare.py"), "--help"], cwd=ROOT, env=ENV, text=True,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "(default 95%)" in proc.stdout and "--best-of KEY" in proc.stdout


@pytest.mark.parametrize("content", ["[]", '{"status": "ok", "seed": 3, "metrics": null}', "null", '"ok"'])
def test_metrics_json_without_a_record_is_a_failed_row(sweep, tmp_path, content):
    d = copy_sweep(sweep, tmp_path / "sw")
    broken = d / "9"
    shutil.copytree(d / "0", broken)
    (broken / "metrics.json").write_text(content)
    write_overrides(broken, like=d / "0", optimizer="rmsprop")
    md = compare(d)[0].read_text()
    row = table(md)["optimizer=rmsprop"]
    assert row["failed"] == "1 (failed)" and row["seeds ok"] == "0/1"
    assert f"`{broken}` (failed)" in md


@pytest.mark.parametrize("option, message", [
    (["--metric", "nosuch"], "compare.py: --metric nosuch: no run logged val/nosuch or test/nosuch; available: "),
    (["--best-of", "nosuchkey"], "compare.py: --best-of nosuchkey: no run set nosuchkey; the runs set: "
                                 "callbacks.progress_bar, optimizer, trainer.max_epochs"),
])
def test_unknown_metric_or_key_is_one_line_naming_the_available_ones(sweep, tmp_path, capsys, option, message):
    assert main([str(sweep), *option, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and len(err.strip().splitlines()) == 1, err
    if option[0] == "--metric":
        assert "test/acc" in err and "val/loss" in err and "train/loss" in err
    assert not (tmp_path / "comparison.md").exists()


def test_best_of_after_optuna_confirms_the_chosen_configuration_not_a_new_search(sweep, tmp_path):
    d = tmp_path / "sw"
    d.mkdir()
    for i, job in enumerate(sorted(p for p in sweep.iterdir() if p.is_dir())):
        dst = copy_sweep(job, d / str(i))
        write_overrides(dst, like=job, **{"hparams_search": "optuna", "optimizer.lr": f"0.0{i + 1}", "seed": 0,
                                          "hydra.sweeper.n_trials": 4})
    md = compare(d, best_of="optimizer")[0].read_text()
    confirm = [line.strip() for line in md.splitlines() if line.strip().startswith("python train.py -m")]
    assert len(confirm) == 2
    for line in confirm:
        assert "hparams_search" not in line and "hydra.sweeper" not in line
        assert "optimizer=" in line and "optimizer.lr=0.0" in line and line.endswith("seed=0,1,2")
