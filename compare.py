"""Turn finished sweep folders into comparison.md (one row per configuration) and comparison.png.

    python compare.py multirun/2025-01-01/12-00-00                 # the sweep's own metric and target
    python compare.py SWEEP [SWEEP ...] --metric loss --target 0.2  # several sweeps in one table
    python compare.py multirun/tune_lr/*/* --best-of optimizer      # best lr per optimizer after tuning
    python compare.py SWEEP --ensemble          # plus each configuration's ensemble of seeds (runner/ensemble.py)

A job folder is `<sweep>/<job number>/` with `.hydra/overrides.yaml`, `metrics.json` (runner/record.py)
and `metrics.csv` (Lightning's CSVLogger). A configuration is a job's overrides other than `seed`; its
label shows only the overrides that differ between configurations. A job without metrics.json, or
whose status is neither ok nor diverged, is counted as failed; it never stops the comparison.

Numbers: the final metric is the mean +- sample std (n-1) over the seeds that finished ok; the target
is met by the validation curve (default: 95% of the best configuration's final val metric, or the best
divided by 0.95 when lower is better); seconds to target come from `time/epoch_end_s`
(runner/epoch_timer.py), else from wall_seconds x epoch fraction, marked with ~.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import yaml

TIME_KEY = "time/epoch_end_s"
LOWER_IS_BETTER = ("loss", "err", "mse", "mae", "nll", "perplexity", "recon", "distance")
DEFAULT_TARGET = "95%"


@dataclass
class Job:
    path: Path
    overrides: dict[str, str]
    status: str                      # ok | diverged | failed
    record: dict[str, Any] = field(default_factory=dict)
    curves: dict[str, dict[int, float]] = field(default_factory=dict)   # metric -> {epoch: value}
    config: dict[str, Any] = field(default_factory=dict)                # .hydra/config.yaml
    choices: dict[str, Any] = field(default_factory=dict)               # hydra.runtime.choices

    @property
    def seed(self) -> str | None:
        if "seed" in self.overrides:
            return self.overrides["seed"]
        return None if self.record.get("seed") is None else str(self.record["seed"])

    def metric(self, key: str) -> float:
        return _float(self.record.get("metrics", {}).get(key))


@dataclass
class Config:
    key: tuple[tuple[str, str], ...]
    jobs: list[Job]
    label: str = ""
    final: list[float] = field(default_factory=list)        # per ok seed
    best_val: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    to_target: list[tuple[int, float, bool] | None] = field(default_factory=list)  # (epochs, seconds, approx)
    twin_delta: float | None = None
    twin_name: str | None = None

    @property
    def ok(self) -> list[Job]:
        return [j for j in self.jobs if j.status == "ok"]

    def count(self, status: str) -> int:
        return sum(j.status == status for j in self.jobs)


# ---------------------------------------------------------------- reading

def _float(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return math.nan


def _read_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return None


def _parse_overrides(lines: Iterable[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in lines or []:
        key, sep, value = str(line).partition("=")
        if sep:
            out[key.lstrip("+~")] = value
    return out


def _read_curves(path: Path) -> dict[str, dict[int, float]]:
    curves: dict[str, dict[int, float]] = {}
    try:
        with path.open(newline="") as fh:
            for row in csv.DictReader(fh):
                try:
                    epoch = int(float(row.get("epoch") or "nan"))
                except ValueError:
                    continue
                for key, value in row.items():
                    if key in ("epoch", "step") or value in (None, ""):
                        continue
                    curves.setdefault(key, {})[epoch] = _float(value)  # the epoch's last value wins
    except OSError:
        pass
    return curves


def read_job(path: Path) -> Job:
    overrides = _parse_overrides(_read_yaml(path / ".hydra" / "overrides.yaml") or [])
    hydra_cfg = _read_yaml(path / ".hydra" / "hydra.yaml") or {}
    choices = (((hydra_cfg.get("hydra") or {}).get("runtime") or {}).get("choices") or {})
    try:
        record = json.loads((path / "metrics.json").read_text())
    except (OSError, ValueError):
        record = {}
    # a truncated file, `[]` or `"metrics": null` is a run that did not finish ok, not a reason to stop
    if not isinstance(record, dict):
        record = {"error": f"metrics.json holds a {type(record).__name__}, not a run record"}
    elif record and not isinstance(record.get("metrics"), dict):
        record = {**record, "status": "failed", "metrics": {},
                  "error": record.get("error") or "metrics.json has no metrics"}
    status = str(record.get("status", "failed")) if record.get("metrics") is not None else "failed"
    if status not in ("ok", "diverged"):
        status = "failed"
    return Job(path=path, overrides=overrides, status=status, record=record,
               curves=_read_curves(path / "metrics.csv"), config=_read_yaml(path / ".hydra" / "config.yaml") or {},
               choices=choices)


def _is_job_dir(path: Path) -> bool:
    return (path / "metrics.json").is_file() or (path / ".hydra" / "overrides.yaml").is_file()


def find_jobs(paths: Sequence[str | Path]) -> list[Job]:
    """Job folders: each path itself if it is one, else its direct subfolders that are (in job-number order)."""
    jobs: list[Job] = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such folder")
        if not p.is_dir():
            continue  # a shell glob such as multirun/tune_lr/* also matches an earlier comparison.md
        if _is_job_dir(p):
            jobs.append(read_job(p))
            continue
        subs = [d for d in p.iterdir() if d.is_dir() and _is_job_dir(d)]
        subs.sort(key=lambda d: (not d.name.isdigit(), int(d.name) if d.name.isdigit() else 0, d.name))
        jobs.extend(read_job(d) for d in subs)
    if not jobs:
        raise FileNotFoundError(f"no job folders (with .hydra/overrides.yaml or metrics.json) in {', '.join(map(str, paths))}")
    return jobs


# ---------------------------------------------------------------- numbers

def metric_keys(jobs: list[Job], metric: str | None) -> tuple[str, str, str]:
    """(final key, val key, mode): `acc`, `val/acc` and `test/acc` all name the same metric."""
    cfg = next((j.config for j in jobs if j.config), {})
    optimized = str(cfg.get("optimized_metric") or "val/acc")
    name = metric or optimized
    stem = name.split("/", 1)[1] if name.split("/", 1)[0] in ("val", "test", "best", "train") and "/" in name else name
    val_key, test_key = f"val/{stem}", f"test/{stem}"
    has_test = any(test_key in j.record.get("metrics", {}) for j in jobs)
    if val_key == optimized and cfg.get("optimized_mode") in ("min", "max"):
        mode = str(cfg["optimized_mode"])
    else:
        mode = "min" if any(w in stem.lower() for w in LOWER_IS_BETTER) else "max"
    return (test_key if has_test else val_key), val_key, mode


def _better(a: float, b: float, mode: str) -> bool:
    return a < b if mode == "min" else a > b


def _reaches(value: float, target: float, mode: str) -> bool:
    return value <= target if mode == "min" else value >= target


def _finite(values: Iterable[float]) -> list[float]:
    return [v for v in values if math.isfinite(v)]


def _mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def _std(values: Sequence[float]) -> float:
    return statistics.stdev(values) if len(values) > 1 else math.nan


def _last(curve: dict[int, float]) -> float:
    return curve[max(curve)] if curve else math.nan


def group_configs(jobs: list[Job]) -> list[Config]:
    groups: dict[tuple[tuple[str, str], ...], list[Job]] = {}
    for job in jobs:
        key = tuple(sorted((k, v) for k, v in job.overrides.items() if k != "seed"))
        groups.setdefault(key, []).append(job)
    configs = [Config(key=k, jobs=v) for k, v in groups.items()]
    all_keys = sorted({k for c in configs for k, _ in c.key})
    varying = [k for k in all_keys if len({dict(c.key).get(k) for c in configs}) > 1]
    for c in configs:
        d = dict(c.key)
        shown = ([f"{k}={_short(d[k])}" for k in varying if k in d] if varying
                 else [f"{k}={_short(v)}" for k, v in c.key])
        c.label = " ".join(shown) or "(defaults)"
    return configs


def _short(value: str) -> str:
    """0.039129415513052344 -> 0.03913 (Optuna's raw floats make unreadable labels); other values unchanged."""
    try:
        number = float(value)
    except ValueError:
        return value
    return f"{number:.4g}" if "." in value and len(value) > 8 else value


def _time_at(job: Job, epoch: int, epochs_run: int) -> tuple[float, bool]:
    times = job.curves.get(TIME_KEY, {})
    if epoch in times and math.isfinite(times[epoch]):
        return times[epoch], False
    wall = _float(job.record.get("wall_seconds"))
    return wall * (epoch + 1) / max(epochs_run, 1), True


def _to_target(job: Job, val_key: str, target: float, mode: str) -> tuple[int, float, bool] | None:
    curve = job.curves.get(val_key, {})
    for i, epoch in enumerate(sorted(curve)):
        if math.isfinite(curve[epoch]) and _reaches(curve[epoch], target, mode):
            seconds, approx = _time_at(job, epoch, len(curve))
            return i + 1, seconds, approx
    return None


def resolve_target(target: str | float | None, best_final_val: float, mode: str) -> tuple[float, str]:
    """An absolute value, or `P%` of the best configuration's final val metric (lower is better: best / P)."""
    spec = DEFAULT_TARGET if target is None else str(target).strip()
    if spec.endswith("%"):
        frac = float(spec[:-1]) / 100.0
        value = best_final_val / frac if mode == "min" else best_final_val * frac
        return value, f"{spec} of the best configuration's final"
    return float(spec), "given"


def _twins(configs: list[Config]) -> None:
    """Pair each `key=torch_X` configuration with its `key=X` twin; store the largest final-loss gap over seeds."""
    by_key = {c.key: c for c in configs}
    for theirs in configs:
        for k, v in theirs.key:
            if not v.startswith("torch_"):
                continue
            ours = by_key.get(tuple(sorted({**dict(theirs.key), k: v[len("torch_"):]}.items())))
            if ours is None:
                continue
            mine = {j.seed: j for j in ours.ok}
            gaps = [abs(a.metric(m) - mine[a.seed].metric(m)) for a in theirs.ok if a.seed in mine
                    for m in ("train/loss", "val/loss", "test/loss")
                    if math.isfinite(a.metric(m)) and math.isfinite(mine[a.seed].metric(m))]
            if gaps:
                ours.twin_delta = theirs.twin_delta = max(gaps)
                ours.twin_name, theirs.twin_name = theirs.label, ours.label


def _available_metrics(jobs: list[Job]) -> list[str]:
    return sorted({k for j in jobs for k in (*j.record.get("metrics", {}), *j.curves)})


def check_choices(jobs: list[Job], configs: list[Config], metric: str | None, best_of: str | None,
                  final_key: str, val_key: str) -> None:
    """--metric and --best-of must name something the runs have: one ValueError listing what they have."""
    available = _available_metrics(jobs)
    if metric and available and final_key not in available and val_key not in available:
        test_key = "test/" + val_key.split("/", 1)[1]
        raise ValueError(f"--metric {metric}: no run logged {val_key} or {test_key}; available: {', '.join(available)}")
    keys = sorted({k for c in configs for k, _ in c.key})
    if best_of and best_of not in keys:
        raise ValueError(f"--best-of {best_of}: no run set {best_of}; the runs set: "
                         f"{', '.join(keys) or '(none)'}")


def summarize(jobs: list[Job], metric: str | None = None, target: str | float | None = None,
              best_of: str | None = None) -> dict[str, Any]:
    final_key, val_key, mode = metric_keys(jobs, metric)
    configs = group_configs(jobs)
    check_choices(jobs, configs, metric, best_of, final_key, val_key)
    for c in configs:
        c.final = _finite(j.metric(final_key) for j in c.ok)
        c.best_val = _finite(j.metric(f"best/{val_key}") if math.isfinite(j.metric(f"best/{val_key}"))
                             else _best(j.curves.get(val_key, {}), mode) for j in c.ok)
        c.train_loss = _finite(j.metric("train/loss") for j in c.ok)
    if best_of:
        configs = _best_of(configs, best_of, mode)
    sign = 1.0 if mode == "min" else -1.0
    configs.sort(key=lambda c: (not c.final, sign * _mean(c.final) if c.final else 0.0))  # stable: sweep order on ties
    winner = configs[0] if configs and configs[0].final else None
    ref = _mean(_finite(_last(j.curves.get(val_key, {})) for j in winner.ok)) if winner else math.nan
    target_value, target_how = resolve_target(target, ref, mode)
    for c in configs:
        c.to_target = [_to_target(j, val_key, target_value, mode) if math.isfinite(target_value) else None
                       for j in c.ok]
    _twins(configs)
    return {"configs": configs, "winner": winner, "final_key": final_key, "val_key": val_key, "mode": mode,
            "target": target_value, "target_how": target_how, "jobs": jobs, "best_of": best_of}


def _best(curve: dict[int, float], mode: str) -> float:
    values = _finite(curve.values())
    return (min(values) if mode == "min" else max(values)) if values else math.nan


def _best_of(configs: list[Config], key: str, mode: str) -> list[Config]:
    """Keep, per value of `key`, the configuration with the best mean best-val metric (chosen on val, not test)."""
    kept: dict[str | None, Config] = {}
    for c in configs:
        v = dict(c.key).get(key)
        score = _mean(c.best_val)
        cur = kept.get(v)
        if cur is None or (math.isfinite(score) and (not math.isfinite(_mean(cur.best_val))
                                                     or _better(score, _mean(cur.best_val), mode))):
            kept[v] = c
    return list(kept.values())


# ---------------------------------------------------------------- writing

def fmt(v: float) -> str:
    if not math.isfinite(v):
        return "—" if math.isnan(v) else str(v)
    return f"{v:.3e}" if v != 0 and abs(v) < 1e-3 else f"{v:.4f}"


def _mean_std(values: list[float]) -> str:
    if not values:
        return "—"
    return fmt(_mean(values)) if len(values) == 1 else f"{fmt(_mean(values))} ± {fmt(_std(values))}"


def _target_cells(c: Config) -> tuple[str, str]:
    hits = [t for t in c.to_target if t is not None]
    if not c.to_target:
        return "—", "—"
    if not hits:
        return "never", "never"
    approx = "~" if any(t[2] for t in hits) else ""
    part = f" ({len(hits)}/{len(c.to_target)} seeds)" if len(hits) < len(c.to_target) else ""
    return (f"{_mean([t[0] for t in hits]):.1f}{part}",
            f"{approx}{_mean([t[1] for t in hits]):.1f}{part}")


def _unique(jobs: list[Job], field_name: str) -> str:
    values = sorted({str(j.record.get(field_name) or j.choices.get(field_name) or "") for j in jobs} - {""})
    return ", ".join(values) or "?"


def _sweep_name(paths: Sequence[Path], jobs: list[Job]) -> str:
    experiments = sorted({str(j.choices.get("experiment")) for j in jobs if j.choices.get("experiment")})
    where = ", ".join(str(p) for p in paths)
    return f"{', '.join(experiments)} ({where})" if experiments else where


def render_markdown(s: dict[str, Any], paths: Sequence[Path]) -> str:
    configs: list[Config] = s["configs"]
    jobs: list[Job] = s["jobs"]
    fk, vk, mode = s["final_key"], s["val_key"], s["mode"]
    better = "lower" if mode == "min" else "higher"
    twins = any(c.twin_delta is not None for c in configs)
    lines = [f"# {_unique(jobs, 'model')} on {_unique(jobs, 'data')} · sweep {_sweep_name(paths, jobs)}", ""]
    tgt = (f"{vk} {'≤' if mode == 'min' else '≥'} {fmt(s['target'])} ({s['target_how']} {vk})"
           if math.isfinite(s["target"]) else "none (no finished run has a val curve to set it from)")
    lines += [f"{len(jobs)} runs, {len(configs)} configurations · ranked by {fk} ({better} is better) · "
              f"target: {tgt}", ""]
    if s["best_of"]:
        lines += [f"Only the best configuration per `{s['best_of']}` is shown (chosen on best {vk}, not on test).", ""]
    head = ["#", "configuration", f"{fk} (mean ± std)", f"best {vk}", "epochs to target", "seconds to target",
            "final train/loss", "seeds ok", "diverged", "failed"]
    if twins:
        head.append("max abs Δ loss vs twin")
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for rank, c in enumerate(configs, 1):
        epochs, seconds = _target_cells(c)
        win = c is s["winner"]
        cells = [f"{rank} 🏆" if win else str(rank), f"**{c.label}**" if win else c.label,
                 f"**{_mean_std(c.final)}**" if win else _mean_std(c.final),
                 _mean_std(c.best_val), epochs, seconds,
                 fmt(_mean(c.train_loss)) if c.train_loss else "—",
                 f"{len(c.ok)}/{len(c.jobs)}", str(c.count("diverged")),
                 str(c.count("failed")) + (" (failed)" if not c.ok and c.count("failed") else "")]
        if twins:
            cells.append(f"{c.twin_delta:.2e} ({c.twin_name})" if c.twin_delta is not None else "—")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    if twins:
        worst = max((c for c in configs if c.twin_delta is not None), key=lambda c: c.twin_delta)
        lines += [f"Largest difference in final loss between twins: **{worst.twin_delta:.2e}** "
                  f"({worst.label} vs {worst.twin_name}; over seeds and final train/val/test loss).", ""]
    approx = any(t is not None and t[2] for c in configs for t in c.to_target)
    lines.append("Mean ± sample std over seeds that finished ok; epochs/seconds to target are the mean over the "
                 "seeds that reached it." + (" ~: seconds estimated as wall_seconds × epoch fraction (no "
                                             f"{TIME_KEY} logged)." if approx else ""))
    bad = [j for j in jobs if j.status != "ok"]
    if bad:
        lines += ["", "Runs that did not finish ok:", ""]
        lines += [f"- `{j.path}` ({j.status}): {str(j.record.get('error') or '').replace(chr(10), ' ') or ('no metrics.json' if not j.record else '')}"
                  for j in bad]
    if s["best_of"]:
        lines += ["", "Confirm over seeds:", ""]
        lines += [f"    python train.py -m {' '.join(f'{k}={v}' for k, v in c.key if not _search_key(k))} seed=0,1,2"
                  for c in configs]
    return "\n".join(lines) + "\n"


def _search_key(key: str) -> bool:
    """Overrides that started the search itself (hparams_search=optuna, hydra.sweeper.*): rerunning them
    would search again instead of running the chosen configuration over seeds."""
    return key == "hparams_search" or key.startswith("hydra.")


def _band(jobs: list[Job], key: str) -> tuple[list[int], list[float], list[float], list[float]]:
    epochs = sorted({e for j in jobs for e in j.curves.get(key, {})})
    xs, mean, lo, hi = [], [], [], []
    for e in epochs:
        vals = _finite(j.curves[key][e] for j in jobs if e in j.curves.get(key, {}))
        if vals:
            xs.append(e + 1)
            mean.append(_mean(vals))
            lo.append(min(vals))
            hi.append(max(vals))
    return xs, mean, lo, hi


def render_plot(s: dict[str, Any], path: Path, title: str) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    configs: list[Config] = s["configs"]
    vk = s["val_key"]
    panels = [("val/loss", "validation loss (log scale)", True), (vk, f"validation {vk.split('/', 1)[1]}", False)]
    if vk == "val/loss":
        panels = panels[:1]
    fig, axes = plt.subplots(1, len(panels), figsize=(7.5 * len(panels) + 3, 5.5), squeeze=False)
    # twins (`X` and `torch_X`) share a colour: solid for ours, dashed for torch's
    families = list(dict.fromkeys(c.label.replace("torch_", "") for c in configs))
    cmap = plt.get_cmap("tab10" if len(families) <= 10 else "tab20")
    for c in configs:
        i = families.index(c.label.replace("torch_", ""))
        jobs = c.ok or [j for j in c.jobs if j.curves]
        label = c.label + (" (winner)" if c is s["winner"] else "")
        style = "--" if "torch_" in c.label else "-"
        for ax, (key, _, log) in zip(axes[0], panels):
            xs, mean, lo, hi = _band(jobs, key)
            if log:
                keep = [k for k, v in enumerate(lo) if v > 0]
                xs, mean, lo, hi = ([seq[k] for k in keep] for seq in (xs, mean, lo, hi))
            if not xs:
                continue
            color = cmap(i % cmap.N)
            ax.plot(xs, mean, style, color=color, label=label, lw=2.2 if c is s["winner"] else 1.5)
            ax.fill_between(xs, lo, hi, color=color, alpha=0.18, lw=0)
    for ax, (key, ylabel, log) in zip(axes[0], panels):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch", fontsize=12)
        ax.set_ylabel(ylabel, fontsize=12)
        ax.set_title(f"{key}: mean over seeds, band = min–max", fontsize=12)
        ax.grid(True, alpha=0.3)
        ax.tick_params(labelsize=10)
        if log and ax.lines:
            ax.set_yscale("log")
    if math.isfinite(s["target"]) and len(panels) > 1:
        axes[0][1].axhline(s["target"], color="0.4", ls=":", lw=1, label=f"target {fmt(s['target'])}")
    handles, labels = axes[0][-1].get_legend_handles_labels()
    if handles:
        axes[0][-1].legend(handles, labels, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=10, frameon=False)
    else:
        axes[0][0].text(0.5, 0.5, "no finished runs with curves", ha="center", va="center",
                        transform=axes[0][0].transAxes)
    fig.suptitle(title, fontsize=13)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def compare(paths: str | Path | Sequence[str | Path], metric: str | None = None, target: str | float | None = None,
            out_dir: str | Path | None = None, best_of: str | None = None,
            ensemble: bool = False) -> tuple[Path, Path]:
    """Write comparison.md and comparison.png (into out_dir, default the first path); returns both paths.

    `ensemble`: add a section with each configuration's ensemble of seeds on the test split (runner/ensemble.py).
    """
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    jobs = find_jobs(paths)
    s = summarize(jobs, metric=metric, target=target, best_of=best_of)
    out = Path(out_dir) if out_dir is not None else paths[0]
    out.mkdir(parents=True, exist_ok=True)
    md = out / "comparison.md"
    text = render_markdown(s, paths)
    if ensemble:
        from runner.ensemble import ensemble_configs, render_ensembles  # torch and Hydra: only when asked

        text += "\n" + render_ensembles(ensemble_configs(s["configs"]), fmt)
    md.write_text(text)
    png = render_plot(s, out / "comparison.png",
                      f"{_unique(jobs, 'model')} on {_unique(jobs, 'data')}: {len(s['configs'])} configurations")
    return md, png


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Compare the configurations of finished sweep folders: "
                                                 "writes comparison.md and comparison.png.")
    parser.add_argument("paths", nargs="+", help="sweep folders (or single job folders)")
    parser.add_argument("--metric", help="metric to rank by, e.g. acc, test/acc, loss (default: the sweep's "
                                         "optimized_metric, reported on test)")
    parser.add_argument("--target", help="target for the val metric: a value (0.9) or a percentage of the best "
                                         f"configuration's final val metric (default {DEFAULT_TARGET.replace('%', '%%')})")
    parser.add_argument("--out", help="folder for comparison.md/png (default: the first path)")
    parser.add_argument("--best-of", metavar="KEY", help="keep only the best configuration per value of this "
                                                        "override (e.g. optimizer after an lr search)")
    parser.add_argument("--ensemble", action="store_true",
                        help="also average each configuration's seeds (best checkpoints) into one classifier and "
                             "report its test accuracy beside the members' mean (bagging with data.bootstrap=true)")
    args = parser.parse_args(argv)
    try:
        md, png = compare(args.paths, metric=args.metric, target=args.target, out_dir=args.out, best_of=args.best_of,
                          ensemble=args.ensemble)
    except (FileNotFoundError, ValueError) as err:
        print(f"compare.py: {err}", file=sys.stderr)
        return 2
    print(md.read_text())
    print(f"wrote {md} and {png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
