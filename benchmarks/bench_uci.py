"""UCI import benchmark: read + check + convert + write, on the shared file and on a larger book.

The file has 20,000 accounts; a user's copy of the full data set has 30,000 and a bank's card book
millions, so the benchmark also tiles the file's rows (fresh IDs) up to ``--accounts``. Prints one
JSON object: seconds per stage, accounts per second and peak memory for each size, and the machine.

    .venv/bin/python benchmarks/bench_uci.py [--csv PATH] [--accounts 500000]
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

import numpy as np

from adapters.uci import convert, read_uci_csv, write_import

DEFAULT_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci_credit_card_dev.csv"


def _stages(csv: Path, out: Path) -> dict:
    t0 = time.perf_counter()
    raw = read_uci_csv(csv)
    t1 = time.perf_counter()
    converted, problems = convert(raw)
    t2 = time.perf_counter()
    write_import(converted, problems, out)
    t3 = time.perf_counter()
    return {
        "accounts": len(raw),
        "read_seconds": round(t1 - t0, 3),
        "check_convert_seconds": round(t2 - t1, 3),
        "write_seconds": round(t3 - t2, 3),
        "accounts_per_second": round(len(raw) / (t3 - t0)),
        "cycles_written": len(converted.tables["cycles"]),
    }


def _tiled_csv(csv: Path, accounts: int, path: Path) -> Path:
    raw = read_uci_csv(csv)
    reps = int(np.ceil(accounts / len(raw)))
    big = raw.loc[np.tile(np.arange(len(raw)), reps)[:accounts]].reset_index(drop=True)
    big["ID"] = np.arange(1, accounts + 1).astype(str)
    big.to_csv(path, index=False)
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--accounts", type=int, default=500_000)
    args = ap.parse_args()
    if not args.csv.is_file():
        sys.exit(f"UCI file absent: {args.csv}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        results = {"shared_file": _stages(args.csv, tmp / "small")}
        big_csv = _tiled_csv(args.csv, args.accounts, tmp / "big.csv")
        results["tiled"] = _stages(big_csv, tmp / "big")
    results["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    results["machine"] = {
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
