"""One case as a serving request, turned back into raw tables for the same `build_features`.

Serving never computes a feature itself: it validates the request with these pydantic models,
rebuilds the five raw tables with `payloads_to_tables`, and calls `features.build.build_features`,
the same function training uses. `features.payload_from_tables` goes the other way (clients, demo,
tests).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.registry import ACTION_WINDOW_DAYS, CONTACT_WINDOW_DAYS
from features.schemas import OPTIONAL_DTYPES, STATUS_CODE_MAX, STATUS_CODE_MIN, TABLE_DTYPES
from rollcure.domain import (
    ACTIONS,
    BUCKETS,
    CHANNELS,
    COLLATERAL_TYPES,
    EMPLOYMENTS,
    OUTCOMES,
    PARTIES,
    PRODUCTS,
    REGIONS,
    bucket_of,
)
from rollcure.errors import InputError

MAX_PAYLOAD_CYCLES = 60
_STRICT = ConfigDict(extra="forbid")


class BorrowerRecord(BaseModel):
    model_config = _STRICT
    borrower_id: int
    age: int = Field(ge=18, le=110)
    monthly_income: float | None = Field(ge=0)
    employment: Literal[EMPLOYMENTS] | None
    region: Literal[REGIONS] | None
    bureau_score: int = Field(ge=300, le=850)
    other_debt: float | None = Field(ge=0)
    dependants: int = Field(ge=0, le=20)
    phone_verified: bool
    address_verified: bool


class LoanRecord(BaseModel):
    model_config = _STRICT
    loan_id: int
    product: Literal[PRODUCTS]
    origination_date: dt.datetime
    principal: float = Field(gt=0)
    annual_rate: float | None = Field(ge=0, le=1)
    term_months: int = Field(ge=0, le=600, description="0 for a revolving line with no term")
    instalment: float = Field(ge=0)
    collateral_type: Literal[COLLATERAL_TYPES]
    collateral_value: float = Field(ge=0)
    has_guarantor: bool
    disputed: bool = False
    deceased: bool = False
    bankrupt: bool = False
    fraud_suspected: bool = False
    flag_date: dt.datetime | None = None


class CycleRecord(BaseModel):
    model_config = _STRICT
    cycle_date: dt.datetime
    due_amount: float = Field(ge=0)
    paid_amount: float = Field(ge=0)
    balance: float = Field(ge=0)
    arrears: float = Field(ge=0)
    dpd: int = Field(ge=0)
    bucket: Literal[BUCKETS] | None = None
    missed_instalments: int = Field(ge=0)
    status_code: int | None = Field(
        default=None,
        ge=STATUS_CODE_MIN,
        le=STATUS_CODE_MAX,
        description="the lender's own repayment status, where the book records one (UCI: -2 no "
        "consumption, -1 paid in full, 0 revolving, k >= 1 months late)",
    )


class ContactRecord(BaseModel):
    model_config = _STRICT
    ts: dt.datetime
    channel: Literal[CHANNELS]
    party: Literal[PARTIES]
    outcome: Literal[OUTCOMES]
    ptp_amount: float | None = Field(default=None, ge=0)
    ptp_date: dt.datetime | None = None


class ActionRecord(BaseModel):
    model_config = _STRICT
    decided_at: dt.datetime
    action: Literal[ACTIONS]
    cost: float = Field(ge=0)
    propensity: float = Field(default=1.0, ge=0, le=1)


class CasePayload(BaseModel):
    """One case: the borrower, the loan, its last cycles (at least the 12 the windows read, the last
    one at as_of), and its recent contacts and actions. ``None`` for contacts/actions means the
    lender keeps no such history (features become NaN); ``[]`` means there were none."""

    model_config = _STRICT
    as_of: dt.datetime
    borrower: BorrowerRecord
    loan: LoanRecord
    cycles: list[CycleRecord] = Field(min_length=1, max_length=MAX_PAYLOAD_CYCLES)
    contacts: list[ContactRecord] | None = None
    actions: list[ActionRecord] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> CasePayload:
        dates = [c.cycle_date for c in self.cycles]
        if len(set(dates)) != len(dates):
            raise ValueError("cycles: cycle_date repeats")
        for c in self.cycles:
            if c.bucket is not None and c.bucket != bucket_of([c.dpd])[0]:
                raise ValueError(f"cycles: bucket {c.bucket} does not match dpd {c.dpd}")
        return self


def _frame(records: list[dict], columns: dict[str, str]) -> pd.DataFrame:
    """Column-wise construction with the contract dtypes (None becomes NaN/NaT)."""
    cols: dict[str, object] = {}
    for col, dtype in columns.items():
        values = [r[col] for r in records]
        if dtype in ("str", "Int64"):  # pandas extension dtypes: None becomes NA
            cols[col] = pd.array(values, dtype=dtype)
        else:
            cols[col] = np.array(values, dtype=dtype)
    return pd.DataFrame(cols, copy=False)


def _later_payload_window_start(payloads: list[CasePayload], days: int) -> np.ndarray:
    """Per payload, the window start of the next later payload of the same loan (NaT if none)."""
    loan_ids = [p.loan.loan_id for p in payloads]
    if len(set(loan_ids)) == len(loan_ids):  # one case per loan: nothing overlaps
        return np.full(len(payloads), np.datetime64("NaT"), dtype="datetime64[ns]")
    frame = pd.DataFrame(
        {
            "loan_id": [p.loan.loan_id for p in payloads],
            "as_of": pd.to_datetime([p.as_of for p in payloads]).astype("datetime64[ns]"),
        }
    )
    order = frame.sort_values(["loan_id", "as_of"], kind="stable")
    nxt = order.groupby("loan_id")["as_of"].shift(-1)
    return (nxt - pd.Timedelta(days=days)).reindex(frame.index).to_numpy(dtype="datetime64[ns]")


def _history(
    payloads: list[CasePayload], field: str, tcol: str, columns: dict[str, str], days: int, strict: bool
) -> pd.DataFrame:
    """One table of a history field. Payloads of the same loan overlap: a row inside the window
    of the loan's next later payload is taken from that payload only, so no event counts twice
    while genuine repeats (two identical calls in one hour) survive."""
    later_start = _later_payload_window_start(payloads, days)
    rows, owner = [], []
    for i, p in enumerate(payloads):
        records = getattr(p, field) or []
        rows += [{"loan_id": p.loan.loan_id, **r.model_dump()} for r in records]
        owner += [i] * len(records)
    frame = _frame(rows, columns)
    if len(frame):
        t = frame[tcol].to_numpy(dtype="datetime64[ns]")
        start = later_start[np.asarray(owner, dtype=np.int64)]
        covered = ~np.isnat(start) & ((t >= start) if strict else (t > start))
        frame = frame[~covered]
    return frame


def payloads_to_tables(payloads: list[CasePayload]) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Raw tables (docs/interfaces.md dtypes) and cases for a batch of payloads.

    Payloads of the same loan (several as_of dates) are merged into one history; each case still
    sees only rows up to its own as_of.
    """
    if not payloads:
        raise InputError("payload: at least one case is required")
    for name in ("contacts", "actions"):
        if len({getattr(p, name) is not None for p in payloads}) > 1:
            raise InputError(f"payload.{name}: give it for every case in a batch or for none")
    borrowers, loans, cycles = [], [], []
    cycle_columns = dict(TABLE_DTYPES["cycles"])
    if any(c.status_code is not None for p in payloads for c in p.cycles):  # optional: only if sent
        cycle_columns.update(OPTIONAL_DTYPES["cycles"])
    for p in payloads:
        lid = p.loan.loan_id
        borrowers.append(p.borrower.model_dump())
        loans.append({**p.loan.model_dump(), "borrower_id": p.borrower.borrower_id})
        for c in p.cycles:
            row = c.model_dump()
            row["bucket"] = row["bucket"] or bucket_of([c.dpd])[0]
            cycles.append({"loan_id": lid, **row})
    tables = {
        "borrowers": _frame(borrowers, TABLE_DTYPES["borrowers"]).drop_duplicates("borrower_id", keep="last"),
        "loans": _frame(loans, TABLE_DTYPES["loans"]).drop_duplicates("loan_id", keep="last"),
        "cycles": _frame(cycles, cycle_columns).drop_duplicates(
            ["loan_id", "cycle_date"], keep="last"
        ),
    }
    if payloads[0].contacts is not None:
        tables["contacts"] = _history(
            payloads, "contacts", "ts", TABLE_DTYPES["contacts"], CONTACT_WINDOW_DAYS, strict=False
        )
    if payloads[0].actions is not None:
        tables["actions"] = _history(
            payloads, "actions", "decided_at", TABLE_DTYPES["actions"], ACTION_WINDOW_DAYS, strict=True
        )
    tables = {k: v.reset_index(drop=True) for k, v in tables.items()}
    cases = pd.DataFrame(
        {
            "loan_id": np.array([p.loan.loan_id for p in payloads], dtype=np.int64),
            "as_of": pd.to_datetime([p.as_of for p in payloads]).astype("datetime64[ns]"),
        }
    )
    return tables, cases
