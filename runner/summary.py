"""The one-screen summary printed at the end of a run."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table


def print_summary(facts: dict[str, Any], metrics: dict[str, float], run_dir: Path) -> None:
    console = Console()
    table = Table(title=f"refzoo run: {facts.get('model')} on {facts.get('data')} ({facts.get('status')})",
                  show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    shown = [k for k in metrics if k.startswith(("test/", "val/"))] or list(metrics)
    for k in shown:
        table.add_row(k, f"{metrics[k]:.4f}")
    for k in ("optimizer", "loss", "seed", "epochs", "wall_seconds"):
        if facts.get(k) is not None:
            v = facts[k]
            table.add_row(k, f"{v:.1f}" if isinstance(v, float) else str(v))
    console.print(table)
    console.print(f"run folder: [bold]{run_dir}[/bold]")
