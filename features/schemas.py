"""Schemas of the raw tables (docs/interfaces.md) and the one validation entry point.

pandera checks each table's columns, dtypes, ranges and vocabularies; the cross-table rules
(unique keys, foreign keys, bucket consistent with DPD) are plain vectorised checks here. Whatever
fails, `validate_tables` raises one `TableValidationError` that names, per broken rule, the table,
the column, the first offending row keys and the rule, so a user can find the bad rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pandera.pandas as pa

from features._events import Labels
from rollcure.core.catalogue import ACTIONS
from rollcure.core.domain import (
    BUCKETS,
    CHANNELS,
    COLLATERAL_TYPES,
    EMPLOYMENTS,
    FLAGS,
    NO_COLLATERAL,
    OUTCOMES,
    PARTIES,
    PRODUCTS,
    REGIONS,
    bucket_index,
    dpd_matches_missed,
)
from rollcure.core.errors import InputError
from rollcure.core.io import OPTIONAL_TABLES, TABLES

#: Key columns of each table (used to name offending rows).
KEYS: dict[str, tuple[str, ...]] = {
    "borrowers": ("borrower_id",),
    "loans": ("loan_id",),
    "cycles": ("loan_id", "cycle_date"),
    "contacts": ("loan_id", "ts"),
    "actions": ("loan_id", "decided_at"),
}
_SHOW = 3
_DT = "datetime64[ns]"

# Physical ranges of the raw tables, declared once: the pandera schemas below and the serving
# request models (``features.payload``) both read them, so a book and a request obey one contract.
#: Largest amount (principal, balances, payments, collateral, income) any record may carry.
MAX_AMOUNT = 1e8
#: Most days past due a cycle may report (about 27 years), and most instalments it may count as missed.
MAX_DPD = 10_000
MAX_MISSED_INSTALMENTS = 600
#: Earliest date-time any record may carry.
DATE_MIN = pd.Timestamp("1900-01-01")
#: Arrears may exceed the balance by rounding at most (currency units).
ARREARS_TOLERANCE = 0.01


class TableValidationError(InputError):
    """Raw tables break the data contract; ``problems`` lists (table, column, keys, rule)."""

    def __init__(self, problems: list[tuple[str, str, str, str]]):
        self.problems = problems
        lines = [f"{t}.{c}: {rule} (first rows: {keys})" for t, c, keys, rule in problems]
        super().__init__(f"{len(problems)} problem(s) in the raw tables: " + "; ".join(lines))


def _col(dtype, *checks, nullable: bool = False) -> pa.Column:
    return pa.Column(dtype, checks=list(checks), nullable=nullable)


def _isin(values) -> pa.Check:
    return pa.Check.isin(list(values))


def _amount(nullable: bool = False) -> pa.Column:
    return _col("float64", pa.Check.ge(0), pa.Check.le(MAX_AMOUNT), nullable=nullable)


#: The lender's own repayment status code range (UCI: -2 no consumption, -1 paid in full,
#: 0 revolving credit used, k >= 1 months delayed, 9 = nine or more).
STATUS_CODE_MIN, STATUS_CODE_MAX = -2, 9

#: Optional columns (docs/interfaces.md): a book may leave them out; present, they must conform.
OPTIONAL_COLUMNS: dict[str, dict[str, pa.Column]] = {
    "cycles": {
        "status_code": pa.Column(
            "Int64",
            checks=[pa.Check.in_range(STATUS_CODE_MIN, STATUS_CODE_MAX)],
            nullable=True,
            required=False,
        ),
    },
}


#: Fields a real book may not record are nullable (docs/interfaces.md): missing, never invented.
SCHEMAS: dict[str, pa.DataFrameSchema] = {
    "borrowers": pa.DataFrameSchema(
        {
            "borrower_id": _col("int64"),
            "age": _col("int64", pa.Check.in_range(18, 110)),
            "monthly_income": _amount(nullable=True),
            "employment": _col(str, _isin(EMPLOYMENTS), nullable=True),
            "region": _col(str, _isin(REGIONS), nullable=True),
            "bureau_score": _col("int64", pa.Check.in_range(300, 850)),
            "other_debt": _amount(nullable=True),
            "dependants": _col("int64", pa.Check.in_range(0, 20)),
            "phone_verified": _col("bool"),
            "address_verified": _col("bool"),
        }
    ),
    "loans": pa.DataFrameSchema(
        {
            "loan_id": _col("int64"),
            "borrower_id": _col("int64"),
            "product": _col(str, _isin(PRODUCTS)),
            "origination_date": _col(_DT, pa.Check.ge(DATE_MIN)),
            "principal": _col("float64", pa.Check.gt(0), pa.Check.le(MAX_AMOUNT)),
            "annual_rate": _col("float64", pa.Check.in_range(0, 1), nullable=True),
            "term_months": _col("int64", pa.Check.in_range(0, 600)),  # 0: revolving, no term
            "instalment": _amount(),
            "collateral_type": _col(str, _isin(COLLATERAL_TYPES)),
            "collateral_value": _amount(),
            "has_guarantor": _col("bool"),
            **{flag: _col("bool") for flag in FLAGS},
            "flag_date": _col(_DT, nullable=True),
        }
    ),
    "cycles": pa.DataFrameSchema(
        {
            "loan_id": _col("int64"),
            "cycle_date": _col(_DT, pa.Check.ge(DATE_MIN)),
            "due_amount": _amount(),
            "paid_amount": _amount(),
            "balance": _amount(),
            "arrears": _amount(),
            "dpd": _col("int64", pa.Check.ge(0), pa.Check.le(MAX_DPD)),
            "bucket": _col(str, _isin(BUCKETS)),
            "missed_instalments": _col("int64", pa.Check.ge(0), pa.Check.le(MAX_MISSED_INSTALMENTS)),
            **OPTIONAL_COLUMNS["cycles"],
        }
    ),
    "contacts": pa.DataFrameSchema(
        {
            "loan_id": _col("int64"),
            "ts": _col(_DT, pa.Check.ge(DATE_MIN)),
            "channel": _col(str, _isin(CHANNELS)),
            "party": _col(str, _isin(PARTIES)),
            "outcome": _col(str, _isin(OUTCOMES)),
            "ptp_amount": _amount(nullable=True),
            "ptp_date": _col(_DT, nullable=True),
        }
    ),
    "actions": pa.DataFrameSchema(
        {
            "loan_id": _col("int64"),
            "decided_at": _col(_DT, pa.Check.ge(DATE_MIN)),
            "action": _col(str, _isin(ACTIONS)),
            "cost": _amount(),
            "propensity": _col("float64", pa.Check.in_range(0, 1)),
        }
    ),
}


def _dtype_name(column: pa.Column) -> str:
    """The contract dtype as pandas names it (string columns are pandas 3's ``str``)."""
    name = str(column.dtype)
    return "str" if name.startswith("string") else name


#: Exact dtypes of the required columns of the raw tables (docs/interfaces.md), in contract column
#: order; the one declaration that payloads and tests build or check frames against.
TABLE_DTYPES: dict[str, dict[str, str]] = {
    table: {name: _dtype_name(col) for name, col in schema.columns.items() if col.required}
    for table, schema in SCHEMAS.items()
}
#: Exact dtypes of the optional columns, per table (empty for a table without any).
OPTIONAL_DTYPES: dict[str, dict[str, str]] = {
    table: {name: _dtype_name(col) for name, col in OPTIONAL_COLUMNS.get(table, {}).items()}
    for table in SCHEMAS
}


def _keys_of(frame: pd.DataFrame, table: str, mask: np.ndarray | None = None, index=None) -> str:
    keys = list(KEYS[table])
    rows = frame.loc[index, keys] if index is not None else frame.loc[mask, keys]
    shown = []
    for r in rows.head(_SHOW).itertuples(index=False):
        vals = [
            str(pd.Timestamp(v).date()) if isinstance(v, pd.Timestamp) and v == v.normalize() else str(v)
            for v in r
        ]
        shown.append(vals[0] if len(vals) == 1 else "(" + ", ".join(vals) + ")")
    return ", ".join(shown) or "-"


def _schema_problems(table: str, frame: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    try:
        SCHEMAS[table].validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        problems = []
        fc = exc.failure_cases
        for (column, check), grp in fc.groupby(["column", "check"], dropna=False, sort=False):
            idx = [i for i in grp["index"].tolist() if i is not None and i == i]
            idx = [i for i in idx if i in frame.index][:_SHOW]
            keys_present = all(k in frame.columns for k in KEYS[table])
            keys = _keys_of(frame, table, index=idx) if idx and keys_present else "-"
            col = column if isinstance(column, str) else str(grp["failure_case"].iloc[0])
            problems.append((table, col, keys, _rule_text(check, grp)))
        return problems
    return []


def _rule_text(check: object, grp: pd.DataFrame) -> str:
    text = str(check)
    if text == "column_in_dataframe":
        return "column missing"
    if text == "dtype('" or text.startswith("dtype"):
        return f"wrong dtype: expected {text[6:-1] or 'contract dtype'}, got {grp['failure_case'].iloc[0]}"
    if text == "not_nullable":
        return "null values not allowed"
    return f"breaks {text}"


def _cross_problems(tables: dict[str, pd.DataFrame]) -> list[tuple[str, str, str, str]]:
    problems: list[tuple[str, str, str, str]] = []

    def add(table: str, column: str, mask: np.ndarray, rule: str) -> None:
        if mask.any():
            problems.append((table, column, _keys_of(tables[table], table, mask=mask), rule))

    for table in ("borrowers", "loans", "cycles"):
        frame = tables[table]
        add(
            table,
            "+".join(KEYS[table]),
            frame.duplicated(list(KEYS[table]), keep="first").to_numpy(),
            "key not unique",
        )
    add(
        "loans",
        "borrower_id",
        ~tables["loans"]["borrower_id"].isin(tables["borrowers"]["borrower_id"]).to_numpy(),
        "foreign key: no such borrower",
    )
    loan_ids = tables["loans"]["loan_id"]
    for table in ("cycles", "contacts", "actions"):
        if table in tables:
            add(
                table,
                "loan_id",
                ~tables[table]["loan_id"].isin(loan_ids).to_numpy(),
                "foreign key: no such loan",
            )
    cycles = tables["cycles"]
    add(
        "cycles",
        "bucket",
        Labels.of(cycles, "bucket").differs_from(BUCKETS, bucket_index(cycles["dpd"])),
        "bucket does not match dpd (rollcure.core.domain.bucket_of)",
    )
    dates = cycles["cycle_date"]
    add(
        "cycles",
        "cycle_date",
        ~(dates.dt.is_month_end & (dates == dates.dt.normalize())).to_numpy(),
        "cycle_date is not a month end (one cycle per loan and month; labels count whole months)",
    )
    orig = tables["loans"].set_index("loan_id")["origination_date"]
    if orig.index.is_unique:
        start = cycles["loan_id"].map(orig)
        add(
            "cycles", "cycle_date", (cycles["cycle_date"] < start).to_numpy(), "cycle before loan origination"
        )
    add(
        "cycles",
        "arrears",
        (cycles["arrears"] > cycles["balance"] + ARREARS_TOLERANCE).to_numpy(),
        "arrears above balance",
    )
    add(
        "cycles",
        "dpd",
        ~dpd_matches_missed(cycles["dpd"], cycles["missed_instalments"]),
        "dpd cannot go with missed_instalments (rollcure.core.domain.dpd_matches_missed)",
    )
    loans = tables["loans"]
    add(
        "loans",
        "collateral_value",
        ((loans["collateral_type"] == NO_COLLATERAL) & (loans["collateral_value"] > 0)).to_numpy(),
        "a collateral value without collateral",
    )
    if "contacts" in tables:
        c = tables["contacts"]
        is_ptp = (c["outcome"] == "promise_to_pay").to_numpy()
        add(
            "contacts",
            "ptp_date",
            is_ptp & c["ptp_date"].isna().to_numpy(),
            "promise to pay without ptp_date",
        )
    return problems


def validate_tables(tables: dict[str, pd.DataFrame]) -> None:
    """Raise `TableValidationError` listing every broken rule; return None when the tables conform.

    ``contacts`` and ``actions`` are optional (real books often lack them); the others are required.
    """
    missing = [t for t in TABLES if t not in OPTIONAL_TABLES and t not in tables]
    if missing:
        raise TableValidationError([(t, "-", "-", "table missing") for t in missing])
    problems: list[tuple[str, str, str, str]] = []
    for table in TABLES:
        if table in tables:
            problems += _schema_problems(table, tables[table])
    if not problems:  # cross-table rules assume columns and dtypes are right
        problems += _cross_problems(tables)
    if problems:
        raise TableValidationError(problems)
