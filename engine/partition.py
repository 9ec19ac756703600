"""`rollcure partition`: a data folder rewritten as Parquet datasets partitioned by a hash of loan_id.

Every feature is a function of one loan's history (and its borrower), so if each loan's whole
history sits in one partition, a worker can build features, scores and per-action values for its
partition alone. The hash (``splitmix64(loan_id) % N``) spreads loans evenly whatever their id
pattern; borrowers are copied into each partition holding one of their loans (they are few and
small). Tables are streamed in record batches, so the folder can be larger than this machine's
memory except for the loans table (one row per loan), which maps borrowers to partitions.

Layout: ``OUT/<table>/part=<k>/*.parquet`` per table plus ``OUT/_rollcure_partitions.json`` (the
number of partitions, the hash, the book's cycle dates), which marks the folder as partitioned.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from models.draws import splitmix64
from rollcure.core.errors import InputError

MANIFEST = "_rollcure_partitions.json"
PART = "part"
HASH = "splitmix64(loan_id) % partitions"
#: Rows per record batch streamed from a source table.
BATCH_ROWS = 1 << 20
#: Rows the writer may hold back across all partitions to fill row groups (bounds its memory).
BUFFER_ROWS = 1 << 23


def rows_per_group(partitions: int) -> int:
    """The smallest row group the writer closes: a batch spread over N partitions is N pieces of
    about ``BATCH_ROWS / N`` rows, and written as they come they made row groups of a few hundred
    rows (at 128 partitions, 255 rows: a file of metadata and poorly compressed columns, slower to
    write and to read). Held back to this size instead, within ``BUFFER_ROWS`` for the writer."""
    return int(np.clip(BUFFER_ROWS // max(partitions, 1), 1 << 10, 1 << 17))


def partition_of(loan_ids: np.ndarray, partitions: int) -> np.ndarray:
    """The partition of each loan id: ``splitmix64(loan_id) % partitions`` (int32)."""
    return (splitmix64(np.asarray(loan_ids).astype(np.uint64)) % np.uint64(partitions)).astype(np.int32)


def partition_dir(table_dir: Path, k: int) -> Path:
    return Path(table_dir) / f"{PART}={k}"


def is_partitioned(data_dir: Path) -> bool:
    return (Path(data_dir) / MANIFEST).is_file()


def read_manifest(data_dir: Path) -> dict:
    path = Path(data_dir) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"--data: {path.name} in {data_dir} is not readable JSON") from exc
    if not isinstance(manifest.get("partitions"), int) or manifest["partitions"] < 1:
        raise InputError(f"--data: {path.name}: 'partitions' must be a positive integer")
    return manifest


def _with_part(batch: pa.RecordBatch, parts: np.ndarray) -> pa.RecordBatch:
    return batch.append_column(PART, pa.array(parts, pa.int32()))


def _write(batches, schema: pa.Schema, out: Path, partitions: int) -> None:
    ds.write_dataset(
        batches,
        out,
        schema=schema.append(pa.field(PART, pa.int32())),
        format="parquet",
        partitioning=ds.partitioning(pa.schema([(PART, pa.int32())]), flavor="hive"),
        existing_data_behavior="error",
        preserve_order=True,
        max_partitions=1 << 16,
        min_rows_per_group=rows_per_group(partitions),
        max_rows_per_group=max(rows_per_group(partitions), BATCH_ROWS),
    )


def _loan_table(src: Path, out: Path, partitions: int) -> tuple[np.ndarray, np.ndarray]:
    """Stream one loan-keyed table into its dataset; returns (loan_id, part) only for ``loans``."""
    f = pq.ParquetFile(src)
    keep_ids = src.stem == "loans"
    ids: list[np.ndarray] = []
    borrowers: list[np.ndarray] = []

    def batches():
        for batch in f.iter_batches(batch_size=BATCH_ROWS):
            loan_ids = batch.column("loan_id").to_numpy(zero_copy_only=False)
            parts = partition_of(loan_ids, partitions)
            if keep_ids:
                ids.append(parts)
                borrowers.append(batch.column("borrower_id").to_numpy(zero_copy_only=False))
            yield _with_part(batch, parts)

    _write(batches(), f.schema_arrow, out / src.stem, partitions)
    if not keep_ids:
        return np.empty(0, np.int64), np.empty(0, np.int32)
    return np.concatenate(borrowers) if borrowers else np.empty(0, np.int64), (
        np.concatenate(ids) if ids else np.empty(0, np.int32)
    )


def _borrowers(src: Path, out: Path, borrower_ids: np.ndarray, parts: np.ndarray, partitions: int) -> None:
    """Each borrower row once per partition holding one of its loans."""
    pairs = np.unique(np.stack([borrower_ids.astype(np.int64), parts.astype(np.int64)], axis=1), axis=0)
    table = pq.read_table(src)
    keys = pa.table(
        {
            "borrower_id": pa.array(pairs[:, 0], table.schema.field("borrower_id").type),
            PART: pa.array(pairs[:, 1].astype(np.int32)),
        }
    )
    joined = table.join(keys, "borrower_id", join_type="inner").sort_by(
        [(PART, "ascending"), ("borrower_id", "ascending")]
    )
    _write(joined.to_batches(), table.schema, out / "borrowers", partitions)


def _cycle_dates(src: Path) -> list[str]:
    f = pq.ParquetFile(src)
    seen: set = set()
    for batch in f.iter_batches(batch_size=BATCH_ROWS, columns=["cycle_date"]):
        seen.update(pc.unique(batch.column(0)).to_pylist())
    return sorted(str(np.datetime64(d, "ns")) for d in seen)


def partition_book(data_dir: Path, out: Path, partitions: int) -> dict:
    """Rewrite the raw tables of ``data_dir`` as hash-partitioned datasets under ``out``; returns the
    manifest. ``out`` must not exist (a half-written folder is removed on failure)."""
    from rollcure.core.io import OPTIONAL_TABLES, TABLES

    data_dir, out = Path(data_dir), Path(out)
    if partitions < 1:
        raise InputError(f"--partitions: must be at least 1, got {partitions}")
    if not data_dir.is_dir():
        raise InputError(f"--data: folder not found: {data_dir}")
    if out.exists():
        raise InputError(f"--out: {out} exists; choose a new folder")
    sources = {name: data_dir / f"{name}.parquet" for name in TABLES}
    for name, path in sources.items():
        if not path.is_file() and name not in OPTIONAL_TABLES:
            raise InputError(f"--data: table '{name}' missing ({path.name} not found in {data_dir})")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        borrower_ids, parts = _loan_table(sources["loans"], staging, partitions)
        for name in ("cycles", "contacts", "actions"):
            if sources[name].is_file():
                _loan_table(sources[name], staging, partitions)
        _borrowers(sources["borrowers"], staging, borrower_ids, parts, partitions)
        manifest = {
            "partitions": partitions,
            "hash": HASH,
            "tables": [n for n in TABLES if (staging / n).exists()],
            "cycle_dates": _cycle_dates(sources["cycles"]),
            "source": str(data_dir.resolve()),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1))
        staging.rename(out)
    except (OSError, pa.ArrowException) as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InputError(f"--data: cannot partition {data_dir} ({exc.__class__.__name__}: {exc})") from exc
    return manifest
