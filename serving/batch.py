"""`rollcure score`: every case overdue at one cycle, scored, explained and decided in chunks.

Memory stays bounded by the chunk size: from a data folder only the cycle dates and the as-of
cycle's overdue rows are read whole; each chunk of cases (sorted by loan) reads just its loans'
rows known at the as-of date, with Parquet pushdown filters, and goes through the same
``build_features`` -> bundle -> policy path as the HTTP service. In-memory tables (tests,
notebooks) are a ``TableBook``, sliced with a binary search per table instead. Both are a ``Book``
given to the one scorer, :func:`score_book`, so its settings are declared once. The output is
appended to one Parquet file chunk by chunk, in chunk order. Chunks can be decided in several
processes (``serving.batch_pool``): each loads the bundle once and reads its own chunks' rows.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from models.bundle import Bundle
from models.policy import Decisions
from models.record import arrow_schema
from rollcure.config.features import FeatureConfig
from rollcure.core.errors import InputError
from serving.pipeline import decide_cases

if TYPE_CHECKING:
    from rollcure.config import RollcureConfig

#: One chunk's raw tables from the loan ids of its cases (sorted).
ChunkLoader = Callable[[np.ndarray], dict[str, pd.DataFrame]]

#: Time column of each history table and whether rows stamped exactly at as_of are known then.
_HISTORY = {"cycles": ("cycle_date", True), "contacts": ("ts", True), "actions": ("decided_at", False)}

#: The record's batch view (``models.record``).
OUTPUT_SCHEMA = arrow_schema("batch")


@dataclass(frozen=True)
class BatchSummary:
    n_cases: int
    n_chunks: int
    as_of: date
    model_name: str
    model_version: str


def resolve_as_of(cycles: pd.DataFrame, as_of: date | None) -> pd.Timestamp:
    """The requested cycle date, or the latest one; a date with no cycle rows is an input error."""
    dates = pd.to_datetime(cycles["cycle_date"])
    if dates.empty:
        raise InputError("cycles: table is empty, nothing to score")
    if as_of is None:
        return pd.Timestamp(dates.max())
    when = pd.Timestamp(as_of)
    if not (dates == when).any():
        raise InputError(
            f"--as-of: {when.date()} is not a cycle date of the data "
            f"(cycles run {dates.min().date()} .. {dates.max().date()})"
        )
    return when


def tables_up_to(tables: dict[str, pd.DataFrame], as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """History rows known at ``as_of`` only, each history table sorted by loan for slicing."""
    out = dict(tables)
    for name, (col, inclusive) in _HISTORY.items():
        if name not in tables or tables[name] is None:
            continue
        t = tables[name]
        known = t[col] <= as_of if inclusive else t[col] < as_of
        out[name] = (
            t.loc[known.to_numpy()].sort_values(["loan_id", col], kind="stable").reset_index(drop=True)
        )
    return out


def _slice(sorted_table: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    """Rows with lo <= loan_id <= hi of a table sorted by loan_id (two binary searches)."""
    ids = sorted_table["loan_id"].to_numpy()
    a, b = np.searchsorted(ids, lo, side="left"), np.searchsorted(ids, hi, side="right")
    return sorted_table.iloc[a:b]


def chunk_tables(tables: dict[str, pd.DataFrame], loan_ids: np.ndarray) -> dict[str, pd.DataFrame]:
    """The rows of the loans in one chunk (``loan_ids`` sorted) from loan-sorted tables."""
    lo, hi = int(loan_ids[0]), int(loan_ids[-1])
    out = {
        name: _slice(tables[name], lo, hi) for name in (*_HISTORY, "loans") if tables.get(name) is not None
    }
    borrowers = tables["borrowers"]
    out["borrowers"] = borrowers.loc[borrowers["borrower_id"].isin(out["loans"]["borrower_id"]).to_numpy()]
    return out


def _arrow_lists(offsets: np.ndarray, values: np.ndarray) -> pa.Array:
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), pa.array(values.astype(str), pa.string()))


def decisions_to_arrow(decisions: Decisions, model_name: str, model_version: str) -> pa.Table:
    """One chunk's output table in ``OUTPUT_SCHEMA``."""
    n = len(decisions)
    reasons = decisions.reason_lists()
    columns = {
        "loan_id": pa.array(np.asarray(decisions["loan_id"], dtype=np.int64)),
        "as_of": pa.array(np.asarray(decisions["as_of"], dtype="datetime64[ns]")),
        "p_roll_forward": pa.array(_floats(decisions["p_roll_forward"])),
        "p_cure": pa.array(_floats(decisions["p_cure"])),
        "action": pa.array(_texts(decisions["action"]), pa.string()),
        "expected_value": pa.array(_floats(decisions["expected_value"]), from_pandas=True),
        "arm": pa.array(np.asarray(decisions["arm"], dtype=object), pa.string()),
        "propensity": pa.array(_floats(decisions["propensity"]), from_pandas=True),
        "reason_codes": _arrow_lists(reasons.offsets, reasons.codes),
        "reasons": _arrow_lists(reasons.offsets, reasons.texts),
        "model_name": pa.array(np.full(n, model_name, dtype=object), pa.string()),
        "model_version": pa.array(np.full(n, model_version, dtype=object), pa.string()),
    }
    return pa.table(columns, schema=OUTPUT_SCHEMA)


def _floats(values: np.ndarray) -> np.ndarray:
    return np.asarray(values, dtype=np.float64)


def _texts(values: np.ndarray) -> np.ndarray:
    """Strings as objects, anything missing (None or NaN) as None."""
    out = np.array(values, dtype=object)  # a copy: the decisions' arrays stay as they are
    out[pd.isna(out)] = None
    return out


def chunk_seed(seed: int, k: int) -> int:
    """The arm-draw seed of chunk ``k``: a function of (seed, k) only, so the output does not depend on
    which worker decides the chunk; hashed so that run ``seed`` and run ``seed + 1`` share no chunk
    stream (``seed + k`` would)."""
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0])


@dataclass(frozen=True)
class _Chunks:
    """What deciding a chunk needs besides its cases; pickled once to each worker process."""

    load: ChunkLoader
    bundle: Bundle
    feature_cfg: FeatureConfig
    model_name: str
    version: str
    seed: int

    def decide(self, k: int, cases: pd.DataFrame) -> pa.Table:
        """Chunk ``k``: its rows -> features -> decisions, as an output table."""
        from features.build import build_features

        X = build_features(self.load(cases["loan_id"].to_numpy()), cases, self.feature_cfg)
        decisions = decide_cases(self.bundle, X, chunk_seed(self.seed, k))
        return decisions_to_arrow(decisions, self.model_name, self.version)


_WORKER: dict[str, _Chunks] = {}


def _install(chunks: _Chunks) -> None:
    _WORKER["chunks"] = chunks


def _decide_in_worker(job: tuple[int, pd.DataFrame]) -> pa.Table:
    try:
        return _WORKER["chunks"].decide(*job)
    except InputError as exc:  # subclasses with their own __init__ may not unpickle in the parent
        raise InputError(str(exc)) from None


def _score_chunks(
    cases: pd.DataFrame,
    chunks: _Chunks,
    out: Path,
    chunk_size: int,
    workers: int,
    on_chunk: Callable[[int, int], None] | None,
) -> int:
    """Cases (sorted by loan) in chunks, decided in ``workers`` processes (1: in this one) and
    written in chunk order, so the file is the same whatever the number of workers.

    The file appears only when complete: chunks go to ``<out>.partial``, renamed at the end.
    """
    from serving.batch_pool import ordered_map, worker_count

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    starts = range(0, len(cases), chunk_size)
    jobs = ((k, cases.iloc[s : s + chunk_size].reset_index(drop=True)) for k, s in enumerate(starts))
    n_workers = worker_count(workers, len(starts))
    tables: Generator[pa.Table, None, None]
    if n_workers > 1:
        tables = ordered_map(_decide_in_worker, jobs, n_workers, _install, (chunks,))
    else:
        tables = (chunks.decide(k, c) for k, c in jobs)
    try:
        with pq.ParquetWriter(partial, OUTPUT_SCHEMA) as writer:
            done = 0
            for table in tables:
                writer.write_table(table)
                done += table.num_rows
                if on_chunk is not None:
                    on_chunk(done, len(cases))
            if len(cases) == 0:
                writer.write_table(OUTPUT_SCHEMA.empty_table())
        partial.replace(out)
    finally:
        tables.close()  # on an error: stops the workers and drops the chunks in flight
        partial.unlink(missing_ok=True)
    return len(starts)


def _version_of(bundle: Bundle) -> str:
    return str(bundle.metadata.get("registered_version", "unregistered"))


class Book(Protocol):
    """Where :func:`score_book` reads a book from: its cycle dates, the cases overdue at one of them,
    and a picklable loader of one chunk's rows known at that date (sorted like ``tables_up_to``)."""

    def cycle_dates(self) -> pd.DataFrame: ...

    def cases_at(self, as_of: pd.Timestamp) -> pd.DataFrame: ...

    def loader(self, as_of: pd.Timestamp) -> ChunkLoader: ...


@dataclass(frozen=True)
class _TableChunk:
    """One chunk's rows sliced from tables already cut at the as-of date and sorted by loan."""

    known: dict[str, pd.DataFrame]

    def __call__(self, loan_ids: np.ndarray) -> dict[str, pd.DataFrame]:
        return chunk_tables(self.known, loan_ids)


@dataclass(frozen=True)
class TableBook:
    """Tables already in memory (tests, notebooks) as a book: cut at the as-of date once, then each
    chunk is sliced with two binary searches per table. Not re-validated (the caller read them)."""

    tables: dict[str, pd.DataFrame]

    def cycle_dates(self) -> pd.DataFrame:
        return self.tables["cycles"]

    def cases_at(self, as_of: pd.Timestamp) -> pd.DataFrame:
        from features.cases import overdue_cases

        return overdue_cases(self.tables["cycles"], as_of)

    def loader(self, as_of: pd.Timestamp) -> ChunkLoader:
        known = tables_up_to(self.tables, as_of)
        known["loans"] = known["loans"].sort_values("loan_id", kind="stable").reset_index(drop=True)
        return _TableChunk(known)


class ParquetBook:
    """The raw tables of a data folder, read a loan range at a time (pushdown filters), so the batch
    scorer never holds the whole book: only case keys and one chunk's rows are in memory."""

    def __init__(self, data_dir: Path) -> None:
        from rollcure.core.io import OPTIONAL_TABLES, TABLES

        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise InputError(f"--data: folder not found: {data_dir}")
        self.paths = {name: data_dir / f"{name}.parquet" for name in TABLES}
        for name, path in list(self.paths.items()):
            if not path.is_file():
                if name not in OPTIONAL_TABLES:
                    raise InputError(f"--data: table '{name}' missing ({path.name} not found in {data_dir})")
                del self.paths[name]

    def cycle_dates(self) -> pd.DataFrame:
        """The distinct cycle dates of the book (one column read)."""
        dates = pd.read_parquet(self.paths["cycles"], columns=["cycle_date"])["cycle_date"]
        return pd.DataFrame({"cycle_date": pd.Series(dates.unique())})

    def cases_at(self, as_of: pd.Timestamp) -> pd.DataFrame:
        """Cases overdue at ``as_of`` (only that cycle's overdue rows are read)."""
        from features.cases import overdue_cases

        known = [("cycle_date", "==", as_of.to_pydatetime()), ("dpd", ">", 0)]
        rows = pd.read_parquet(self.paths["cycles"], columns=["loan_id", "cycle_date", "dpd"], filters=known)
        return overdue_cases(rows, as_of)

    def chunk(self, loan_ids: np.ndarray, as_of: pd.Timestamp) -> dict[str, pd.DataFrame]:
        """Rows of the loans in [min, max] of ``loan_ids`` known at ``as_of``, sorted like tables_up_to."""
        lo, hi = int(loan_ids[0]), int(loan_ids[-1])
        in_range = [("loan_id", ">=", lo), ("loan_id", "<=", hi)]
        out: dict[str, pd.DataFrame] = {}
        for name, (col, inclusive) in _HISTORY.items():
            if name in self.paths:
                known = (col, "<=" if inclusive else "<", as_of.to_pydatetime())
                t = pd.read_parquet(self.paths[name], filters=[*in_range, known])
                out[name] = t.sort_values(["loan_id", col], kind="stable").reset_index(drop=True)
        loans = pd.read_parquet(self.paths["loans"], filters=in_range)
        out["loans"] = loans.sort_values("loan_id", kind="stable").reset_index(drop=True)
        wanted = [int(b) for b in pd.unique(out["loans"]["borrower_id"])]
        out["borrowers"] = pd.read_parquet(self.paths["borrowers"], filters=[("borrower_id", "in", wanted)])
        return out

    def loader(self, as_of: pd.Timestamp) -> ChunkLoader:
        return _BookChunk(self, as_of)


@dataclass(frozen=True)
class _BookChunk:
    """Loads and validates one chunk's rows from the book; picklable, so each worker reads its own."""

    book: ParquetBook
    as_of: pd.Timestamp

    def __call__(self, loan_ids: np.ndarray) -> dict[str, pd.DataFrame]:
        from features.schemas import validate_tables

        tables = self.book.chunk(loan_ids, self.as_of)
        validate_tables(tables)
        return tables


def score_book(
    book: Book,
    bundle: Bundle,
    feature_cfg: FeatureConfig,
    out: Path,
    *,
    as_of: date | None,
    chunk_size: int,
    model_name: str,
    seed: int,
    on_chunk: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> BatchSummary:
    """Score, explain and decide every case overdue at ``as_of`` (default: the latest cycle) of a
    book (a ``ParquetBook`` data folder or a ``TableBook`` of in-memory tables), one chunk of loans
    at a time, into the Parquet file ``out``.

    ``seed`` drives the policy's arm draw (chunk ``k`` uses :func:`chunk_seed`), so reruns are
    identical. With ``workers`` > 1 (0: one per core) chunks are decided in that many processes,
    each loading its chunks' rows itself; the parent only sends case keys and writes results in
    chunk order, so the file does not depend on the number of workers.
    """
    when = resolve_as_of(book.cycle_dates(), as_of)
    cases = book.cases_at(when).sort_values("loan_id", kind="stable").reset_index(drop=True)
    version = _version_of(bundle)
    chunks = _Chunks(book.loader(when), bundle, feature_cfg, model_name, version, seed)
    n_chunks = _score_chunks(cases, chunks, out, chunk_size, workers, on_chunk)
    return BatchSummary(len(cases), n_chunks, when.date(), model_name, version)


def score_portfolio(
    cfg: RollcureConfig,
    data_dir: Path,
    out: Path,
    as_of: date | None,
    model: str,
    on_chunk: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> BatchSummary:
    """Load the registry bundle ``model`` and score the data folder with :func:`score_book`
    (``workers`` None: ``serving.batch_workers``)."""
    from registry.store import load_bundle

    book = ParquetBook(Path(data_dir))
    bundle = load_bundle(cfg, model)
    return score_book(
        book,
        bundle,
        cfg.features,
        out,
        as_of=as_of,
        chunk_size=cfg.serving.batch_chunk_size,
        model_name=cfg.training.registered_model,
        seed=cfg.seed,
        on_chunk=on_chunk,
        workers=cfg.serving.batch_workers if workers is None else workers,
    )
