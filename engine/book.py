"""Where the scorer reads a book from, a piece at a time: in-memory tables, a data folder, or a
folder partitioned by a hash of ``loan_id`` (``engine.partition``).

A *piece* is what one task decides: its raw rows known at the as-of date and its cases. Every
piece holds each of its loans' whole history, so features computed per piece equal features
computed on the whole book. Pieces are plain frozen dataclasses naming paths, so a task shipped to
a dask worker carries a few hundred bytes and the worker reads its own rows (the data must be at
the same path on every worker).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from rollcure.core.errors import InputError

#: Time column of each history table and whether rows stamped exactly at as_of are known then.
HISTORY = {"cycles": ("cycle_date", True), "contacts": ("ts", True), "actions": ("decided_at", False)}


def resolve_as_of(cycles: pd.DataFrame, as_of: object | None) -> pd.Timestamp:
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
    for name, (col, inclusive) in HISTORY.items():
        if name not in tables or tables[name] is None:
            continue
        t = tables[name]
        known = t[col] <= as_of if inclusive else t[col] < as_of
        out[name] = (
            t.loc[known.to_numpy()].sort_values(["loan_id", col], kind="stable").reset_index(drop=True)
        )
    if "loans" in out:
        out["loans"] = out["loans"].sort_values("loan_id", kind="stable").reset_index(drop=True)
    return out


def _slice(sorted_table: pd.DataFrame, lo: int, hi: int) -> pd.DataFrame:
    """Rows with lo <= loan_id <= hi of a table sorted by loan_id (two binary searches)."""
    ids = sorted_table["loan_id"].to_numpy()
    a, b = np.searchsorted(ids, lo, side="left"), np.searchsorted(ids, hi, side="right")
    return sorted_table.iloc[a:b]


def chunk_tables(tables: dict[str, pd.DataFrame], loan_ids: np.ndarray) -> dict[str, pd.DataFrame]:
    """The rows of the loans in [min, max] of ``loan_ids`` (sorted) from loan-sorted tables."""
    lo, hi = int(loan_ids[0]), int(loan_ids[-1])
    out = {name: _slice(tables[name], lo, hi) for name in (*HISTORY, "loans") if tables.get(name) is not None}
    borrowers = tables["borrowers"]
    out["borrowers"] = borrowers.loc[borrowers["borrower_id"].isin(out["loans"]["borrower_id"]).to_numpy()]
    return out


class Piece(Protocol):
    """One task's share of the book: its rows known at the as-of date and its cases (by loan)."""

    def load(self) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]: ...


class Book(Protocol):
    """A book cut into pieces at one as-of date (``pieces``) and its cycle dates."""

    def cycle_dates(self) -> pd.DataFrame: ...

    def pieces(self, as_of: pd.Timestamp, chunk_size: int, n_pieces: int) -> list[Piece]: ...


def _split_cases(cases: pd.DataFrame, chunk_size: int, n_pieces: int) -> list[pd.DataFrame]:
    """Cases sorted by loan in consecutive runs: ``n_pieces`` of them, or of ``chunk_size`` cases."""
    cases = cases.sort_values("loan_id", kind="stable").reset_index(drop=True)
    if len(cases) == 0:
        return []
    size = -(-len(cases) // n_pieces) if n_pieces > 0 else chunk_size
    return [cases.iloc[s : s + size].reset_index(drop=True) for s in range(0, len(cases), size)]


@dataclass(frozen=True)
class TablePiece:
    """A run of cases and their rows, sliced from tables already in memory (local engine only)."""

    known: dict[str, pd.DataFrame]
    cases: pd.DataFrame

    def load(self) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
        return chunk_tables(self.known, self.cases["loan_id"].to_numpy()), self.cases


@dataclass(frozen=True)
class TableBook:
    """Tables already in memory (tests, notebooks) as a book. Not re-validated (the caller read them)."""

    tables: dict[str, pd.DataFrame]

    def cycle_dates(self) -> pd.DataFrame:
        return self.tables["cycles"]

    def pieces(self, as_of: pd.Timestamp, chunk_size: int, n_pieces: int) -> list[Piece]:
        from features.cases import overdue_cases

        known = tables_up_to(self.tables, as_of)
        runs = _split_cases(overdue_cases(self.tables["cycles"], as_of), chunk_size, n_pieces)
        return [TablePiece(known, run) for run in runs]


@dataclass(frozen=True)
class RangePiece:
    """A run of cases of a data folder; the task reads its loan range with pushdown filters."""

    book: ParquetBook
    as_of: pd.Timestamp
    cases: pd.DataFrame

    def load(self) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
        from features.schemas import validate_tables

        tables = self.book.chunk(self.cases["loan_id"].to_numpy(), self.as_of)
        validate_tables(tables)
        return tables, self.cases


def _table_paths(data_dir: Path, suffix: str) -> dict[str, Path]:
    from rollcure.core.io import OPTIONAL_TABLES, TABLES

    if not data_dir.is_dir():
        raise InputError(f"--data: folder not found: {data_dir}")
    paths = {}
    for name in TABLES:
        path = data_dir / f"{name}{suffix}"
        if path.exists():
            paths[name] = path
        elif name not in OPTIONAL_TABLES:
            raise InputError(f"--data: table '{name}' missing ({path.name} not found in {data_dir})")
    return paths


@dataclass(frozen=True)
class ParquetBook:
    """The raw tables of a data folder, read a loan range at a time (pushdown filters): the driver
    reads only the as-of cycle's overdue keys and cuts them into runs of loans ("on the fly")."""

    data_dir: Path

    @property
    def paths(self) -> dict[str, Path]:
        return _table_paths(Path(self.data_dir), ".parquet")

    def __post_init__(self) -> None:
        _ = self.paths  # a missing folder or table is an input error now, not in a worker

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
        paths = self.paths
        out: dict[str, pd.DataFrame] = {}
        for name, (col, inclusive) in HISTORY.items():
            if name in paths:
                known = (col, "<=" if inclusive else "<", as_of.to_pydatetime())
                t = pd.read_parquet(paths[name], filters=[*in_range, known])
                out[name] = t.sort_values(["loan_id", col], kind="stable").reset_index(drop=True)
        loans = pd.read_parquet(paths["loans"], filters=in_range)
        out["loans"] = loans.sort_values("loan_id", kind="stable").reset_index(drop=True)
        wanted = [int(b) for b in pd.unique(out["loans"]["borrower_id"])]
        out["borrowers"] = pd.read_parquet(paths["borrowers"], filters=[("borrower_id", "in", wanted)])
        return out

    def pieces(self, as_of: pd.Timestamp, chunk_size: int, n_pieces: int) -> list[Piece]:
        runs = _split_cases(self.cases_at(as_of), chunk_size, n_pieces)
        return [RangePiece(self, as_of, run) for run in runs]


@dataclass(frozen=True)
class PartitionPiece:
    """Partition ``k`` of a partitioned folder: the task reads the partition's rows known at the
    as-of date and finds its own cases (the driver never reads the cycles table)."""

    data_dir: Path
    k: int
    as_of: pd.Timestamp

    def load(self) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
        from engine.partition import partition_dir
        from features.cases import overdue_cases
        from features.schemas import validate_tables

        out: dict[str, pd.DataFrame] = {}
        for name, path in _table_paths(Path(self.data_dir), "").items():
            part = partition_dir(path, self.k)
            if not part.exists():  # an empty partition of this table
                continue
            window = HISTORY.get(name)
            filters = None
            if window is not None:
                filters = [(window[0], "<=" if window[1] else "<", self.as_of.to_pydatetime())]
            out[name] = pd.read_parquet(part, filters=filters)
        if "cycles" not in out or "loans" not in out:
            return out, overdue_cases(pd.DataFrame({"loan_id": [], "cycle_date": [], "dpd": []}), self.as_of)
        validate_tables(out)
        known = tables_up_to(out, self.as_of)
        return known, overdue_cases(known["cycles"], self.as_of).sort_values("loan_id").reset_index(drop=True)


@dataclass(frozen=True)
class PartitionedBook:
    """A folder written by ``rollcure partition``: one Parquet dataset per table, hive-partitioned by
    ``part = hash(loan_id) % N``; a piece is one partition."""

    data_dir: Path

    def cycle_dates(self) -> pd.DataFrame:
        from engine.partition import read_manifest

        dates = read_manifest(Path(self.data_dir))["cycle_dates"]
        return pd.DataFrame({"cycle_date": pd.to_datetime(pd.Series(dates)).astype("datetime64[ns]")})

    def pieces(self, as_of: pd.Timestamp, chunk_size: int, n_pieces: int) -> list[Piece]:
        from engine.partition import read_manifest

        n = int(read_manifest(Path(self.data_dir))["partitions"])
        return [PartitionPiece(Path(self.data_dir), k, as_of) for k in range(n)]


def open_book(data_dir: Path) -> Book:
    """A partitioned folder (it has the manifest of ``rollcure partition``) or a plain data folder."""
    from engine.partition import is_partitioned

    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"--data: folder not found: {data_dir}")
    return PartitionedBook(data_dir) if is_partitioned(data_dir) else ParquetBook(data_dir)
