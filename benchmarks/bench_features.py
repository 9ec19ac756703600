"""Benchmark: point-in-time features for every overdue case of a ~10M-cycle book; prints JSON.

The book is simulated once (in a child process, so its memory does not count) and tiled with offset
ids up to ``--cycles`` rows, then written to Parquet. This process then, side by side:
  1. the full pipeline: read Parquet, overdue cases, `build_features` (every registry feature);
  2. a core subset (max DPD 3/6/12, delinquent cycles 6/12, paid/due 3/6, contact attempts 7/30 days,
     right-party contacts 30 days) with the same pipeline code;
  3. the same subset as one DuckDB SQL query over the same Parquet files;
checks that 2 and 3 agree, and reports the ratio 2 / 3; then times the default demo book and single
cases through the serving path. Targets (issue 3): ratio <= 1.5, peak <= 8 GiB; aim < 20 ms per case.

    .venv/bin/python benchmarks/bench_features.py [--cycles 10000000] [--accounts 220000] [--months 24]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

SUBSET = [
    "max_dpd_3", "max_dpd_6", "max_dpd_12", "delinquent_cycles_6", "delinquent_cycles_12", "paid_to_due_3",
    "paid_to_due_6", "contact_attempts_7d", "contact_attempts_30d", "rpc_30d",
]  # fmt: skip
_CYCLE_COLS = ["loan_id", "cycle_date", "dpd", "due_amount", "paid_amount"]
#: Largest absolute difference between the pipeline subset and DuckDB that still counts as equal.
_AGREE_TOL = 1e-9


def prepare(out: Path, accounts: int, months: int, seed: int, target_cycles: int) -> dict:
    """Simulate, tile to the target size with offset ids, write Parquet (run in a child process)."""
    from rollcure.core.io import write_tables
    from simulation import SimulationConfig, simulate

    tables = simulate(SimulationConfig(accounts=accounts, months=months), seed=seed).tables
    copies = max(1, int(np.ceil(target_cycles / len(tables["cycles"]))))
    offset = int(max(tables["loans"]["loan_id"].max(), tables["borrowers"]["borrower_id"].max())) + 1
    tiled = {}
    for name, frame in tables.items():
        parts = []
        for k in range(copies):
            part = frame.copy()
            for col in ("loan_id", "borrower_id"):
                if col in part:
                    part[col] = part[col] + k * offset
            parts.append(part)
        tiled[name] = pd.concat(parts, ignore_index=True)
        del parts
    write_tables(tiled, out)
    return {"copies": copies, "rows": {k: len(v) for k, v in tiled.items()}}


def pipeline_subset(data: Path) -> pd.DataFrame:
    """The core subset with the pipeline's own code (same functions `build_features` calls)."""
    from features import (
        DAY_S,
        CycleBook,
        EventIndex,
        cycle_window,
        overdue_cases,
        safe_ratio,
        to_seconds,
        window_count,
    )
    from features.registry import CONTACT_WINDOW_DAYS
    from rollcure.core.domain import RIGHT_PARTY_OUTCOMES

    cycles = pd.read_parquet(data / "cycles.parquet", columns=_CYCLE_COLS)
    contacts = pd.read_parquet(data / "contacts.parquet", columns=["loan_id", "ts", "outcome"])
    cases = overdue_cases(cycles)
    loan_id = cases["loan_id"].to_numpy()
    as_of_s = to_seconds(cases["as_of"].to_numpy(), ceil=False)
    t_min = int(as_of_s.min()) - (CONTACT_WINDOW_DAYS + 1) * DAY_S
    t_max = int(as_of_s.max()) + DAY_S
    cycles["balance"] = cycles["arrears"] = 0.0  # not read by the subset
    cycles["missed_instalments"] = 0
    book = CycleBook.build(cycles, t_min, t_max)
    pos, start, _ = book.case_rows(loan_id, as_of_s)
    delinquent = (book.dpd > 0).astype(np.float64)
    out = {"loan_id": loan_id, "as_of": cases["as_of"].to_numpy()}
    for k in (3, 6, 12):
        out[f"max_dpd_{k}"] = cycle_window(book.dpd, pos, start, k, "max")
    for k in (6, 12):
        out[f"delinquent_cycles_{k}"] = cycle_window(delinquent, pos, start, k, "sum")
    for k in (3, 6):
        out[f"paid_to_due_{k}"] = safe_ratio(
            cycle_window(book.paid, pos, start, k, "sum"), cycle_window(book.due, pos, start, k, "sum")
        )
    idx = EventIndex.build(contacts["loan_id"].to_numpy(), to_seconds(contacts["ts"]), t_min, t_max)
    rpc = np.isin(contacts["outcome"].to_numpy(dtype=object)[idx.order], RIGHT_PARTY_OUTCOMES)
    hi = idx.position(loan_id, as_of_s, "right")
    lo7 = idx.position(loan_id, as_of_s - 7 * DAY_S, "right")
    lo30 = idx.position(loan_id, as_of_s - 30 * DAY_S, "right")
    out["contact_attempts_7d"] = (hi - lo7).astype(np.float64)
    out["contact_attempts_30d"] = (hi - lo30).astype(np.float64)
    out["rpc_30d"] = window_count(rpc, lo30, hi).astype(np.float64)
    return pd.DataFrame(out)


def duckdb_subset(data: Path) -> pd.DataFrame:
    """The same subset as one SQL query over the same Parquet."""
    import duckdb

    from rollcure.core.domain import RIGHT_PARTY_OUTCOMES

    rpc = ", ".join(f"'{o}'" for o in RIGHT_PARTY_OUTCOMES)
    sql = f"""
    WITH c AS (
      SELECT loan_id, cycle_date, dpd,
        max(dpd) OVER w3 AS max_dpd_3, max(dpd) OVER w6 AS max_dpd_6, max(dpd) OVER w12 AS max_dpd_12,
        sum((dpd > 0)::DOUBLE) OVER w6 AS delinquent_cycles_6,
        sum((dpd > 0)::DOUBLE) OVER w12 AS delinquent_cycles_12,
        sum(paid_amount) OVER w3 AS paid3, sum(due_amount) OVER w3 AS due3,
        sum(paid_amount) OVER w6 AS paid6, sum(due_amount) OVER w6 AS due6
      FROM read_parquet('{data / "cycles.parquet"}')
      WINDOW w3 AS (PARTITION BY loan_id ORDER BY cycle_date ROWS BETWEEN 2 PRECEDING AND CURRENT ROW),
             w6 AS (PARTITION BY loan_id ORDER BY cycle_date ROWS BETWEEN 5 PRECEDING AND CURRENT ROW),
             w12 AS (PARTITION BY loan_id ORDER BY cycle_date ROWS BETWEEN 11 PRECEDING AND CURRENT ROW)
    ), cases AS (SELECT * FROM c WHERE dpd > 0),
    k AS (
      SELECT cases.loan_id, cases.cycle_date,
        count(*) FILTER (WHERE k.ts > cases.cycle_date - INTERVAL 7 DAY) AS a7,
        count(*) AS a30,
        count(*) FILTER (WHERE k.outcome IN ({rpc})) AS r30
      FROM cases JOIN read_parquet('{data / "contacts.parquet"}') k
        ON k.loan_id = cases.loan_id AND k.ts <= cases.cycle_date
        AND k.ts > cases.cycle_date - INTERVAL 30 DAY
      GROUP BY cases.loan_id, cases.cycle_date
    )
    SELECT cases.loan_id, cases.cycle_date AS as_of, max_dpd_3, max_dpd_6, max_dpd_12,
      delinquent_cycles_6, delinquent_cycles_12,
      CASE WHEN due3 > 0.005 THEN paid3 / due3 END AS paid_to_due_3,
      CASE WHEN due6 > 0.005 THEN paid6 / due6 END AS paid_to_due_6,
      coalesce(a7, 0)::DOUBLE AS contact_attempts_7d, coalesce(a30, 0)::DOUBLE AS contact_attempts_30d,
      coalesce(r30, 0)::DOUBLE AS rpc_30d
    FROM cases LEFT JOIN k ON k.loan_id = cases.loan_id AND k.cycle_date = cases.cycle_date
    """
    con = duckdb.connect()
    try:
        return con.sql(sql).df()
    finally:
        con.close()


def serving_latency(n_cases: int, seed: int) -> dict:
    """The default demo book (20k accounts x 18 months): whole-book build time, then one case at a
    time as serving sees it (payload -> tables -> build_features), median and p95 in ms."""
    from features.build import build_features
    from features.cases import overdue_cases
    from features.payload import payloads_to_tables
    from features.payload_from_tables import payloads_from_tables
    from rollcure.config.features import FeatureConfig
    from simulation import SimulationConfig, simulate

    cfg = FeatureConfig()
    tables = simulate(SimulationConfig(), seed=seed).tables
    cases = overdue_cases(tables["cycles"])
    _, book_s = _timed(build_features, tables, cases, cfg)
    pick = cases.sample(n=min(n_cases, len(cases)), random_state=seed).reset_index(drop=True)
    payloads = payloads_from_tables(tables, pick)
    total, build_only = [], []
    for p in payloads:
        t0 = time.perf_counter()
        one_tables, one_case = payloads_to_tables([p])
        t1 = time.perf_counter()
        build_features(one_tables, one_case, cfg)
        t2 = time.perf_counter()
        total.append((t2 - t0) * 1e3)
        build_only.append((t2 - t1) * 1e3)
    return {
        "default_book_cases": len(cases),
        "default_book_build_s": round(book_s, 2),
        "single_case_requests": len(payloads),
        "single_case_build_ms_median": round(float(np.median(build_only)), 2),
        "single_case_build_ms_p95": round(float(np.percentile(build_only, 95)), 2),
        "single_case_payload_plus_build_ms_median": round(float(np.median(total)), 2),
    }


def _peak_mib() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def _agree(ours: pd.DataFrame, theirs: pd.DataFrame) -> float:
    """Largest absolute difference over the subset after aligning on the case keys."""
    keys = ["loan_id", "as_of"]
    a = ours.sort_values(keys).reset_index(drop=True)
    b = theirs.assign(as_of=pd.to_datetime(theirs["as_of"]).astype("datetime64[ns]"))
    b = b.sort_values(keys).reset_index(drop=True)
    if len(a) != len(b) or not (a[keys].to_numpy() == b[keys].to_numpy()).all():
        raise SystemExit("pipeline and DuckDB disagree on the cases")
    diff = 0.0
    for col in SUBSET:
        x, y = a[col].to_numpy(dtype=np.float64), b[col].to_numpy(dtype=np.float64)
        if not (np.isnan(x) == np.isnan(y)).all():
            raise SystemExit(f"pipeline and DuckDB disagree on missing values of {col}")
        ok = ~np.isnan(x)
        diff = max(diff, float(np.max(np.abs(x[ok] - y[ok]), initial=0.0)))
    return diff


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cycles", type=int, default=10_000_000, help="target cycle rows after tiling")
    ap.add_argument("--accounts", type=int, default=220_000)
    ap.add_argument("--months", type=int, default=24)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--latency-cases", type=int, default=200, help="single-case requests to time")
    ap.add_argument("--prepare", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.prepare is not None:
        print(json.dumps(prepare(args.prepare, args.accounts, args.months, args.seed, args.cycles)))
        return

    from features.build import build_features
    from features.cases import overdue_cases
    from rollcure.config.features import FeatureConfig

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        t0 = time.perf_counter()
        child = subprocess.run(
            [sys.executable, __file__, "--prepare", str(data), "--accounts", str(args.accounts),
             "--months", str(args.months), "--seed", str(args.seed), "--cycles", str(args.cycles)],
            check=True, capture_output=True, text=True,
        )  # fmt: skip
        book = json.loads(child.stdout.strip().splitlines()[-1])
        prepare_s = time.perf_counter() - t0

        def full() -> pd.DataFrame:
            from rollcure.core.io import read_tables

            tables = read_tables(data)
            cases = overdue_cases(tables["cycles"])
            return build_features(tables, cases, FeatureConfig())

        X, full_s = _timed(full)
        peak_after_full = _peak_mib()
        n_cases = len(X)
        check = X[["loan_id", "as_of", *SUBSET]].copy()
        del X
        ours, ours_s = _timed(pipeline_subset, data)
        theirs, duck_s = _timed(duckdb_subset, data)
        ours_vs_full = _agree(ours, check)
        ours_vs_duck = _agree(ours, theirs)
        peak_all = _peak_mib()
        del ours, theirs, check
    latency = serving_latency(args.latency_cases, args.seed)

    import duckdb

    result = {
        "benchmark": "features",
        "book": {**book, "simulated_accounts": args.accounts, "months": args.months, "seed": args.seed},
        "prepare_wall_s": round(prepare_s, 1),
        "cases": n_cases,
        "full_pipeline": {
            "wall_s": round(full_s, 2),
            "cases_per_s": round(n_cases / full_s),
            "peak_rss_mib": peak_after_full,
        },
        "core_subset": {
            "columns": SUBSET,
            "pipeline_wall_s": round(ours_s, 2),
            "duckdb_wall_s": round(duck_s, 2),
            "ratio_pipeline_over_duckdb": round(ours_s / duck_s, 2),
            "duckdb_threads": duckdb.connect().sql("select current_setting('threads')").fetchall()[0][0],
            "max_abs_diff_vs_duckdb": ours_vs_duck,
            "max_abs_diff_vs_build_features": ours_vs_full,
        },
        "peak_rss_mib": peak_all,
        "serving": latency,
        "targets": {"ratio_pipeline_over_duckdb": 1.5, "peak_rss_mib": 8192, "single_case_build_ms": 20},
        "machine": {
            "cpu_count": os.cpu_count(),
            "platform": platform.platform(),
            "python": sys.version.split()[0],
        },
    }
    from features.registry import FEATURES

    result["features"] = len(FEATURES)  # every one of them built in full_pipeline
    result["meets_targets"] = (
        ours_vs_full == 0.0
        and ours_vs_duck <= _AGREE_TOL
        and result["core_subset"]["ratio_pipeline_over_duckdb"] <= 1.5
        and result["peak_rss_mib"] <= 8192
        and latency["single_case_build_ms_median"] <= 20
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
