"""Per-class recall of the test set: printed after testing and written to <run folder>/recall.md.

    recall_c = TP_c / (TP_c + FN_c)  = the share of class c's test examples predicted as c

A Callback the classifiers bring through `configure_callbacks`: it counts the predictions their
`test_step` returns (`{"preds", "target"}`) with torchmetrics, which sums the counts of every rank.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import pytorch_lightning as pl
import torch
from torchmetrics.classification import MulticlassStatScores


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


class RecallTable(pl.Callback):
    """Counts test predictions per class; at the end of testing prints the table and writes recall.md."""

    def __init__(self, num_classes: int, file_name: str = "recall.md"):
        self.num_classes = int(num_classes)
        self.file_name = file_name
        self.counts = MulticlassStatScores(num_classes=self.num_classes, average=None)  # tp, fp, tn, fn, support
        self.report: str | None = None

    def on_test_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.counts = self.counts.to(pl_module.device)
        self.counts.reset()

    def on_test_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
                          batch_idx: int, dataloader_idx: int = 0) -> None:
        self.counts.update(outputs["preds"], outputs["target"])

    def on_test_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        tp, _fp, _tn, _fn, support = self.counts.compute().cpu().unbind(-1)
        self.counts.reset()
        recall = torch.where(support > 0, tp / support.clamp_min(1), 0.0)
        self.report = recall_table(recall, support, class_names_of(trainer.datamodule, self.num_classes))
        if trainer.is_global_zero:
            write_recall(Path(trainer.default_root_dir) / self.file_name, self.report)
            print("\nTest recall per class\n" + self.report)
