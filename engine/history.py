"""Whole loan histories for training: the pieces `rollcure train --engine dask` builds features on.

Training needs every cycle of a loan (labels look one cycle ahead, features look back), not the
rows known at one date, so its pieces are a partition of a partitioned folder or a loan-id range
of a plain one, all dates. The action-response models are still fitted in the driver: it reads
a bounded hash sample of the loans (``read_book_sample``, ``engine.loan_sample``) a piece at a
time, or the whole book (``read_book``) when it has fewer loans than the bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from engine.book import _table_paths
from rollcure.core.errors import InputError


@dataclass(frozen=True)
class HistoryPiece:
    """Every row (all dates) of the loans of one piece, for training: partition ``k`` of a
    partitioned folder, or the loan-id range [lo, hi] of a plain folder (pushdown filters)."""

    data_dir: Path
    k: int | None = None
    lo: int | None = None
    hi: int | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        from engine.partition import partition_dir
        from features.schemas import validate_tables

        out: dict[str, pd.DataFrame] = {}
        if self.k is not None:
            for name, path in _table_paths(Path(self.data_dir), "").items():
                part = partition_dir(path, self.k)
                if part.exists():
                    out[name] = pd.read_parquet(part)
        else:
            in_range = [("loan_id", ">=", self.lo), ("loan_id", "<=", self.hi)]
            paths = _table_paths(Path(self.data_dir), ".parquet")
            for name, path in paths.items():
                if name != "borrowers":
                    out[name] = pd.read_parquet(path, filters=in_range)
            wanted = [int(b) for b in pd.unique(out["loans"]["borrower_id"])]
            out["borrowers"] = pd.read_parquet(paths["borrowers"], filters=[("borrower_id", "in", wanted)])
        if "cycles" in out and len(out["cycles"]):
            validate_tables(out)
        return out


def history_pieces(data_dir: Path, n_pieces: int) -> list[HistoryPiece]:
    """The pieces training builds features on: the partitions of a partitioned folder, or
    ``n_pieces`` loan-id ranges of equal loan counts of a plain one (only loan ids are read)."""
    from engine.partition import is_partitioned, read_manifest

    data_dir = Path(data_dir)
    if is_partitioned(data_dir):
        return [HistoryPiece(data_dir, k=k) for k in range(int(read_manifest(data_dir)["partitions"]))]
    paths = _table_paths(data_dir, ".parquet")
    ids = np.sort(pd.read_parquet(paths["loans"], columns=["loan_id"])["loan_id"].to_numpy())
    if len(ids) == 0:
        raise InputError(f"--data: no loans in {data_dir}")
    runs = np.array_split(ids, max(1, min(n_pieces, len(ids))))
    return [HistoryPiece(data_dir, lo=int(r[0]), hi=int(r[-1])) for r in runs if len(r)]


def read_book(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Every table of a plain or partitioned folder in this process (the driver's policy fit)."""
    from engine.partition import PART, is_partitioned
    from rollcure.core.io import read_tables

    data_dir = Path(data_dir)
    if not is_partitioned(data_dir):
        return read_tables(data_dir)
    out = {}
    for name, path in _table_paths(data_dir, "").items():
        t = pd.read_parquet(path)
        t = t.drop(columns=[PART]) if PART in t.columns else t
        out[name] = t.drop_duplicates("borrower_id") if name == "borrowers" else t
    return out


def book_loan_count(data_dir: Path) -> int:
    """Loans in a plain or partitioned folder (one column read)."""
    from engine.partition import is_partitioned

    data_dir = Path(data_dir)
    path = _table_paths(data_dir, "" if is_partitioned(data_dir) else ".parquet")["loans"]
    return int(pd.read_parquet(path, columns=["loan_id"])["loan_id"].nunique())


def read_book_sample(data_dir: Path, share: float, n_pieces: int = 16) -> dict[str, pd.DataFrame]:
    """The tables of the loans ``engine.loan_sample.kept`` keeps at ``share``, read a piece at a
    time so this process never holds more than one piece beyond the sample (``read_book`` when the
    share is the whole book)."""
    from engine.loan_sample import cut_to_sample
    from engine.partition import PART

    if share >= 1.0:
        return read_book(data_dir)
    parts: dict[str, list[pd.DataFrame]] = {}
    for piece in history_pieces(Path(data_dir), n_pieces):
        for name, table in cut_to_sample(piece.tables(), share).items():
            parts.setdefault(name, []).append(table)
    out = {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}
    parts.clear()
    out = {name: t.drop(columns=[PART]) if PART in t.columns else t for name, t in out.items()}
    if "borrowers" in out:
        out["borrowers"] = out["borrowers"].drop_duplicates("borrower_id", ignore_index=True)
    return out


def book_table_rows(data_dir: Path, name: str) -> int:
    """Rows of one table of a plain or partitioned folder (Parquet metadata only; 0 when an
    optional table is absent)."""
    import pyarrow.dataset as ds

    from engine.partition import is_partitioned

    data_dir = Path(data_dir)
    path = data_dir / (name if is_partitioned(data_dir) else f"{name}.parquet")
    return ds.dataset(path).count_rows() if path.exists() else 0
