"""Training benchmark: wall time and peak RSS for ~1M cases x all features (both models), and
explanation throughput of the bundle's TreeSHAP (models.explain) vs shap.TreeExplainer, side by side.

The 1M-case frame tiles the labelled cases of a simulated book (copies shifted in loan_id, float
features jittered by ±1%, so that LightGBM sees distinct rows). Prints one JSON object.
Target: training (both models, with calibration) <= 90 s on 2 cores.

    .venv/bin/python benchmarks/bench_training.py [--cases 1000000] [--accounts 20000] [--explain 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time

# OpenMP threads sleep instead of spinning while they wait: on a shared 2-core machine spinning
# makes 2 LightGBM threads several times slower than 1 (must be set before libgomp loads)
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _tile(cases: pd.DataFrame, spec, n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    copies = int(np.ceil(n / len(cases)))
    frame = pd.concat([cases] * copies, ignore_index=True).iloc[:n].copy()
    frame["loan_id"] = frame["loan_id"] + np.repeat(np.arange(copies), len(cases))[:n] * 10_000_000
    for s in spec:
        if s.dtype == "float":
            frame[s.name] = frame[s.name] * rng.uniform(0.99, 1.01, n)
    return frame


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--accounts", type=int, default=20_000)
    ap.add_argument("--explain", type=int, default=20_000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    from rollcure.config import RollcureConfig
    from simulation import SimulationConfig, simulate, write_portfolio
    from training.data import load_case_data
    from training.fit import fit_bundle

    cfg = RollcureConfig(seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        write_portfolio(simulate(SimulationConfig(accounts=args.accounts), seed=args.seed), tmp)
        from rollcure.core.io import read_tables

        data = load_case_data(read_tables(tmp), cfg)
    frame = _tile(data.cases, data.spec, args.cases, args.seed)
    del data.cases
    rss_before = _current_rss_mb()

    t0, c0 = time.perf_counter(), time.process_time()
    bundle, split, _ = fit_bundle(frame, data.spec, cfg.model, cfg.training, args.seed)
    train_s, train_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    peak_after_train = _rss_mb()

    import shap

    X = frame[bundle.feature_names].sample(args.explain, random_state=args.seed)
    model = bundle.scorers["roll_forward"].model
    t0 = time.perf_counter()
    native = model.contributions(X)
    native_s = time.perf_counter() - t0
    frame_x = model._frame(X)
    t0 = time.perf_counter()
    explainer = shap.TreeExplainer(model.booster_)
    values = np.asarray(explainer.shap_values(frame_x))
    shap_s = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "benchmark": "training",
                "cases": len(frame),
                "features": len(bundle.features),
                "train_cases": int(bundle.metadata["n_cases"]["train"]),
                "valid_cases": int(bundle.metadata["n_cases"]["valid"]),
                "training_wall_s_both_models": round(train_s, 2),
                # CPU seconds of all threads: on a busy shared machine wall time overstates the cost
                "training_cpu_s_both_models": round(train_cpu_s, 2),
                "best_iterations": {t: s.model.best_iteration_ for t, s in bundle.scorers.items()},
                "rss_before_training_mb": round(rss_before, 1),
                "peak_rss_mb": round(peak_after_train, 1),
                "explain_rows": len(X),
                "models_explain_cases_per_s": round(len(X) / native_s, 1),  # the bundle's TreeSHAP
                "shap_tree_explainer_cases_per_s": round(len(X) / shap_s, 1),
                "max_abs_difference": float(np.abs(native[:, :-1] - values).max()),
                "target_training_s": 90,
                "machine": {
                    "cpu_count": os.cpu_count(),
                    "platform": platform.platform(),
                    "python": sys.version.split()[0],
                    "lightgbm_threads": cfg.model.lightgbm.num_threads,
                    "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
                    "load_average_1m": round(os.getloadavg()[0], 2),
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
