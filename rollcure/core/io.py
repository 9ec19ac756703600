"""Reading and writing the raw tables (DESIGN §2) as Parquet: the only place that touches them on disk."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from rollcure.core.errors import InputError

#: The five raw tables, in dependency order.
TABLES: tuple[str, ...] = ("borrowers", "loans", "cycles", "contacts", "actions")
#: Tables a data set may lack (real books often have no contact or action history).
OPTIONAL_TABLES: tuple[str, ...] = ("contacts", "actions")
TRUTH_DIR = "truth"


def write_tables(tables: dict[str, pd.DataFrame], out: Path) -> None:
    """Write each table to ``out/<name>.parquet``; other keys (e.g. truth) are not written here."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        if name in tables:
            tables[name].to_parquet(out / f"{name}.parquet", index=False)


def read_tables(data_dir: Path) -> dict[str, pd.DataFrame]:
    """Read the raw tables from a folder; a missing required table is an input error."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise InputError(f"--data: folder not found: {data_dir}")
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLES:
        path = data_dir / f"{name}.parquet"
        if path.is_file():
            tables[name] = _read_parquet(path, f"--data: table '{name}'")
        elif name not in OPTIONAL_TABLES:
            raise InputError(f"--data: table '{name}' missing ({path.name} not found in {data_dir})")
    return tables


def write_truth(truth: dict[str, pd.DataFrame], out: Path) -> None:
    """Latent truth goes to a separate folder that only the oracle and the backtests read."""
    tdir = Path(out) / TRUTH_DIR
    tdir.mkdir(parents=True, exist_ok=True)
    for name, frame in truth.items():
        frame.to_parquet(tdir / f"{name}.parquet", index=False)


def read_truth(data_dir: Path) -> dict[str, pd.DataFrame]:
    tdir = Path(data_dir) / TRUTH_DIR
    if not tdir.is_dir():
        raise InputError(f"--data: no simulator truth in {data_dir} (needs a '{TRUTH_DIR}/' folder)")
    return {p.stem: _read_parquet(p, f"truth '{p.stem}'") for p in sorted(tdir.glob("*.parquet"))}


def _read_parquet(path: Path, what: str) -> pd.DataFrame:
    """Read one Parquet file; an unreadable file is the caller's bad input, not a crash."""
    import pyarrow as pa

    try:
        return pd.read_parquet(path)
    except (OSError, pa.ArrowException) as exc:
        problem = f"{path.name} is not a readable Parquet file ({exc.__class__.__name__})"
        raise InputError(f"{what}: {problem}") from exc
