"""Explanation benchmark: ``models.explain`` TreeSHAP vs LightGBM ``pred_contrib``, one JSON.

    .venv/bin/python benchmarks/bench_explain.py [--repeats 3] [--big-rows 600]

Side by side in one process, on the same matrix, one thread and two: the shipped roll-forward and
cure models (the default training run: the default simulated book, seed 7, one LightGBM thread, as
the tests' ``trained_run``), explaining every case the feature pipeline builds from that book;
then a 500-tree, 63-leaf model trained here on the same matrix (roll-forward labels). Figures are
the best of ``--repeats`` timings, wall clock (``rows_per_s``) and, for one thread, CPU time of the
process (``rows_per_cpu_s``: less sensitive to the other work on a shared machine). ``max_abs_diff``
is the largest |ours - pred_contrib| over the matrix; ``explainer_build_s`` is reading the booster
and tabulating its leaves (once per model, on first use), numba's compile cache already warm.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

SEED = 7
BIG_TREES, BIG_LEAVES = 500, 63


def _best(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall and best process-CPU seconds of ``repeats`` calls."""
    wall, cpu = np.inf, np.inf
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - w0), min(cpu, time.process_time() - c0)
    return wall, cpu


def compare(booster, matrix: np.ndarray, repeats: int, num_iteration: int | None = None) -> dict:
    """Rows/s of ours and of ``pred_contrib`` on ``matrix``, 1 and 2 threads, and their ratio."""
    from models.explain import tree_shap

    t0 = time.perf_counter()
    explainer = tree_shap(booster, num_iteration)
    build = time.perf_counter() - t0
    explainer.contributions(matrix[:2])  # numba's cached machine code loaded outside the timing
    trees = booster.dump_model(num_iteration=num_iteration)["tree_info"]
    depth = np.diff(explainer.forest.unique_start)
    out: dict = {
        "rows": len(matrix),
        "features": matrix.shape[1],
        "trees": len(trees),
        "max_leaves": max(t["num_leaves"] for t in trees),
        "leaf_path_features_mean": round(float(depth.mean()), 2),
        "leaf_path_features_max": int(depth.max()),
        "leaves_without_table": round(float((explainer.table_start < 0).mean()), 4),
        "table_mb": round(explainer.tables.nbytes / 2**20, 1),
        "explainer_build_s": round(build, 3),
    }
    ours = explainer.contributions(matrix)
    reference = booster.predict(matrix, pred_contrib=True, num_iteration=num_iteration)
    out["max_abs_diff"] = float(np.abs(ours - reference).max())
    for threads in (1, 2):
        mine = _best(partial(explainer.contributions, matrix, threads=threads), repeats)
        lgb_call = partial(booster.predict, matrix, pred_contrib=True, num_iteration=num_iteration)
        theirs = _best(partial(lgb_call, num_threads=threads), repeats)
        key = f"{threads}_thread{'s' if threads > 1 else ''}"
        out[key] = {
            "ours_rows_per_s": round(len(matrix) / mine[0], 1),
            "pred_contrib_rows_per_s": round(len(matrix) / theirs[0], 1),
            "ratio": round(theirs[0] / mine[0], 2),
        }
        if threads == 1:
            out[key] |= {
                "ours_rows_per_cpu_s": round(len(matrix) / mine[1], 1),
                "pred_contrib_rows_per_cpu_s": round(len(matrix) / theirs[1], 1),
                "ratio_cpu": round(theirs[1] / mine[1], 2),
            }
    return out


def shipped_models(work: Path):
    """The default training run's bundle and the feature matrix of every case of its book."""
    from features.dataset import build_dataset
    from rollcure.config import RollcureConfig
    from simulation import SimulationConfig, simulate
    from training.data import load_case_data
    from training.fit import fit_bundle

    cfg = RollcureConfig(data_dir=work, seed=SEED, model={"lightgbm": {"num_threads": 1}})
    tables = simulate(SimulationConfig(), seed=SEED).tables
    data = load_case_data(tables, cfg)
    bundle, _, _ = fit_bundle(data.cases, data.spec, cfg.model, cfg.training, cfg.seed)
    X = build_dataset(tables, cfg.features).X
    return bundle, X, data.cases


def big_model(matrix: np.ndarray, y: np.ndarray, categorical: list[int]):
    import lightgbm as lgb

    params = {
        "objective": "binary",
        "num_leaves": BIG_LEAVES,
        "learning_rate": 0.05,
        "min_data_in_leaf": 20,
        "num_threads": 1,
        "seed": SEED,
        "deterministic": True,
        "verbosity": -1,
    }
    data = lgb.Dataset(matrix, y, categorical_feature=categorical)
    return lgb.train(params, data, num_boost_round=BIG_TREES)


def main() -> None:
    import lightgbm
    import numba

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--big-rows", type=int, default=600, help="rows of the 500-tree model's timing")
    args = ap.parse_args()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="rollcure-explain-bench-") as work:
        t0 = time.perf_counter()
        bundle, X, cases = shipped_models(Path(work))
        prep = time.perf_counter() - t0
    results = {}
    for target, scorer in bundle.scorers.items():
        model = scorer.model
        results[target] = compare(model.booster_, model.matrix(X), args.repeats, model.best_iteration_)
    rf = bundle.scorers["roll_forward"].model
    train_matrix = rf.matrix(cases)
    t0 = time.perf_counter()
    categorical = [rf.features_.index(c) for c in rf.categories_]
    big = big_model(train_matrix, cases["roll_forward"].to_numpy(dtype=float), categorical)
    big_fit = time.perf_counter() - t0
    big_rows = rf.matrix(X)[: args.big_rows]
    results[f"{BIG_TREES}_trees_{BIG_LEAVES}_leaves"] = compare(big, big_rows, args.repeats)
    print(
        json.dumps(
            {
                "benchmark": "explain_treeshap",
                "machine": {
                    "cpu_count": os.cpu_count(),
                    "usable_cores": len(os.sched_getaffinity(0)),
                    "platform": platform.platform(),
                    "processor": platform.processor(),
                    "python": platform.python_version(),
                    "lightgbm": lightgbm.__version__,
                    "numba": numba.__version__,
                    "load_average_1m_start": round(load_start, 2),
                    "load_average_1m_end": round(os.getloadavg()[0], 2),
                },
                "repeats": args.repeats,
                "shipped_models_prep_s": round(prep, 1),
                "big_model_fit_s": round(big_fit, 1),
                "models": results,
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
