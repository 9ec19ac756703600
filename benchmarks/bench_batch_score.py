"""Batch scoring benchmark: `rollcure score` on N overdue cases (default 1M); prints one JSON document.

    .venv/bin/python benchmarks/bench_batch_score.py --data DIR [--cases 1000000]

DIR is a data folder with a registered ``champion`` and simulated tables (see bench_serving.py).
The book is scaled up by copying the loans overdue at the latest cycle (with the history the
feature windows read) under new loan and borrower ids until it holds N cases at that cycle. The
CLI runs as a child process, so the wall time includes start-up and bundle loading, and the peak
RSS is the child's own high-water mark (``VmHWM``, polled), not counting this process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

HISTORY_DAYS = 400  # longer than every feature window
ID_STRIDE = 10**8


def scaled_book(tables: dict[str, pd.DataFrame], n_cases: int) -> dict[str, pd.DataFrame]:
    """Copies of the latest cycle's overdue loans until there are ``n_cases`` of them."""
    cycles = tables["cycles"]
    latest = cycles["cycle_date"].max()
    base = cycles.loc[(cycles["cycle_date"] == latest) & (cycles["dpd"] > 0), "loan_id"].unique()
    copies = int(np.ceil(n_cases / len(base)))
    keep_from = latest - pd.Timedelta(days=HISTORY_DAYS)
    src = {
        "loans": tables["loans"][tables["loans"]["loan_id"].isin(base)],
        "cycles": cycles[cycles["loan_id"].isin(base) & (cycles["cycle_date"] > keep_from)],
    }
    src["borrowers"] = tables["borrowers"][
        tables["borrowers"]["borrower_id"].isin(src["loans"]["borrower_id"])
    ]
    for name, col in (("contacts", "ts"), ("actions", "decided_at")):
        if name in tables:
            t = tables[name]
            src[name] = t[t["loan_id"].isin(base) & (t[col] > keep_from)]
    out = {}
    for name, frame in src.items():
        reps = []
        for k in range(copies):
            f = frame.copy()
            if "loan_id" in f.columns:
                f["loan_id"] = f["loan_id"] + k * ID_STRIDE
            if "borrower_id" in f.columns:
                f["borrower_id"] = f["borrower_id"] + k * ID_STRIDE
            reps.append(f)
        out[name] = pd.concat(reps, ignore_index=True)
    # Trim to exactly n_cases overdue loans.
    chosen = np.sort(out["loans"]["loan_id"].to_numpy())[:n_cases]
    for name in ("loans", "cycles", "contacts", "actions"):
        if name in out:
            out[name] = out[name][out[name]["loan_id"].isin(chosen)].reset_index(drop=True)
    out["borrowers"] = out["borrowers"][out["borrowers"]["borrower_id"].isin(out["loans"]["borrower_id"])]
    return out


def _high_water_kb(pid: int) -> int:
    """Peak resident set size so far of a running process (VmHWM), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    from rollcure.io import read_tables, write_tables

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--cases", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=None, help="serving.batch_chunk_size override")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rollcure-batch-bench-"))
    try:
        t0 = time.perf_counter()
        book = scaled_book(read_tables(args.data), args.cases)
        write_tables(book, work / "book")
        rows = {k: int(len(v)) for k, v in book.items()}
        prep_s = time.perf_counter() - t0
        env = {**os.environ, "ROLLCURE_DATA_DIR": str(args.data.resolve())}
        cmd = [str(Path(sys.executable).with_name("rollcure")), "score", "--data", str(work / "book")]
        cmd += ["--out", str(work / "scores.parquet")]
        if args.chunk:
            import yaml

            (work / "cfg.yaml").write_text(yaml.safe_dump({"serving": {"batch_chunk_size": args.chunk}}))
            cmd += ["--config", str(work / "cfg.yaml")]
        del book  # the child's figures must not include this process's copy of the book
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        peak_kb = 0
        while proc.poll() is None:
            peak_kb = max(peak_kb, _high_water_kb(proc.pid))
            time.sleep(0.2)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(f"rollcure score failed: {proc.stderr.read()[-2000:]}")
        n = len(pd.read_parquet(work / "scores.parquet", columns=["loan_id"]))
        result = {
            "benchmark": "batch_score_cli",
            "machine": {
                "cpu_count": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "load_average_1m": round(os.getloadavg()[0], 2),
            },
            "cases": n,
            "rows": rows,
            "book_prep_s": round(prep_s, 1),
            "wall_s": round(wall, 1),
            "cases_per_s": round(n / wall, 1),
            "peak_rss_mb": round(peak_kb / 1024, 1),
            "target_cases_per_s": 16000,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
