"""Allocation benchmark: 1M cases x the catalogue's actions under binding capacities, exact LP vs greedy.

Prints one JSON object: wall seconds of each method (side by side, same problem), the LP size after
the exact reductions, the greedy optimality gap, and the machine. Target: exact <= 20 s.

    .venv/bin/python benchmarks/bench_allocation.py [--cases 1000000] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time

import numpy as np

from models.allocation import allocate, total_value
from rollcure.core.catalogue import ACTIONS, CATALOGUE


def _problem(n: int, seed: int):
    """Values shaped like the book's: skewed recoveries minus action costs, 80% eligibility."""
    rng = np.random.default_rng(seed)
    costs = np.array([a.cost for a in CATALOGUE.actions])
    lift = np.linspace(0.0, 0.6, len(ACTIONS))  # dearer actions lift more
    balance = rng.gamma(1.5, 3000, n)
    values = balance[:, None] * lift[None, :] * rng.beta(2, 5, (n, len(ACTIONS))) - costs
    eligible = rng.random((n, len(ACTIONS))) < 0.8
    eligible[:, 0] = True
    # Capacities scale with the book (~2% of cases per limited action) so that they bind.
    # the catalogue's limited actions get a binding share of the book each, the rest are unlimited
    share = np.array([np.inf if a.daily_capacity is None else 0.01 for a in CATALOGUE.actions])
    caps = np.where(np.isinf(share), np.inf, np.floor(share * n))
    return values, eligible, caps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    values, eligible, caps = _problem(args.cases, args.seed)
    best = np.where(eligible, values, -np.inf).argmax(axis=1)
    demand = np.bincount(best, minlength=len(ACTIONS))
    capacity = {a: int(c) for a, c in zip(ACTIONS, caps, strict=True) if np.isfinite(c)}  # others unlimited
    out: dict = {"cases": args.cases, "actions": len(ACTIONS), "capacity": capacity}
    out["demand_unconstrained"] = demand.tolist()
    for method in ("greedy", "exact"):
        t0 = time.perf_counter()
        choice = allocate(values, eligible, caps, method=method)
        out[f"{method}_seconds"] = round(time.perf_counter() - t0, 3)
        out[f"{method}_value"] = round(total_value(values, choice), 2)
        out[f"{method}_counts"] = np.bincount(choice, minlength=len(ACTIONS)).tolist()
    out["greedy_gap"] = (out["exact_value"] - out["greedy_value"]) / abs(out["exact_value"])
    out["target_exact_seconds"] = 20
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    out["machine"] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
    }
    json.dump(out, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
