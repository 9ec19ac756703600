"""The OOT metric table as a frame, as a rich table (CLI and demo) and as JSON (``--metrics-out``)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd

from models.metrics import METRICS

#: Metrics where lower is better (the rest: higher is better).
LOWER_IS_BETTER = frozenset({"brier", "log_loss", "ece"})


def metrics_frame(metrics: dict[str, dict[str, dict[str, float]]]) -> pd.DataFrame:
    """One row per target × model, one column per metric."""
    rows = [
        {"target": t, "model": m, **values}
        for t, by_model in metrics.items()
        for m, values in by_model.items()
    ]
    return pd.DataFrame(rows, columns=["target", "model", *METRICS])


def rich_metrics_table(metrics: dict[str, dict[str, dict[str, float]]], title: str = "Out-of-time metrics"):
    """A rich Table: LightGBM against the Markov matrix and the logistic scorecard; best value bold."""
    from rich import box
    from rich.table import Table

    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)  # fits an 80-column terminal
    table.add_column("target", no_wrap=True)
    table.add_column("model", no_wrap=True)
    for name in METRICS:
        table.add_column(name, justify="right", min_width=len(name))
    for t, by_model in metrics.items():
        best = {
            k: (min if k in LOWER_IS_BETTER else max)(v[k] for v in by_model.values() if not math.isnan(v[k]))
            for k in METRICS
            if any(not math.isnan(v[k]) for v in by_model.values())
        }
        for m, values in by_model.items():
            cells = [
                f"[bold]{values[k]:.4f}[/bold]" if values[k] == best.get(k) else f"{values[k]:.4f}"
                for k in METRICS
            ]
            table.add_row(t, m, *cells)
    return table


def write_metrics_json(metrics: dict[str, dict[str, dict[str, float]]], path: Path) -> Path:
    """``{"roll_forward": {"lightgbm": {...}, "markov": {...}, "logistic": {...}}, "cure": {...}}``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    clean = {
        t: {
            m: {k: (None if math.isnan(v) else round(v, 6)) for k, v in values.items()}
            for m, values in by_model.items()
        }
        for t, by_model in metrics.items()
    }
    path.write_text(json.dumps(clean, indent=2))
    return path
