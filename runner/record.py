"""metrics.json: the final numbers and the facts of a run, machine-readable."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig


def collect_metrics(*metric_dicts: dict[str, Any]) -> dict[str, float]:
    out: dict[str, float] = {}
    for d in metric_dicts:
        for k, v in d.items():
            if isinstance(v, torch.Tensor):
                if v.numel() != 1:
                    continue
                v = v.item()
            if isinstance(v, (int, float)):
                out[k] = float(v)
    return dict(sorted(out.items()))


def _choice(node: Any) -> str | None:
    if node is None:
        return None
    target = node.get("_target_") if isinstance(node, (dict, DictConfig)) else None
    return str(target).rsplit(".", 1)[-1] if target else None


def run_facts(cfg: DictConfig, choices: dict[str, str] | None) -> dict[str, Any]:
    """Which model/data/optimizer/loss ran: the Hydra choice names when known, else class names."""
    choices = choices or {}
    return {
        "model": choices.get("model") or _choice(cfg.get("model")),
        "data": choices.get("data") or _choice(cfg.get("data")),
        "optimizer": choices.get("optimizer") or _choice(cfg.get("optimizer")),
        "loss": choices.get("loss") or _choice(cfg.get("loss")),
        "trainer": choices.get("trainer") or None,
        "seed": cfg.get("seed"),
    }


def _finite(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # JSON has no nan/inf
    return v


def write_metrics_json(path: Path, metrics: dict[str, float], facts: dict[str, Any]) -> Path:
    payload = {**facts, "metrics": {k: _finite(v) for k, v in metrics.items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)  # atomic: a reader never sees half a file
    return path
