"""The policy's end-to-end runs (I/O at this edge): backtest a book and segment a book.

``rollcure backtest``, ``rollcure segment`` and ``rollcure demo`` call these; they read the tables
(and the simulator's truth for the backtest), load or receive a bundle, compute with the pure
modules, render rich tables and write the files asked for.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from models.bundle import Bundle, PolicyBundle
from rollcure.config import RollcureConfig
from rollcure.core.errors import InputError


def load_policy_bundle(
    cfg: RollcureConfig, model: str = "champion", bundle_dir: Path | None = None
) -> Bundle:
    """A bundle from a folder (``--bundle``) or from the MLflow registry by alias or version."""
    if bundle_dir is not None:
        return Bundle.load(Path(bundle_dir))
    from registry.store import load_bundle

    return load_bundle(cfg, model)


def backtest_book(
    cfg: RollcureConfig,
    data_dir: Path,
    bundle: Bundle,
    *,
    console: Any = None,
    json_out: Path | None = None,
    plot_out: Path | None = None,
):
    """Run the strategy backtest on a simulated book, print it, write JSON / plot if asked."""
    from rollcure.core.io import read_tables, read_truth
    from training.backtest import run_backtest
    from training.policy_views import plot_backtest, render_backtest

    tables = read_tables(Path(data_dir))
    truth = read_truth(Path(data_dir))
    result = run_backtest(tables, truth, bundle, cfg, cfg.seed)
    if console is not None:
        render_backtest(result, console)
    if json_out is not None:
        Path(json_out).parent.mkdir(parents=True, exist_ok=True)
        Path(json_out).write_text(json.dumps(result.to_json(), indent=1, default=str))
    if plot_out is not None:
        plot_backtest(result, Path(plot_out))
    return result


def segment_latest(
    cfg: RollcureConfig,
    data_dir: Path,
    bundle: Bundle,
    *,
    out_dir: Path | None = None,
    as_of: str | None = None,
    console: Any = None,
) -> dict[str, pd.DataFrame]:
    """Segment the overdue book at ``as_of`` (default: the latest cycle); write CSV, Parquet, PNG."""
    from features.build import build_features
    from features.cases import overdue_cases
    from models.policy import decide
    from rollcure.core.io import read_tables
    from training.policy_views import plot_segments, render_segments
    from training.segment import segment_book

    tables = read_tables(Path(data_dir))
    if bundle.policy is None:  # a bundle trained on a book without logged actions
        from training.backtest import fit_policy_models, held_out_start

        models = fit_policy_models(tables, cfg, held_out_start(bundle))
        bundle.policy = PolicyBundle.from_config(cfg.policy, models)
    cycles = tables["cycles"]
    day = pd.Timestamp(as_of) if as_of else pd.Timestamp(cycles["cycle_date"].max())
    cases = overdue_cases(cycles, as_of=day)
    if cases.empty:
        raise InputError(f"--as-of: no overdue case at {day.date()}")
    X = build_features(tables, cases, cfg.features)
    decisions = decide(bundle, X, seed=cfg.seed, explain=False).to_frame()
    tables_out = segment_book(bundle, X, decisions)
    if console is not None:
        console.print(f"segments of {len(X):,} overdue cases at {day.date()}")
        render_segments(tables_out, console)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, frame in tables_out.items():
            frame.to_csv(out / f"{name}.csv", index=False)
            frame.to_parquet(out / f"{name}.parquet", index=False)
        plot_segments(tables_out, out)
    return tables_out
