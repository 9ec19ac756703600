"""Benchmark: simulate a large book (default 100k accounts x 24 months) and print JSON.

Target (issue 2): <= 60 s wall and <= 4 GiB peak RSS on 2 cores. Run:
    .venv/bin/python benchmarks/bench_simulate.py [--accounts 100000] [--months 24] [--seed 7] [--write DIR]
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
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--accounts", type=int, default=100_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument(
        "--write", type=Path, default=None, help="write the Parquet files here (default: a temp folder)"
    )
    ap.add_argument("--oracle-cases", type=int, default=0, help="also time the oracle on this many cases")
    args = ap.parse_args()

    from simulation import SimulationConfig, simulate, write_portfolio

    cfg = SimulationConfig(accounts=args.accounts, months=args.months)
    t0 = time.perf_counter()
    portfolio = simulate(cfg, seed=args.seed)
    simulate_s = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        out = args.write or Path(tmp)
        t1 = time.perf_counter()
        write_portfolio(portfolio, out)
        write_s = time.perf_counter() - t1
    oracle = {}
    if args.oracle_cases:
        from rollcure.core.value import ValueConfig
        from rollcure.core.value_history import estimate_valuation
        from simulation.oracle import action_values

        t = portfolio.tables
        valuation = estimate_valuation(t["cycles"], t["loans"], t["actions"], ValueConfig())
        cases = portfolio.truth["case_states"].head(args.oracle_cases)
        t2 = time.perf_counter()
        action_values(cases, cfg, valuation)
        oracle = {
            "oracle_cases": len(cases),
            "oracle_draws": cfg.oracle_draws,
            "oracle_horizon_cycles": valuation.horizon,
            "oracle_wall_s": round(time.perf_counter() - t2, 2),
        }
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    result = {
        "benchmark": "simulate",
        "accounts": args.accounts,
        "months": args.months,
        "seed": args.seed,
        "simulate_wall_s": round(simulate_s, 2),
        "write_parquet_wall_s": round(write_s, 2),
        "total_wall_s": round(simulate_s + write_s, 2),
        **oracle,
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "rows": {k: len(v) for k, v in {**portfolio.tables, **portfolio.truth}.items()},
        "targets": {"wall_s": 60, "peak_rss_mib": 4096},
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
    }
    result["meets_targets"] = (
        result["simulate_wall_s"] + result["write_parquet_wall_s"] <= 60 and result["peak_rss_mib"] <= 4096
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
