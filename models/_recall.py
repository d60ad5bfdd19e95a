"""Per-class recall of the test set as a markdown table (recall.md in the run folder).

    recall_c = TP_c / (TP_c + FN_c)  = the share of class c's test examples predicted as c
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch


def class_names_of(datamodule, num_classes: int) -> list[str]:
    """The datamodule's `class_names` (or `classes`) when it has them, else the class indices."""
    for attr in ("class_names", "classes"):
        names = getattr(datamodule, attr, None)
        if names is not None and len(names) == num_classes:
            return [str(n) for n in names]
    return [str(i) for i in range(num_classes)]


def recall_table(recall: torch.Tensor, support: torch.Tensor, names: Sequence[str]) -> str:
    rows = ["| class | test examples | recall |", "|---|---:|---:|"]
    for name, r, n in zip(names, recall.tolist(), support.tolist()):
        rows.append(f"| {name} | {int(n)} | {r:.3f} |")
    return "\n".join(rows)


def write_recall(path: Path, table: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Test recall per class\n\n" + table + "\n")
