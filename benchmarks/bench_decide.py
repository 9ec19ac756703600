"""Decide a million cases with every action valued: the policy's whole step, timed by part.

Simulates a default book, trains the scorers and the action models (one-step look-ahead), builds
the features of every overdue case of its latest cycles, tiles them to ``--cases`` rows, then times
``models.policy.decide`` (eligibility, scores, every action's value, the capacity allocation, the
why sentences; no SHAP reasons) on the lot, and the action models' prediction alone. Prints one
JSON object with the figures and the machine. Target (the learner issue): <= 30 s for 1M cases.

    .venv/bin/python benchmarks/bench_decide.py [--cases 1000000] [--seed 7] [--threads 2]

Side by side in the same run, on the first ``--reference-cases`` cases: the action models' every-action
prediction with one and with ``--threads`` threads, the same with every tree walked case by case
(no leaf tables), and LightGBM's own prediction of the same cases stacked once per action (what
the action models did before ``models.action_trees``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reference-cases", type=int, default=100_000)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # decide's threads (models.explain.default_threads)

    import numpy as np
    import pandas as pd

    from features.build import build_features
    from models.bundle import PolicyBundle
    from models.policy import decide
    from registry.store import TRACKING_ENV
    from rollcure.config import RollcureConfig
    from rollcure.core.io import read_tables
    from simulation import SimulationConfig, simulate, write_portfolio
    from training.backtest import fit_policy_models, held_out_start
    from training.pipeline import run_training

    os.environ.pop(TRACKING_ENV, None)
    with tempfile.TemporaryDirectory() as tmp:
        book = os.path.join(tmp, "book")
        write_portfolio(simulate(SimulationConfig(), seed=args.seed), book)
        cfg = RollcureConfig(data_dir=os.path.join(tmp, "run"), seed=args.seed)
        bundle = run_training(cfg, book, None, promote=True, write_report_file=False).bundle
        tables = read_tables(book)
        if bundle.policy is None:
            models = fit_policy_models(tables, cfg, held_out_start(bundle))
            bundle.policy = PolicyBundle.from_config(cfg.policy, models)
        cyc = tables["cycles"]
        recent = cyc[(cyc["dpd"] > 0) & (cyc["cycle_date"] >= sorted(cyc["cycle_date"].unique())[-6])]
        cases = recent[["loan_id", "cycle_date"]].rename(columns={"cycle_date": "as_of"})
        cases = cases.reset_index(drop=True)
        X0 = build_features(tables, cases, cfg.features)
    reps = -(-args.cases // len(X0))
    X = pd.concat([X0] * reps, ignore_index=True).iloc[: args.cases]
    X["loan_id"] = np.arange(len(X))  # distinct cases
    X["as_of"] = X0["as_of"].iloc[0]  # one decision cycle
    policy = bundle.policy
    assert policy is not None
    models = policy.action_models
    costs = np.asarray(policy.config.cost_vector())
    models.predict(X.iloc[:100], costs=costs)  # reads the trees and compiles the kernel: not timed
    t0 = time.perf_counter()
    models.predict(X, costs=costs, threads=1)
    predict_1 = time.perf_counter() - t0
    t0 = time.perf_counter()
    models.predict(X, costs=costs, threads=args.threads)
    predict_s = time.perf_counter() - t0
    ref = X.iloc[: args.reference_cases]
    t0 = time.perf_counter()
    models.predict(ref, costs=costs, threads=1)
    ours_ref_s = time.perf_counter() - t0
    lightgbm_ref_s = _stacked_lightgbm_s(models, ref)
    walked_ref_s, tabled_ref_s = _walked_s(models, ref)
    t1 = time.perf_counter()
    d = decide(bundle, X, seed=1, explain=False)
    decide_s = time.perf_counter() - t1
    caps_binding = np.asarray(policy.config.cycle_capacity()) * (len(X) / max(len(X0) / 6, 1))
    t2 = time.perf_counter()
    decide(bundle, X, seed=1, explain=False, capacities=list(caps_binding))
    decide_binding_s = time.perf_counter() - t2
    out = {
        "benchmark": "decide",
        "cases": len(X),
        "distinct_cases": len(X0),
        "actions_valued_per_case": len(policy.config.cycle_capacity()),
        "threads": args.threads,
        "action_models_predict_1_thread_s": round(predict_1, 2),
        "action_models_predict_s": round(predict_s, 2),
        "reference_cases": len(ref),
        "every_action_one_walk_1_thread_s": round(ours_ref_s, 2),
        "lightgbm_stacked_rows_1_thread_s": round(lightgbm_ref_s, 2),
        "speedup_over_stacked_lightgbm": round(lightgbm_ref_s / ours_ref_s, 2),
        "every_action_walked_case_by_case_1_thread_s": round(walked_ref_s, 2),
        "every_action_leaf_tables_1_thread_s": round(tabled_ref_s, 2),
        "speedup_of_leaf_tables_over_walks": round(walked_ref_s / tabled_ref_s, 2),
        "decide_s": round(decide_s, 2),
        "decide_with_capacities_scaled_to_the_book_s": round(decide_binding_s, 2),
        "note": "decide_s: the policy's per-cycle capacities as configured; the other: scaled to the 1M book",
        "target_s": 30,
        "chosen": d.to_frame()["action"].value_counts().to_dict(),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
    }
    print(json.dumps(out, indent=1))


def _walked_s(models, X) -> tuple[float, float]:
    """Seconds for the every-action prediction with every tree walked case by case (no leaf tables:
    ``models.action_trees`` with ``lut_max_nodes=0``), and with the bundle's tabled trees, the same
    bare kernel calls on the same matrix."""
    from models.action_trees import action_forest
    from rollcure.core.catalogue import ACTIONS

    base = models._matrix(X)
    walked = [
        action_forest(b, lut_max_nodes=0)
        for b in [*models.recovery_members, models.cure_model, models.roll_model]
    ]
    walked[0].predict(base[:10], len(ACTIONS))  # compiled: not timed
    times = {}
    for name, forests in (("walked", walked), ("tabled", models.forests())):
        t0 = time.perf_counter()
        for forest in forests:
            forest.predict(base, len(ACTIONS), threads=1)
        times[name] = time.perf_counter() - t0
    return times["walked"], times["tabled"]


def _stacked_lightgbm_s(models, X) -> float:
    """Seconds for LightGBM to predict every case once per action (the action as the last column)."""
    import numpy as np

    from rollcure.core.catalogue import ACTIONS

    base = models._matrix(X)
    stacked = np.empty((len(ACTIONS), len(base), base.shape[1] + 1))
    stacked[:, :, :-1] = base[None]
    stacked[:, :, -1] = np.arange(len(ACTIONS), dtype=float)[:, None]
    stacked = stacked.reshape(len(ACTIONS) * len(base), -1)
    t0 = time.perf_counter()
    for booster in [*models.recovery_members, models.cure_model]:
        booster.predict(stacked, num_threads=1)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
