"""Import the UCI credit-card file into a rollcure data folder (the I/O edge of the adapter).

Layout written under ``out``:

* ``borrowers.parquet``, ``loans.parquet``, ``cycles.parquet``: the raw tables, read back by
  ``rollcure.core.io.read_tables``; cycles carry the optional ``status_code`` (the raw -2..9 code).
  No contacts or actions are written: the data set has none, and an empty table would claim
  "no contact happened" where the truth is "not recorded".
* ``labels/default_next_month.parquet``: the October default label (loan_id, as_of, label), for
  the comparison with the published results; never read by training.
* ``uci/status.parquet``: the raw status code per cycle (= ``cycles.status_code``, for the
  default comparison's side features);
  ``uci/attributes.parquet``: sex, education, marriage; ``uci/row_problems.parquet``: every
  rejected row and every undocumented code, by account ID; ``uci/summary.json``: counts.
* ``uci/config.yaml``: the run config for this folder (see :data:`RUN_SETTINGS`), to pass as
  ``--config`` to ``rollcure train / report / score``; MLflow then lives under ``out/mlflow``.

Nothing is written unless the header is the UCI header and at least one row survives the checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from adapters.config import UciImportConfig
from adapters.uci_format import KEPT, check_header, check_rows
from adapters.uci_tables import UciTables, uci_to_tables
from rollcure.core.errors import InputError
from rollcure.core.io import OPTIONAL_TABLES, write_tables

LABELS_DIR = "labels"
DEFAULT_LABEL_FILE = "default_next_month.parquet"
SIDE_DIR = "uci"
CONFIG_FILE = "config.yaml"
#: Run settings the six-month panel needs: the outcome window is one cycle (a 90-day window would
#: leave the last three transitions unlabelled) and the out-of-time test is the last transition
#: (as_of August, outcome September), validation the one before, training the three before that.
RUN_SETTINGS: dict = {"features": {"horizon_days": 30}, "training": {"oot_cycles": 1, "valid_cycles": 1}}


@dataclass(frozen=True)
class ImportResult:
    """What an import produced: counts for the console and the problem table for the report."""

    n_rows: int
    n_imported: int
    n_rejected: int
    problems: pd.DataFrame
    out: Path

    def summary(self) -> dict:
        kept = self.problems[self.problems["action"] == KEPT]
        return {
            "rows_read": self.n_rows,
            "accounts_imported": self.n_imported,
            "rows_rejected": self.n_rejected,
            "undocumented_codes_kept_as_unknown": int(kept["ID"].nunique()),
            "problems_by_column": self.problems.groupby("column").size().astype(int).to_dict(),
        }


def read_uci_csv(path: Path) -> pd.DataFrame:
    """Read the file (a column with any non-number stays text: the checks coerce it per cell);
    refuse any other format before reading the rows."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"--csv: file not found: {path}")
    try:
        header = pd.read_csv(path, nrows=0)
        check_header(header.columns)
        return pd.read_csv(path, keep_default_na=False, na_values=[""])
    except InputError:
        raise
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InputError(f"--csv: not a readable CSV file ({exc.__class__.__name__})") from exc


def convert(raw: pd.DataFrame, cfg: UciImportConfig | None = None) -> tuple[UciTables, pd.DataFrame]:
    """Checked conversion in memory: (tables, problems). Raises when no row is usable."""
    check_header(raw.columns)
    clean, problems = check_rows(raw)
    if clean.empty:
        raise InputError(f"--csv: none of the {len(raw)} rows is usable (see the problems: "
                         f"{problems['problem'].iloc[0] if len(problems) else 'no rows'})")
    return uci_to_tables(clean, cfg), problems


def write_import(converted: UciTables, problems: pd.DataFrame, out: Path) -> None:
    """Write the raw tables and the side tables (see the module docstring for the layout)."""
    out = Path(out)
    write_tables(converted.tables, out)
    (out / LABELS_DIR).mkdir(parents=True, exist_ok=True)
    converted.labels.to_parquet(out / LABELS_DIR / DEFAULT_LABEL_FILE, index=False)
    side = out / SIDE_DIR
    side.mkdir(parents=True, exist_ok=True)
    converted.status.to_parquet(side / "status.parquet", index=False)
    converted.attributes.to_parquet(side / "attributes.parquet", index=False)
    problems.to_parquet(side / "row_problems.parquet", index=False)
    settings = {"data_dir": str(out.resolve()), **RUN_SETTINGS}
    (side / CONFIG_FILE).write_text(yaml.safe_dump(settings, sort_keys=False))


def run_config_path(data_dir: Path) -> Path:
    """The run config the import wrote next to the tables."""
    return Path(data_dir) / SIDE_DIR / CONFIG_FILE


def import_uci(csv: Path, out: Path, cfg: UciImportConfig | None = None) -> ImportResult:
    """Read, check, convert and write; returns the counts and the problems found."""
    if Path(out).exists() and not Path(out).is_dir():
        raise InputError(f"--out: {out} exists and is not a folder")
    # a contacts/actions table left by another book would be read with these tables, and its
    # absence of these loans would turn "not recorded" into invented zero counts
    stale = [name for name in OPTIONAL_TABLES if (Path(out) / f"{name}.parquet").exists()]
    if stale:
        raise InputError(
            f"--out: {out} already holds {' and '.join(stale)} tables that the UCI data does not have; "
            "import into an empty folder"
        )
    raw = read_uci_csv(csv)
    converted, problems = convert(raw, cfg)
    write_import(converted, problems, out)
    result = ImportResult(
        n_rows=len(raw),
        n_imported=len(converted.tables["loans"]),
        n_rejected=len(raw) - len(converted.tables["loans"]),
        problems=problems,
        out=Path(out),
    )
    (Path(out) / SIDE_DIR / "summary.json").write_text(json.dumps(result.summary(), indent=2))
    return result


def read_default_labels(data_dir: Path) -> pd.DataFrame:
    """The October default label written by the import (loan_id, as_of, default_next_month)."""
    path = Path(data_dir) / LABELS_DIR / DEFAULT_LABEL_FILE
    if not path.is_file():
        raise InputError(f"--data: no default labels in {data_dir} (run `rollcure import uci` first)")
    return pd.read_parquet(path)


def read_side_tables(data_dir: Path) -> dict[str, pd.DataFrame]:
    """The UCI-only side tables (status codes, borrower attributes), if the folder has them."""
    side = Path(data_dir) / SIDE_DIR
    return {name: pd.read_parquet(side / f"{name}.parquet")
            for name in ("status", "attributes") if (side / f"{name}.parquet").is_file()}
