"""The batch scorer on either engine: per-piece work on the workers, one capacity plan on the driver.

Each task takes one piece of the book (``engine.book``), loads the bundle once per worker
(``engine.bundle_source``), builds features a chunk of cases at a time (memory stays bounded by
``chunk_size`` inside a piece) and returns each case's scores, reasons, per-action values,
eligibility and arm draws (``models.book_decide.case_options``: a few hundred bytes per case).
The driver joins them in loan order and solves the capacity-constrained allocation once over the
whole book (the exact LP of ``models.allocation``), so the book is allocated as one, whatever the
number of pieces or workers. Draws are seeded per case (run seed, loan id), so the output is the
same on ``local`` and ``dask`` and for any cut of the book.

The output is written to ``<out>.partial`` and renamed when complete: a failed run, a killed
driver or a cluster that gives up leaves no output file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from engine.book import Book, Piece, chunk_tables, resolve_as_of
from engine.bundle_source import BundleSource, InMemoryBundle, PendingBundle
from engine.cluster import run_tasks
from models.book_decide import (
    BookChoice,
    CaseOptions,
    allocate_book,
    book_seeds,
    case_options,
    concat_options,
    take,
)
from models.bundle import Bundle
from models.record import arrow_schema
from rollcure.config.engine import EngineConfig
from rollcure.config.features import FeatureConfig
from rollcure.core.errors import InputError

#: The record's batch view (``models.record``).
OUTPUT_SCHEMA = arrow_schema("batch")


@dataclass(frozen=True)
class BatchSummary:
    n_cases: int
    n_chunks: int
    as_of: date
    model_name: str
    model_version: str


def decide_piece(
    piece: Piece, source: BundleSource, feature_cfg: FeatureConfig, seed: int, chunk_size: int
) -> CaseOptions | None:
    """One task: a piece's rows -> features -> per-case options, ``chunk_size`` cases at a time."""
    from features.build import build_features

    try:
        tables, cases = piece.load()
        if len(cases) == 0:
            return None
        parts = []
        for s in range(0, len(cases), chunk_size):
            run = cases.iloc[s : s + chunk_size].reset_index(drop=True)
            X = build_features(chunk_tables(tables, run["loan_id"].to_numpy()), run, feature_cfg)
            parts.append(bundle_options(source.load(), X, seed))  # loaded once: a lookup after
        return concat_options(parts)
    except InputError as exc:  # subclasses with their own __init__ may not unpickle in the driver
        raise InputError(str(exc)) from None


def bundle_options(bundle: Bundle, X: pd.DataFrame, seed: int) -> CaseOptions:
    """The per-case half of the decision for a feature frame, each case seeded by its loan id."""
    loan_ids = np.asarray(X["loan_id"], dtype=np.int64)
    return case_options(bundle, X, book_seeds(seed, loan_ids))


#: Cases per Arrow batch and Parquet row group of the output. The file is written a batch at a
#: time, so the reasons' strings of one batch (tens of MB) exist at once, not the whole book's: on
#: a virtual machine, first touching fresh memory costs more than building the strings
#: (``docs/experiments.md``, "Page faults on a virtual machine").
_SLICE = 256_000


def _texts(values: np.ndarray) -> np.ndarray:
    out = np.array(values, dtype=object)
    out[pd.isna(out)] = None
    return out


def _batch(
    options: CaseOptions, choice: BookChoice, a: int, b: int, model_name: str, version: str
) -> pa.Table:
    """Cases ``a:b`` of the output table."""
    reason_codes, reasons = options.reasons.slice_lists(a, b)
    n = b - a
    columns = {
        "loan_id": pa.array(options.loan_id[a:b].astype(np.int64)),
        "as_of": pa.array(options.as_of[a:b].astype("datetime64[ns]")),
        "p_roll_forward": pa.array(choice.p_roll_forward[a:b].astype(np.float64)),
        "p_cure": pa.array(choice.p_cure[a:b].astype(np.float64)),
        "action": pa.array(_texts(choice.action[a:b]), pa.string()),
        "expected_value": pa.array(choice.expected_value[a:b].astype(np.float64), from_pandas=True),
        "arm": pa.array(choice.arm[a:b].astype(object), pa.string()),
        "propensity": pa.array(choice.propensity[a:b].astype(np.float64), from_pandas=True),
        "reason_codes": reason_codes,
        "reasons": reasons,
        "model_name": pa.array(np.full(n, model_name, dtype=object), pa.string()),
        "model_version": pa.array(np.full(n, version, dtype=object), pa.string()),
    }
    return pa.table(columns, schema=OUTPUT_SCHEMA)


def book_batches(
    options: CaseOptions, choice: BookChoice, model_name: str, version: str
) -> Iterator[pa.Table]:
    """The output (``OUTPUT_SCHEMA``) of a decided book, ``_SLICE`` cases at a time."""
    n = len(options)
    for a in range(0, n, _SLICE):
        yield _batch(options, choice, a, min(a + _SLICE, n), model_name, version)


def write_atomically(batches: Iterable[pa.Table], out: Path) -> None:
    """``out`` appears only complete: the batches (a row group each) are written to
    ``<out>.partial``, which is then renamed."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        with pq.ParquetWriter(partial, OUTPUT_SCHEMA) as writer:
            for batch in batches:
                writer.write_table(batch, row_group_size=_SLICE)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)


def score_book(
    book: Book,
    bundle: Bundle | BundleSource,
    feature_cfg: FeatureConfig,
    out: Path,
    *,
    as_of: date | None,
    chunk_size: int,
    model_name: str,
    seed: int,
    on_chunk: Callable[[int, int], None] | None = None,
    engine: EngineConfig | None = None,
    client: Any = None,
) -> BatchSummary:
    """Score, explain and decide every case overdue at ``as_of`` (default: the latest cycle) of a
    book into the Parquet file ``out``, on ``engine`` (default: this process).

    ``bundle``: a ``Bundle`` (local engine only) or a source workers load it from
    (``engine.bundle_source``). The pieces are the book's partitions, or runs of ``chunk_size``
    cases (``engine.partitions`` runs when set); the capacity plan covers the whole book.
    """
    engine = engine or EngineConfig()
    source = InMemoryBundle(bundle) if isinstance(bundle, Bundle) else bundle
    if engine.kind == "dask" and isinstance(source, (InMemoryBundle, PendingBundle)):
        raise InputError(
            "engine: dask workers load the bundle from a folder or the registry, not from memory"
        )
    when = resolve_as_of(book.cycle_dates(), as_of)
    pieces = book.pieces(when, chunk_size, engine.partitions)
    progress = None if on_chunk is None else (lambda done: on_chunk(done, len(pieces)))
    with ThreadPoolExecutor(max_workers=1) as pool:
        # the driver needs the bundle for the policy's settings: on dask it loads it while the
        # workers work; locally the tasks share this one load and wait for it only when they
        # reach the models, after reading their piece and building its first features
        loading = source if isinstance(source, PendingBundle) else PendingBundle(pool.submit(source.load))
        task_source = loading if engine.kind == "local" else source
        kwargs = {"source": task_source, "feature_cfg": feature_cfg, "seed": seed, "chunk_size": chunk_size}
        results = run_tasks(engine, decide_piece, pieces, on_done=progress, client=client, **kwargs)
        policy = loading.load().policy
    parts = [r for r in results if r is not None]
    version = source.version
    if not parts:
        write_atomically([], out)
        return BatchSummary(0, len(pieces), when.date(), model_name, version)
    options = concat_options(parts)
    if not np.all(options.loan_id[1:] >= options.loan_id[:-1]):  # hash partitions: gather; runs of
        # loans (the local engine's pieces) arrive in loan order, and a copy of every array costs
        # seconds of fresh pages on a 1M-case book
        options = take(options, np.argsort(options.loan_id, kind="stable"))
    choice = allocate_book(options, None if policy is None else policy.config)
    write_atomically(book_batches(options, choice, model_name, version), out)
    return BatchSummary(len(options), len(pieces), when.date(), model_name, version)
