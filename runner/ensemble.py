"""Ensembles of a sweep's seeds (`compare.py SWEEP --ensemble`): average the members' class probabilities.

    p_ens(c | x) = 1/M sum_m p_m(c | x),     yhat(x) = argmax_c p_ens(c | x)

For each configuration with at least two seeds that finished ok, each seed's model is rebuilt from its
run's `.hydra/config.yaml` (hydra.utils.instantiate), given its best checkpoint's weights
(`torch.load(weights_only=True)`), and run over the test split of the data that run used. With
`data.bootstrap=true` runs (each seed trained on its own bootstrap sample) this is the cheatsheet's bagging.
Classifiers only (models with `predict_proba`); the others are listed as not ensembled, with the reason.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

MIN_MEMBERS = 2


class EnsembleError(Exception):
    """Why a configuration is not ensembled (one line, shown in comparison.md)."""


@dataclass
class EnsembleRow:
    label: str
    members: int
    acc: float = math.nan                                      # the ensemble's test accuracy
    member_accs: list[float] = field(default_factory=list)     # each member's test accuracy, same data
    reason: str = ""                                           # set when not ensembled


def best_checkpoint_file(run_dir: Path) -> Path:
    """The run's best checkpoint: the one file in checkpoints/ besides last.ckpt (ModelCheckpoint save_top_k=1)."""
    found = sorted(p for p in (run_dir / "checkpoints").glob("*.ckpt") if p.name != "last.ckpt")
    if len(found) != 1:
        raise EnsembleError(f"{run_dir}: expected one best checkpoint in checkpoints/ (besides last.ckpt), "
                            f"found {len(found)}")
    return found[0]


def load_member(run_dir: Path) -> tuple[torch.nn.Module, Any]:
    """(the run's model with its best weights, in eval mode; the run's data config)."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(run_dir / ".hydra" / "config.yaml")
    model = instantiate(cfg.model, _convert_="all")
    if not callable(getattr(model, "predict_proba", None)):
        raise EnsembleError(f"model={type(model).__name__} is not a classifier (no class probabilities to average)")
    state = torch.load(best_checkpoint_file(run_dir), map_location="cpu", weights_only=True)["state_dict"]
    model.load_state_dict(state)
    dtype = next((t.dtype for t in state.values() if t.is_floating_point()), torch.float32)
    return model.to(dtype).eval(), cfg.data


@torch.no_grad()
def probabilities_on_test(model: torch.nn.Module, data_cfg: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(class probabilities (N, C), labels (N,)) of the model on the data config's test split."""
    from hydra.utils import instantiate

    datamodule = instantiate(data_cfg, _convert_="all")
    datamodule.setup("test")
    dtype = next(model.parameters()).dtype
    probs, labels = [], []
    for *inputs, y in datamodule.test_dataloader():
        inputs = [x.to(dtype) if x.is_floating_point() else x for x in inputs]
        probs.append(model.predict_proba(*inputs).to(torch.float64))
        labels.append(y)
    return torch.cat(probs), torch.cat(labels)


def accuracy(probs: torch.Tensor, labels: torch.Tensor) -> float:
    return float((probs.argmax(dim=1) == labels).to(torch.float64).mean())


def ensemble_runs(label: str, run_dirs: Sequence[Path]) -> EnsembleRow:
    """The ensemble of these runs (one configuration's seeds) on the test split."""
    row = EnsembleRow(label=label, members=len(run_dirs))
    if len(run_dirs) < MIN_MEMBERS:
        row.reason = f"{len(run_dirs)} seed finished ok; an ensemble needs at least {MIN_MEMBERS}"
        return row
    try:
        total, labels = None, None
        for run_dir in run_dirs:
            probs, y = probabilities_on_test(*load_member(Path(run_dir)))
            if labels is not None and not torch.equal(labels, y):
                raise EnsembleError(f"{run_dir}: its test split differs from the other seeds'")
            labels = y
            row.member_accs.append(accuracy(probs, y))
            total = probs if total is None else total + probs
        row.acc = accuracy(total / len(run_dirs), labels)
    except EnsembleError as err:
        row.reason = str(err)
    except Exception as err:  # noqa: BLE001 - one configuration's broken run must not stop the comparison
        row.reason = f"{type(err).__name__}: {err}"
    return row


def ensemble_configs(configs: Sequence[Any]) -> list[EnsembleRow]:
    """One row per compare.py configuration (its `label` and `ok` jobs, each with a run folder `path`)."""
    return [ensemble_runs(c.label, [j.path for j in c.ok]) for c in configs]


def render_ensembles(rows: Sequence[EnsembleRow], fmt) -> str:
    """The comparison.md section: ensemble test accuracy beside the members' mean, then what was not ensembled."""
    done = [r for r in rows if not r.reason]
    lines = ["## Ensembles of seeds", "",
             "Each configuration's seeds (their best checkpoints) average their predicted class probabilities on "
             "the test split; the ensemble predicts the most probable class. Members' accuracy is measured on the "
             "same split.", ""]
    if done:
        head = ["configuration", "members", "ensemble test/acc", "members' test/acc (mean ± std)",
                "ensemble − members' mean"]
        lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
        for r in done:
            mean = statistics.fmean(r.member_accs)
            spread = f" ± {fmt(statistics.stdev(r.member_accs))}" if len(r.member_accs) > 1 else ""
            lines.append(f"| {r.label} | {r.members} | {fmt(r.acc)} | {fmt(mean)}{spread} | {r.acc - mean:+.4f} |")
        lines.append("")
    skipped = [r for r in rows if r.reason]
    if skipped:
        lines += ["Not ensembled:", ""]
        lines += [f"- {r.label}: {r.reason}" for r in skipped]
        lines.append("")
    return "\n".join(lines)
