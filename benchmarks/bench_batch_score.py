"""Batch scoring benchmark: `rollcure score` on the engines, 1 vs 2 dask workers side by side; one JSON.

    .venv/bin/python benchmarks/bench_batch_score.py --data DIR [--cases 1000000] [--small-cases 200000]
        [--partitions 16] [--memory-limit auto] [--ceiling-rows 50000] [--skip-full]
    .venv/bin/python benchmarks/bench_batch_score.py --data DIR --memory-book-copies 200 --memory-limit 1GiB

DIR is a data folder with a registered ``champion`` and simulated tables (see bench_serving.py).
The book is scaled up by copying the loans overdue at the latest cycle (with the history the
feature windows read) under new loan and borrower ids until it holds N cases at that cycle, then
cut into ``--partitions`` hash partitions by ``rollcure partition``. Runs, side by side in one
process so they share the machine's load: on the small book ``--engine local`` (the reference),
then ``--engine dask`` on a LocalCluster of 1 and of 2 workers (like for like; every output is
checked equal to the reference), then 2 workers on the full book. The CLI runs as a child
process, so the wall time includes start-up, cluster start, bundle loading on every worker and
the driver's capacity plan. Peak RSS is each process's own high-water mark (``VmHWM``, polled
every 0.2 s) in the CLI's process tree: the driver (the CLI) and each worker process, reported
separately ("per worker") and summed (an upper bound on the simultaneous peak). With
``--memory-limit`` low, the same runs show that a worker spills instead of dying. The ceiling is
exact TreeSHAP, which the scorer runs for every case (``models.explain``; LightGBM's
``pred_contrib`` beside it for reference), on the real feature matrix of the book's first cases,
1 and 2 threads (``--ceiling-rows 0`` skips it). ``--memory-book-copies K`` runs only the
memory-bound case: K whole copies of the source book (its full cycle history, so the cycles table
is large while the cases at the latest cycle are few), partitioned, scored by 2 workers capped at
``--memory-limit``.
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
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from process_peaks import tree_peaks

HISTORY_DAYS = 400  # longer than every feature window
TARGET_CASES_PER_S = 16_000  # issue 6
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


def run_cli(book: Path, out: Path, engine: str, workers: int, env: dict, config: Path | None) -> dict:
    """One timed `rollcure score` run: wall time, cases/s, the driver's and each worker's peak RSS."""
    cmd = [str(Path(sys.executable).with_name("rollcure")), "score", "--data", str(book), "--out", str(out)]
    cmd += ["--engine", engine, "--workers", str(workers)] + (["--config", str(config)] if config else [])
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks = tree_peaks(proc)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"rollcure score failed: {proc.stderr.read()[-2000:]}")
    n = pq.ParquetFile(out).metadata.num_rows
    driver = peaks.pop(proc.pid, 0)
    # the worker processes are the large children (multiprocessing's resource tracker is ~20 MB)
    children = sorted(peaks.values(), reverse=True)
    per_worker = children[:workers] if engine == "dask" else []
    return {
        "engine": engine,
        "workers": workers if engine == "dask" else 0,
        "cases": n,
        "wall_s": round(wall, 1),
        "cases_per_s": round(n / wall, 1),
        "peak_rss_mb_driver": round(driver / 1024, 1),
        "peak_rss_mb_per_worker": [round(kb / 1024, 1) for kb in per_worker],
        "peak_rss_mb_tree_sum": round((driver + sum(children)) / 1024, 1),
        "processes_seen": len(peaks) + 1,
        "load_average_1m_before": round(load, 2),
    }


def treeshap_ceiling(data_dir: Path, book: Path, rows: int, repeats: int = 3) -> dict:
    """Rows/s of exact TreeSHAP on the decision-reason model alone, 1 and 2 threads, best of repeats.

    The matrix is what the scorer feeds LightGBM: the book's first ``rows`` cases through the same
    chunk reader and ``build_features``, converted once outside the timing.
    """
    from features.build import build_features
    from models.policy import DECISION_REASON_TARGET
    from registry.store import load_bundle
    from rollcure.config import load_config
    from serving.batch import ParquetBook, resolve_as_of

    cfg = load_config(None, data_dir=data_dir)
    bundle = load_bundle(cfg, cfg.serving.model_alias)
    reader = ParquetBook(book)
    when = resolve_as_of(reader.cycle_dates(), None)
    cases = reader.cases_at(when).sort_values("loan_id", kind="stable").head(rows).reset_index(drop=True)
    X = build_features(reader.chunk(cases["loan_id"].to_numpy(), when), cases, cfg.features)
    clf = bundle.scorers[DECISION_REASON_TARGET].model
    matrix = clf.matrix(X)
    trees = clf.booster_.dump_model(num_iteration=clf.best_iteration_)["tree_info"]
    result = {
        "model": DECISION_REASON_TARGET,
        "rows": len(matrix),
        "features": matrix.shape[1],
        "trees": len(trees),
        "max_leaves": max(t["num_leaves"] for t in trees),
        "load_average_1m_before": round(os.getloadavg()[0], 2),
    }
    for threads in (1, 2):
        suffix = f"{threads}_thread{'s' if threads > 1 else ''}"
        calls = {
            "": partial(clf.contributions, matrix, threads=threads),  # what the scorer runs
            "pred_contrib_": partial(
                clf.booster_.predict, matrix, pred_contrib=True, num_iteration=clf.best_iteration_
            ),
        }
        for prefix, call in calls.items():
            best = np.inf
            for _ in range(repeats):
                t0 = time.perf_counter()
                call() if prefix == "" else call(num_threads=threads)
                best = min(best, time.perf_counter() - t0)
            result[f"{prefix}rows_per_s_{suffix}"] = round(len(matrix) / best, 1)
    return result


def memory_bound_run(data: Path, copies: int, partitions: int, limit: str, env: dict) -> dict:
    """A long-history book (``copies`` whole copies of the source: every loan, every cycle) whose
    cycles table is several times one worker's ``limit``, scored by 2 workers capped at it."""
    import yaml
    from bench_dask_train import write_copies

    from engine.partition import partition_book

    work = Path(tempfile.mkdtemp(prefix="rollcure-memory-bench-"))
    try:
        rows = write_copies(data, work / "plain", copies)
        # in memory as pandas: the source's size times the copies (not loaded here: it is the point)
        cycles_mb = pd.read_parquet(data / "cycles.parquet").memory_usage(deep=True).sum() * copies
        partition_book(work / "plain", work / "book", partitions)
        shutil.rmtree(work / "plain")
        config = work / "cfg.yaml"
        config.write_text(yaml.safe_dump({"engine": {"memory_limit": limit}}))
        run = run_cli(work / "book", work / "out.parquet", "dask", 2, env, config)
        return {
            "copies_of_source_book": copies,
            "rows": rows,
            "cycles_in_memory_mb": round(cycles_mb / 2**20, 1),
            "memory_limit_per_worker": limit,
            "partitions": partitions,
            "run": run,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _same_output(a: Path, b: Path) -> bool:
    return pq.read_table(a).equals(pq.read_table(b))


def main() -> None:
    from engine.partition import partition_book
    from rollcure.core.io import read_tables, write_tables

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--cases", type=int, default=1_000_000, help="cases of the full run (2 workers)")
    ap.add_argument("--small-cases", type=int, default=200_000, help="cases of the 1 vs 2 workers runs")
    ap.add_argument("--partitions", type=int, default=16, help="hash partitions of each book")
    ap.add_argument("--memory-limit", default="auto", help="engine.memory_limit of each worker")
    ap.add_argument("--ceiling-rows", type=int, default=50_000, help="rows of the TreeSHAP timing; 0 skips")
    ap.add_argument("--chunk", type=int, default=None, help="serving.batch_chunk_size override")
    ap.add_argument("--skip-full", action="store_true", help="only the small book (1 vs 2 workers)")
    ap.add_argument("--memory-book-copies", type=int, default=0, help="only the memory-bound run: copies")
    ap.add_argument("--memory-book-partitions", type=int, default=32)
    args = ap.parse_args()
    if args.memory_book_copies:
        env = {**os.environ, "ROLLCURE_DATA_DIR": str(args.data.resolve())}
        result = memory_bound_run(
            args.data, args.memory_book_copies, args.memory_book_partitions, args.memory_limit, env
        )
        print(json.dumps({"benchmark": "batch_score_memory_bound", **result}, indent=1))
        return

    work = Path(tempfile.mkdtemp(prefix="rollcure-batch-bench-"))
    try:
        t0 = time.perf_counter()
        tables = read_tables(args.data)
        rows, disk_mb = {}, {}
        sizes = [("small", args.small_cases)] + ([] if args.skip_full else [("full", args.cases)])
        for name, n in sizes:
            book = scaled_book(tables, n)
            write_tables(book, work / f"{name}-plain")
            rows[name] = {k: int(len(v)) for k, v in book.items()}
            rows[name]["cycles_in_memory_mb"] = round(book["cycles"].memory_usage(deep=True).sum() / 2**20, 1)
            partition_book(work / f"{name}-plain", work / name, args.partitions)
            if name != "small":  # the TreeSHAP ceiling reads the small book's plain folder
                shutil.rmtree(work / f"{name}-plain")
            disk_mb[name] = round(
                sum(p.stat().st_size for p in (work / name).rglob("*") if p.is_file()) / 2**20, 1
            )
        del tables, book  # the child's figures must not include this process's copy of the book
        prep_s = time.perf_counter() - t0
        env = {**os.environ, "ROLLCURE_DATA_DIR": str(args.data.resolve())}
        import yaml

        config = work / "cfg.yaml"
        settings: dict = {"engine": {"memory_limit": args.memory_limit}}
        if args.chunk:
            settings["serving"] = {"batch_chunk_size": args.chunk}
        config.write_text(yaml.safe_dump(settings))
        outs = {k: work / f"{k}.parquet" for k in ("local", "w1", "w2", "full")}
        load_start = os.getloadavg()[0]
        runs = [run_cli(work / "small", outs["local"], "local", 0, env, config)]
        runs += [run_cli(work / "small", outs[f"w{w}"], "dask", w, env, config) for w in (1, 2)]
        identical = all(_same_output(outs["local"], outs[k]) for k in ("w1", "w2"))
        ceiling = None
        if args.ceiling_rows:
            ceiling = treeshap_ceiling(args.data, work / "small-plain", args.ceiling_rows)
        if not args.skip_full:
            runs.append(run_cli(work / "full", outs["full"], "dask", 2, env, config))
        result = {
            "benchmark": "batch_score_engines",
            "machine": {
                "cpu_count": os.cpu_count(),
                "usable_cores": len(os.sched_getaffinity(0)),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "load_average_1m_start": round(load_start, 2),
                "load_average_1m_end": round(os.getloadavg()[0], 2),
            },
            "sizes_note": "full run skipped (--skip-full)" if args.skip_full else "small and full books",
            "chunk_size": args.chunk or "config default",
            "partitions": args.partitions,
            "memory_limit_per_worker": args.memory_limit,
            "rows": rows,
            "partitioned_on_disk_mb": disk_mb,
            "book_prep_s": round(prep_s, 1),
            "runs": runs,
            "dask_outputs_identical_to_local": identical,
            "peak_rss_note": "VmHWM per process (polled 0.2 s); tree sum is an upper bound of the joint peak",
            "speedup_2_vs_1_workers_same_book": round(runs[2]["cases_per_s"] / runs[1]["cases_per_s"], 2),
            "treeshap_ceiling": ceiling,
            "target_cases_per_s": TARGET_CASES_PER_S,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
