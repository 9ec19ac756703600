"""UCI accounts → rollcure raw tables (docs/interfaces.md), as a pure function.

One borrower and one card loan per account; one cycle per month, April–September 2005, at month
end. How each column is derived:

* ``dpd`` = 30·k for status k ≥ 1 (k months late), 0 for -2/-1/0; ``bucket`` from
  ``rollcure.core.domain``; ``missed_instalments`` = k. ``status_code`` (the contract's optional cycles
  column) keeps the raw code, so -2 / -1 / 0 stay apart for the status-count features.
* ``balance`` = the month's bill statement, floored at 0 (a negative bill is a credit balance: nothing
  is owed). ``paid_amount`` = PAY_AMT of the same month, which the README says is paid during that
  month toward the *previous* month's bill; so ``due_amount`` = the previous month's statement
  (floored at 0), the amount that payment answers. April's previous statement is not in the file;
  April's own statement stands in for it.
* ``instalment`` = a nominal minimum payment (``min_payment_rate`` × limit) and ``arrears`` =
  k × instalment, capped at the balance: the file has no minimum payment, so arrears only restate
  the DPD in money (a late account whose statement is 0 owes nothing overdue: arrears 0).
* Fields the file lacks are missing (income, other debt, rate, employment, region: NaN) or
  constant placeholders (bureau score, dependants, verification flags), never varied values that
  pretend to be data.

SEX/EDUCATION/MARRIAGE have no column in the raw tables; they are kept in a side table
(``attributes``), the October default label in ``labels``. The ``status`` side table repeats
``cycles.status_code`` for the default comparison (``uci_default``), which joins the raw codes
of the six months as columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from adapters.config import UciImportConfig
from adapters.uci_format import (
    ATTRIBUTE_CODES,
    BILL_COLUMNS,
    ID,
    LABEL,
    LABEL_AS_OF,
    LIMIT,
    MONTHS,
    PAYMENT_COLUMNS,
    STATUS_COLUMNS,
    UNKNOWN,
)
from rollcure.core.domain import DAYS_PER_CYCLE, bucket_of

PRODUCT = "card"
#: Placeholders for borrower fields the file lacks. A constant carries no information to a model,
#: so it cannot masquerade as a signal; NaN is used wherever the column's dtype allows it.
BUREAU_SCORE_PLACEHOLDER = 575  # midpoint of the 300–850 range
TERM_MONTHS_REVOLVING = 0  # a card line has no term


@dataclass(frozen=True)
class UciTables:
    """The raw tables plus what the raw tables have no column for."""

    tables: dict[str, pd.DataFrame]  # borrowers, loans, cycles (no contacts/actions: none exist)
    status: pd.DataFrame  # loan_id, cycle_date, status (raw UCI code, -2..9)
    attributes: pd.DataFrame  # borrower_id, sex, education, marriage
    labels: pd.DataFrame  # loan_id, as_of (September), default_next_month


def _borrowers(acc: pd.DataFrame) -> pd.DataFrame:
    n = len(acc)
    return pd.DataFrame({
        "borrower_id": acc[ID].to_numpy(dtype="int64"),
        "age": acc["AGE"].to_numpy(dtype="int64"),
        "monthly_income": np.full(n, np.nan),
        "employment": pd.array([None] * n, dtype="str"),  # not in the file: missing
        "region": pd.array([None] * n, dtype="str"),
        "bureau_score": np.full(n, BUREAU_SCORE_PLACEHOLDER, dtype="int64"),
        "other_debt": np.full(n, np.nan),
        "dependants": np.zeros(n, dtype="int64"),
        "phone_verified": np.zeros(n, dtype=bool),
        "address_verified": np.zeros(n, dtype=bool),
    })


def _loans(acc: pd.DataFrame, cfg: UciImportConfig) -> pd.DataFrame:
    n = len(acc)
    limit = acc[LIMIT].to_numpy(dtype="float64")
    false = np.zeros(n, dtype=bool)
    return pd.DataFrame({
        "loan_id": acc[ID].to_numpy(dtype="int64"),
        "borrower_id": acc[ID].to_numpy(dtype="int64"),
        "product": pd.array([PRODUCT] * n, dtype="str"),
        "origination_date": pd.Series(pd.Timestamp(cfg.origination_date), index=range(n)).astype(
            "datetime64[ns]"),
        "principal": limit,
        "annual_rate": np.full(n, np.nan),
        "term_months": np.full(n, TERM_MONTHS_REVOLVING, dtype="int64"),
        "instalment": cfg.min_payment_rate * limit,
        "collateral_type": pd.array(["none"] * n, dtype="str"),
        "collateral_value": np.zeros(n),
        "has_guarantor": false,
        "disputed": false,
        "deceased": false,
        "bankrupt": false,
        "fraud_suspected": false,
        "flag_date": pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
    })


def _panel(acc: pd.DataFrame, cfg: UciImportConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Cycles and raw status, loan-major (all months of a loan together, months in order)."""
    n, m = len(acc), len(MONTHS)
    status = acc[list(STATUS_COLUMNS)].to_numpy(dtype="int64")
    bills = np.maximum(acc[list(BILL_COLUMNS)].to_numpy(dtype="float64"), 0.0)
    paid = acc[list(PAYMENT_COLUMNS)].to_numpy(dtype="float64")
    due = np.concatenate([bills[:, :1], bills[:, :-1]], axis=1)  # previous statement; April: its own
    late = np.maximum(status, 0)
    instalment = cfg.min_payment_rate * acc[LIMIT].to_numpy(dtype="float64")
    arrears = np.minimum(late * instalment[:, None], bills)  # nothing overdue beyond what is owed
    dpd = (late * DAYS_PER_CYCLE).ravel()
    loan_id = np.repeat(acc[ID].to_numpy(dtype="int64"), m)
    dates = np.tile(pd.to_datetime([mo[0] for mo in MONTHS]).to_numpy(dtype="datetime64[ns]"), n)
    cycles = pd.DataFrame({
        "loan_id": loan_id,
        "cycle_date": dates,
        "due_amount": due.ravel(),
        "paid_amount": paid.ravel(),
        "balance": bills.ravel(),
        "arrears": arrears.ravel(),
        "dpd": dpd.astype("int64"),
        "bucket": pd.array(bucket_of(dpd), dtype="str"),
        "missed_instalments": late.ravel().astype("int64"),
        "status_code": pd.array(status.ravel(), dtype="Int64"),  # optional contract column
    })
    raw_status = pd.DataFrame({"loan_id": loan_id, "cycle_date": dates, "status": status.ravel()})
    return cycles, raw_status


def _attributes(acc: pd.DataFrame) -> pd.DataFrame:
    out = {"borrower_id": acc[ID].to_numpy(dtype="int64")}
    for col, codes in ATTRIBUTE_CODES.items():
        labels = acc[col].map(codes).fillna(UNKNOWN)
        out[col.lower()] = pd.array(labels.to_numpy(dtype=object), dtype="str")
    return pd.DataFrame(out)


def _labels(acc: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "loan_id": acc[ID].to_numpy(dtype="int64"),
        "as_of": pd.Series(pd.Timestamp(LABEL_AS_OF), index=range(len(acc))).astype("datetime64[ns]"),
        "default_next_month": acc[LABEL].to_numpy(dtype="int64"),
    })


def uci_to_tables(accounts: pd.DataFrame, cfg: UciImportConfig | None = None) -> UciTables:
    """Turn checked UCI rows (``uci_format.check_rows``) into raw tables and side tables.

    >>> from adapters.uci_format import REQUIRED_COLUMNS
    >>> row = dict.fromkeys(REQUIRED_COLUMNS, 0) | {"ID": 7, "LIMIT_BAL": 1000.0, "AGE": 30, "PAY_0": 2}
    >>> out = uci_to_tables(pd.DataFrame([row]))
    >>> last = out.tables["cycles"].iloc[-1]
    >>> int(last.dpd), last.bucket, int(last.missed_instalments), int(last.status_code)
    (60, 'M2', 2, 2)
    """
    cfg = cfg or UciImportConfig()
    acc = accounts.sort_values(ID, kind="stable").reset_index(drop=True)
    cycles, status = _panel(acc, cfg)
    return UciTables(
        tables={"borrowers": _borrowers(acc), "loans": _loans(acc, cfg), "cycles": cycles},
        status=status,
        attributes=_attributes(acc),
        labels=_labels(acc),
    )
