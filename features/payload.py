"""One case as a serving request, turned back into raw tables for the same `build_features`.

Serving never computes a feature itself: it validates the request with these pydantic models,
rebuilds the five raw tables with `payloads_to_tables`, and calls `features.build.build_features`,
the same function training uses. `features.payload_from_tables` goes the other way (clients, demo,
tests).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Annotated, Literal, TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.extensions import ExtensionArray, ExtensionDtype
from pandas.api.types import pandas_dtype
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictBool, model_validator

from features.payload_rules import case_problems, refuse
from features.registry import ACTION_WINDOW_DAYS, CONTACT_WINDOW_DAYS
from features.schemas import (
    DATE_MIN,
    MAX_AMOUNT,
    MAX_DPD,
    MAX_MISSED_INSTALMENTS,
    OPTIONAL_DTYPES,
    STATUS_CODE_MAX,
    STATUS_CODE_MIN,
    TABLE_DTYPES,
)
from rollcure.core.catalogue import ACTIONS
from rollcure.core.domain import (
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
from rollcure.core.errors import InputError
from rollcure.core.pandas_compat import frame_from_blocks

# The vocabularies are data (``rollcure.core.domain`` and the action catalogue), so pydantic checks a
# value against them and publishes them as enums in the OpenAPI document; to the type checker a
# member of one is a str.
if TYPE_CHECKING:
    Employment: TypeAlias = str
    Region: TypeAlias = str
    Product: TypeAlias = str
    CollateralType: TypeAlias = str
    Bucket: TypeAlias = str
    Channel: TypeAlias = str
    Party: TypeAlias = str
    Outcome: TypeAlias = str
    ActionName: TypeAlias = str
else:
    Employment = Literal[EMPLOYMENTS]
    Region = Literal[REGIONS]
    Product = Literal[PRODUCTS]
    CollateralType = Literal[COLLATERAL_TYPES]
    Bucket = Literal[BUCKETS]
    Channel = Literal[CHANNELS]
    Party = Literal[PARTIES]
    Outcome = Literal[OUTCOMES]
    ActionName = Literal[ACTIONS]

#: One typed column of a raw table: a numpy array or a pandas extension array (nullable, category).
Column: TypeAlias = np.ndarray | ExtensionArray
MAX_PAYLOAD_CYCLES = 60
#: No field takes NaN or infinity: the JSON tokens ``NaN``/``Infinity`` are refused by type.
_STRICT = ConfigDict(extra="forbid", allow_inf_nan=False)
_DATE_MIN = DATE_MIN.to_pydatetime()
#: The tables hold date-times as datetime64[ns], which ends in 2262-04-11.
_DATE_MAX = dt.datetime(2262, 1, 1)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _local_in_table_range(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is not None:  # the tables' date-times are naive; comparing them would fail
        raise ValueError("time zone given (date-times are local without an offset, e.g. 2025-06-30T00:00:00)")
    if value < _DATE_MIN:
        raise ValueError(f"before {_DATE_MIN:%Y-%m-%d}")
    if value >= _DATE_MAX:
        raise ValueError(f"on or after {_DATE_MAX:%Y-%m-%d}, beyond the tables' date-time range")
    return value


def _within_int64(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError("integer out of the 64-bit range (the tables' integer type)")
    return value


# The contract's ranges (``features.schemas``), so a request is held to what a book is held to.
# Every field is typed so that what the raw tables cannot hold is refused by the field itself
# (one pass of pydantic's own code, no walk over the model afterwards); ``tests/test_payload_types``
# checks that no int, float or date-time field is left without its bound.
#: A local date-time (no offset) in [``features.schemas.DATE_MIN``, 2262-01-01).
Timestamp = Annotated[dt.datetime, AfterValidator(_local_in_table_range)]
#: An identifier: any integer the tables' int64 columns can hold.
Id = Annotated[int, AfterValidator(_within_int64)]
#: A money amount in [0, MAX_AMOUNT].
Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT)]


class BorrowerRecord(BaseModel):
    model_config = _STRICT
    borrower_id: Id
    age: int = Field(ge=18, le=110)
    monthly_income: Amount | None
    employment: Employment | None
    region: Region | None
    bureau_score: int = Field(ge=300, le=850)
    other_debt: Amount | None
    dependants: int = Field(ge=0, le=20)
    phone_verified: StrictBool
    address_verified: StrictBool


class LoanRecord(BaseModel):
    model_config = _STRICT
    loan_id: Id
    product: Product
    origination_date: Timestamp
    principal: float = Field(gt=0, le=MAX_AMOUNT)
    annual_rate: float | None = Field(ge=0, le=1)
    term_months: int = Field(ge=0, le=600, description="0 for a revolving line with no term")
    instalment: Amount
    collateral_type: CollateralType
    collateral_value: Amount
    has_guarantor: StrictBool
    disputed: StrictBool = False
    deceased: StrictBool = False
    bankrupt: StrictBool = False
    fraud_suspected: StrictBool = False
    flag_date: Timestamp | None = None


class CycleRecord(BaseModel):
    model_config = _STRICT
    cycle_date: Timestamp
    due_amount: Amount
    paid_amount: Amount
    balance: Amount
    arrears: Amount
    dpd: int = Field(ge=0, le=MAX_DPD)
    bucket: Bucket | None = None
    missed_instalments: int = Field(ge=0, le=MAX_MISSED_INSTALMENTS)
    status_code: int | None = Field(
        default=None,
        ge=STATUS_CODE_MIN,
        le=STATUS_CODE_MAX,
        description="the lender's own repayment status, where the book records one (UCI: -2 no "
        "consumption, -1 paid in full, 0 revolving, k >= 1 months late)",
    )


class ContactRecord(BaseModel):
    model_config = _STRICT
    ts: Timestamp
    channel: Channel
    party: Party
    outcome: Outcome
    ptp_amount: Amount | None = None
    ptp_date: Timestamp | None = None


class ActionRecord(BaseModel):
    model_config = _STRICT
    decided_at: Timestamp
    action: ActionName
    cost: Amount
    propensity: float = Field(default=1.0, ge=0, le=1)


class CasePayload(BaseModel):
    """One case: the borrower, the loan, its last cycles (at least the 12 the windows read, the last
    one at as_of), and its recent contacts and actions. ``None`` for contacts/actions means the
    lender keeps no such history (features become NaN); ``[]`` means there were none."""

    model_config = _STRICT
    as_of: Timestamp
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
        implied = bucket_of(np.array([c.dpd for c in self.cycles], dtype=np.int64)).tolist()
        for c, b in zip(self.cycles, implied, strict=True):
            if c.bucket is not None and c.bucket != b:
                raise ValueError(f"cycles: bucket {c.bucket} does not match dpd {c.dpd}")
        refuse(case_problems(self))
        return self


_EPOCH = dt.datetime(1970, 1, 1)
_US = dt.timedelta(microseconds=1)
_NS_PER_US = 1000
#: Microseconds since the epoch whose nanoseconds fit datetime64[ns] (NaT excluded).
_US_RANGE = (-(2**63 // _NS_PER_US) + 1, (2**63 - 1) // _NS_PER_US)


def _naive_datetimes(values: list) -> np.ndarray | None:
    """datetime64[ns] of naive datetimes (None is NaT) by integer arithmetic, since numpy converts
    Python datetimes one object at a time at ~3 us each; None for anything else (time zones,
    dates out of range), which the caller converts as before."""
    if not all(v is None or (type(v) is dt.datetime and v.tzinfo is None) for v in values):
        return None
    us = [0 if v is None else (v - _EPOCH) // _US for v in values]
    if us and not (_US_RANGE[0] <= min(us) and max(us) <= _US_RANGE[1]):
        return None
    ns = np.array(us, dtype=np.int64) * _NS_PER_US
    ns[np.array([v is None for v in values], dtype=bool)] = np.iinfo(np.int64).min  # NaT
    return ns.view("datetime64[ns]")


@functools.cache
def _resolved(dtype: str) -> np.dtype | ExtensionDtype:
    return pandas_dtype(dtype)  # resolving a dtype name costs a registry scan


#: The contract's string dtype; plain strings and None go straight to an arrow array (as
#: ``pd.array`` stores them) without its per-value checks.
_STR = _resolved("str")


def _array(values: list, dtype: str) -> Column:
    """One column with its contract dtype (None becomes NaN/NaT/NA), as `pd.array` / `np.array`
    would build it but without their per-call type inference."""
    resolved = _resolved(dtype)
    if resolved is _STR and all(v is None or type(v) is str for v in values):
        return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()), dtype=resolved)
    if isinstance(resolved, ExtensionDtype):  # str, Int64: None becomes NA
        return pd.array(values, dtype=resolved)
    if resolved.kind == "M":
        fast = _naive_datetimes(values)
        if fast is not None:
            return fast
    return np.array(values, dtype=resolved)


def _columns(records: list, columns: dict[str, str], given: dict[str, Column]) -> dict[str, Column]:
    """Typed columns of pydantic ``records``; ``given`` holds columns that are not record fields."""
    return {
        col: given[col] if col in given else _array([getattr(r, col) for r in records], dtype)
        for col, dtype in columns.items()
    }


@functools.cache
def _column_index(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(list(names))


def _frame(columns: dict[str, Column], rows: np.ndarray | None = None) -> pd.DataFrame:
    """A frame of the typed columns (optionally only ``rows``): one 2-D block per numpy dtype and
    one per extension column, handed to `frame_from_blocks` (the DataFrame constructor's
    per-column checks cost more than one case's data)."""
    numpy_cols: dict[np.dtype, list[int]] = {}
    blocks = []
    arrays = [v if rows is None else v.take(rows) for v in columns.values()]
    for place, values in enumerate(arrays):
        if isinstance(values, np.ndarray):
            numpy_cols.setdefault(values.dtype, []).append(place)
        else:
            blocks.append((values, np.array([place])))
    for places in numpy_cols.values():
        blocks.append((np.array([arrays[p] for p in places]), np.array(places)))
    return frame_from_blocks(blocks, len(arrays[0]), _column_index(tuple(columns)))


def _keep_last(*keys: np.ndarray) -> np.ndarray | None:
    """Rows that `drop_duplicates(keep="last")` keeps on these key columns, or None when no key
    repeats (the usual case, which then costs one sort of a few rows)."""
    n = keys[0].size
    if n < 2:
        return None
    order = np.lexsort([k.view(np.int64) if k.dtype.kind == "M" else k for k in reversed(keys)])
    same_as_next = np.ones(n - 1, dtype=bool)
    for k in keys:
        ks = k[order]
        same_as_next &= ks[1:] == ks[:-1]
    if not same_as_next.any():
        return None
    return np.sort(order[np.append(~same_as_next, True)])  # the last of each run of equal keys


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
    per_payload = [getattr(p, field) or [] for p in payloads]
    records = [r for rs in per_payload for r in rs]
    owner = np.repeat(np.arange(len(payloads)), [len(rs) for rs in per_payload])
    loan_ids = np.array([p.loan.loan_id for p in payloads], dtype=np.int64)
    t = _array([getattr(r, tcol) for r in records], columns[tcol])
    cols = _columns(records, columns, {"loan_id": loan_ids[owner], tcol: t})
    later_start = _later_payload_window_start(payloads, days)
    if not len(records) or np.isnat(later_start).all():
        return _frame(cols)
    start = later_start[owner]
    covered = ~np.isnat(start) & ((t >= start) if strict else (t > start))
    return _frame(cols, np.flatnonzero(~covered))


def _cycles(payloads: list[CasePayload]) -> pd.DataFrame:
    """The cycles table; a cycle without a bucket gets the one its DPD implies."""
    records = [c for p in payloads for c in p.cycles]
    columns = dict(TABLE_DTYPES["cycles"])
    if any(c.status_code is not None for c in records):  # optional: only if sent
        columns.update(OPTIONAL_DTYPES["cycles"])
    loan_id = np.repeat(
        np.array([p.loan.loan_id for p in payloads], dtype=np.int64), [len(p.cycles) for p in payloads]
    )
    implied = bucket_of(np.array([c.dpd for c in records], dtype=np.int64))
    bucket = [c.bucket if c.bucket is not None else b for c, b in zip(records, implied, strict=True)]
    cycle_date = _array([c.cycle_date for c in records], columns["cycle_date"])
    given = {"loan_id": loan_id, "cycle_date": cycle_date, "bucket": _array(bucket, columns["bucket"])}
    return _frame(_columns(records, columns, given), _keep_last(loan_id, cycle_date))


def _cases(payloads: list[CasePayload]) -> pd.DataFrame:
    as_of = [p.as_of for p in payloads]
    when = _naive_datetimes(as_of)
    if when is None:  # time zones and the like: pandas decides (and may refuse)
        when = pd.to_datetime(as_of).astype("datetime64[ns]").to_numpy()
    loan_id = np.array([p.loan.loan_id for p in payloads], dtype=np.int64)
    return _frame({"loan_id": loan_id, "as_of": when})


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
    borrowers = _columns([p.borrower for p in payloads], TABLE_DTYPES["borrowers"], {})
    borrower_id = np.array([p.borrower.borrower_id for p in payloads], dtype=np.int64)
    loans = _columns([p.loan for p in payloads], TABLE_DTYPES["loans"], {"borrower_id": borrower_id})
    tables = {
        "borrowers": _frame(borrowers, _keep_last(borrowers["borrower_id"])),
        "loans": _frame(loans, _keep_last(loans["loan_id"])),
        "cycles": _cycles(payloads),
    }
    if payloads[0].contacts is not None:
        tables["contacts"] = _history(
            payloads, "contacts", "ts", TABLE_DTYPES["contacts"], CONTACT_WINDOW_DAYS, strict=False
        )
    if payloads[0].actions is not None:
        tables["actions"] = _history(
            payloads, "actions", "decided_at", TABLE_DTYPES["actions"], ACTION_WINDOW_DAYS, strict=True
        )
    return tables, _cases(payloads)
