"""The UCI "default of credit card clients" file: its header, month layout, codes and row checks.

Everything that is a fact of the file format lives here, so the transform (``uci_tables``) reads
as the mapping it is. Row checks are vectorised and return one problem row per (ID, column):
rows that cannot become a delinquency history are rejected, attribute codes the UCI documentation
does not list are kept as "unknown" and reported.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rollcure.core.errors import InputError

ID = "ID"
LIMIT = "LIMIT_BAL"
LABEL = "default payment next month"

#: Panel months in time order, as (cycle date, status column, bill column, payment column).
#: UCI numbers them backwards from September (PAY_0 / BILL_AMT1 / PAY_AMT1) to April (…6), and has
#: no PAY_1. PAY_AMTk is paid *during* that month toward the previous month's bill (README).
MONTHS: tuple[tuple[str, str, str, str], ...] = (
    ("2005-04-30", "PAY_6", "BILL_AMT6", "PAY_AMT6"),
    ("2005-05-31", "PAY_5", "BILL_AMT5", "PAY_AMT5"),
    ("2005-06-30", "PAY_4", "BILL_AMT4", "PAY_AMT4"),
    ("2005-07-31", "PAY_3", "BILL_AMT3", "PAY_AMT3"),
    ("2005-08-31", "PAY_2", "BILL_AMT2", "PAY_AMT2"),
    ("2005-09-30", "PAY_0", "BILL_AMT1", "PAY_AMT1"),
)
STATUS_COLUMNS = tuple(m[1] for m in MONTHS)
BILL_COLUMNS = tuple(m[2] for m in MONTHS)
PAYMENT_COLUMNS = tuple(m[3] for m in MONTHS)
#: The default label is observed in October, after the last status month.
LABEL_AS_OF = MONTHS[-1][0]

ATTRIBUTE_COLUMNS = ("SEX", "EDUCATION", "MARRIAGE")
REQUIRED_COLUMNS: tuple[str, ...] = (
    ID,
    LIMIT,
    *ATTRIBUTE_COLUMNS,
    "AGE",
    *reversed(STATUS_COLUMNS),
    *reversed(BILL_COLUMNS),
    *reversed(PAYMENT_COLUMNS),
    LABEL,
)

#: Repayment status: -2 no consumption, -1 paid in full, 0 revolving, k >= 1 k months late (9 = 9+).
STATUS_MIN, STATUS_MAX = -2, 9
UNKNOWN = "unknown"
#: UCI attribute codes. Codes the documentation calls unknown (EDUCATION 0/5/6, MARRIAGE 0) map to
#: "unknown"; any other code is not in the documentation, maps to "unknown" too and is reported.
SEX_CODES = {1: "male", 2: "female"}
EDUCATION_CODES = {1: "graduate_school", 2: "university", 3: "high_school", 4: "other",
                   0: UNKNOWN, 5: UNKNOWN, 6: UNKNOWN}
MARRIAGE_CODES = {1: "married", 2: "single", 3: "other", 0: UNKNOWN}
ATTRIBUTE_CODES = {"SEX": SEX_CODES, "EDUCATION": EDUCATION_CODES, "MARRIAGE": MARRIAGE_CODES}
AGE_MIN, AGE_MAX = 18, 100

REJECTED = "rejected"
KEPT = "kept"
PROBLEM_COLUMNS = ("ID", "column", "value", "problem", "action")


def check_header(columns: pd.Index | list[str], source: str = "--csv") -> None:
    """Raise unless every UCI column is present: a file of another format is refused whole."""
    present = {str(c).strip() for c in columns}
    missing = [c for c in REQUIRED_COLUMNS if c not in present]
    if missing:
        shown = ", ".join(missing[:6]) + (" …" if len(missing) > 6 else "")
        raise InputError(
            f"{source}: not the UCI credit-card format: {len(missing)} column(s) missing ({shown})"
        )


def _as_number(col: pd.Series) -> pd.Series:
    """Numbers as parsed by the CSV reader; a column holding any text is coerced (text → NaN)."""
    if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
        return col
    return pd.to_numeric(col, errors="coerce")


def _id_text(raw_ids: pd.Series, ids: pd.Series) -> pd.Series:
    """Account IDs as the user wrote them (whole numbers without a trailing '.0')."""
    whole = ids.notna() & (ids == np.floor(ids))
    text = raw_ids.astype("string").fillna("<missing>").astype(str)
    return text.where(~whole, ids.where(whole, 0).astype("int64").astype(str))


def _problems(ids: pd.Series, mask: np.ndarray, column: str, values: pd.Series,
              problem: str, action: str) -> pd.DataFrame:
    return pd.DataFrame({
        "ID": ids[mask].to_numpy(),
        "column": column,
        "value": values[mask].astype("string").fillna("<missing>").astype(str).to_numpy(),
        "problem": problem,
        "action": action,
    })


def check_rows(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split the file into rows fit to import and a table of problems (ID, column, value, problem, action).

    Numbers are parsed leniently (text → NaN) so that one bad cell rejects its row, not the file;
    columns the CSV reader already parsed as numbers are used as they are (parsing is the cost).
    The clean frame has int64 codes and float64 amounts; ``ID`` is int64 and unique.
    """
    raw = raw.rename(columns=lambda c: str(c).strip())
    num = {c: _as_number(raw[c]) for c in REQUIRED_COLUMNS}
    ids = _id_text(raw[ID], num[ID])
    found: list[pd.DataFrame] = []
    bad = np.zeros(len(raw), dtype=bool)

    def reject(mask: np.ndarray, column: str, problem: str) -> None:
        nonlocal bad
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            found.append(_problems(ids, mask, column, raw[column], problem, REJECTED))
            bad |= mask

    whole = {c: num[c].notna() & (num[c] == np.floor(num[c])) for c in REQUIRED_COLUMNS}
    reject(~whole[ID] | (num[ID] <= 0), ID, "not a positive whole number")
    reject(whole[ID] & (num[ID] > 0) & num[ID].duplicated(keep="first"), ID, "duplicate account id")
    reject(num[LIMIT].isna() | (num[LIMIT] <= 0), LIMIT, "credit limit missing or not positive")
    reject(~whole["AGE"] | (num["AGE"] < AGE_MIN) | (num["AGE"] > AGE_MAX), "AGE",
           f"age missing or outside {AGE_MIN}–{AGE_MAX}")
    for col in STATUS_COLUMNS:
        reject(~whole[col] | (num[col] < STATUS_MIN) | (num[col] > STATUS_MAX), col,
               f"repayment status missing or outside {STATUS_MIN}..{STATUS_MAX}")
    for col in BILL_COLUMNS:
        reject(num[col].isna(), col, "bill amount missing")
    for col in PAYMENT_COLUMNS:
        reject(num[col].isna() | (num[col] < 0), col, "payment missing or negative")
    reject(~num[LABEL].isin([0, 1]), LABEL, "default label not 0 or 1")
    for col, codes in ATTRIBUTE_CODES.items():
        undocumented = ~num[col].isin(list(codes))
        if undocumented.any():
            found.append(_problems(ids, undocumented.to_numpy(), col, raw[col],
                                   "code not in the UCI documentation: mapped to unknown", KEPT))

    clean = pd.DataFrame({c: num[c] for c in REQUIRED_COLUMNS})[~bad]
    ints = [ID, "AGE", *STATUS_COLUMNS, LABEL]
    clean[ints] = clean[ints].astype("int64")
    floats = [LIMIT, *BILL_COLUMNS, *PAYMENT_COLUMNS]
    clean[floats] = clean[floats].astype("float64")
    problems = (pd.concat(found, ignore_index=True) if found
                else pd.DataFrame({c: pd.Series(dtype=str) for c in PROBLEM_COLUMNS}))
    return clean.reset_index(drop=True), problems
