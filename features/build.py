"""The one code path from raw tables to model inputs, for training and serving alike.

`build_features(tables, cases, cfg)` returns one row per case, row-aligned with ``cases``:
``loan_id``, ``as_of``, then every registry feature in registry order with its registry dtype.
Each case sees only rows stamped at or before its ``as_of`` (actions strictly before), so the same
call is correct for a whole book of historical cases and for one serving payload.

The same code serves one case per request, so fixed per-call costs matter as much as per-row ones:
cases travel as two arrays, table rows are gathered per column (never as a sliced frame), and the
result is assembled from one 2-D block per numeric dtype plus one categorical per category feature.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api.extensions import ExtensionArray

from features._actions import action_features, missing_action_features
from features._contacts import contact_features, missing_contact_features
from features._events import DAY_S, column, column_numpy, to_seconds
from features._repayment import CycleBook, repayment_features
from features.registry import ACTION_WINDOW_DAYS, CONTACT_WINDOW_DAYS, FEATURES, PANDAS_DTYPES
from rollcure.config.features import FeatureConfig
from rollcure.core.domain import FLAGS
from rollcure.core.errors import InputError
from rollcure.core.pandas_compat import frame_from_blocks

_KEY_COLUMNS = ("loan_id", "as_of")
#: Column names as plain Python strings (object dtype), not pandas' default Arrow strings: every
#: model reads the frame's names to find its columns, and listing Arrow strings costs ~20 µs a call.
_COLUMNS = pd.Index([*_KEY_COLUMNS, *(f.name for f in FEATURES)], dtype=object)


def _numeric_blocks() -> dict[str, tuple[list[str], np.ndarray]]:
    """Numeric features grouped by dtype, with their output column positions."""
    names: dict[str, list[str]] = {}
    for f in FEATURES:
        dtype = PANDAS_DTYPES[f.name]
        if isinstance(dtype, str):
            names.setdefault(dtype, []).append(f.name)
    return {dtype: (cols, _COLUMNS.get_indexer(cols)) for dtype, cols in names.items()}


_NUMERIC_BLOCKS = _numeric_blocks()
_CATEGORICAL: dict[str, np.ndarray] = {
    f.name: _COLUMNS.get_indexer([f.name]) for f in FEATURES if f.dtype == "category"
}
#: Registry category -> code, per categorical feature (code -1 is missing, as in `pd.Categorical`).
_CATEGORY_DTYPES: dict[str, pd.CategoricalDtype] = {
    name: dtype for name, dtype in PANDAS_DTYPES.items() if isinstance(dtype, pd.CategoricalDtype)
}
_CODE_OF: dict[str, dict[object, int]] = {
    name: {c: i for i, c in enumerate(dtype.categories)} for name, dtype in _CATEGORY_DTYPES.items()
}


def _first_keys(loan_id: np.ndarray, as_of: np.ndarray, mask: np.ndarray, n: int = 3) -> str:
    rows = np.flatnonzero(mask)[:n]
    return ", ".join(f"({loan_id[i]}, {pd.Timestamp(as_of[i]).date()})" for i in rows)


def _check_cases(cases: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(loan_id int64, as_of datetime64[ns]) of the cases; typed columns skip the conversions."""
    missing = [c for c in _KEY_COLUMNS if c not in cases.columns]
    if missing:
        raise InputError(f"cases: missing column(s) {', '.join(missing)}")
    ids, as_of = column_numpy(cases, "loan_id"), column_numpy(cases, "as_of")
    if ids.dtype.kind in "iu" and as_of.dtype == np.dtype("datetime64[ns]"):
        if np.isnat(as_of).any():
            raise InputError("cases: loan_id and as_of must not be null")
        return ids.astype(np.int64), as_of
    return _convert_cases(ids, as_of)


def _convert_cases(ids: np.ndarray, as_of: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Loose case columns (objects, floats, strings) checked and converted to the typed pair."""
    out = pd.DataFrame({"loan_id": ids, "as_of": as_of})
    if out["as_of"].isna().any() or out["loan_id"].isna().any():
        raise InputError("cases: loan_id and as_of must not be null")
    ids = out["loan_id"]
    if ids.dtype.kind not in "iu":  # 10.7 would silently become loan 10
        num = pd.to_numeric(ids, errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(num).any() or (num != np.floor(num)).any():
            raise InputError("cases.loan_id: must be whole numbers")
        ids = num
    try:
        when = pd.to_datetime(out["as_of"]).astype("datetime64[ns]")
    except (TypeError, ValueError) as exc:
        raise InputError("cases.as_of: must be dates") from exc
    return np.asarray(ids).astype("int64"), when.to_numpy()


#: Up to this many rows a key look-up sorts with numpy; a hash index costs ~60 us just to build.
_SMALL_TABLE = 64


def _positions(keys: np.ndarray, ids: np.ndarray) -> tuple[bool, np.ndarray]:
    """(keys unique, row of each id or -1), as `pd.Index(keys)` with `is_unique`/`get_indexer`."""
    if keys.size > _SMALL_TABLE or keys.dtype != np.int64 or ids.dtype != np.int64:
        index = pd.Index(keys)
        if not index.is_unique:
            return False, np.empty(0, dtype=np.intp)
        return True, index.get_indexer(ids)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if (sorted_keys[1:] == sorted_keys[:-1]).any():
        return False, np.empty(0, dtype=np.intp)
    at = np.minimum(np.searchsorted(sorted_keys, ids), max(keys.size - 1, 0))
    found = sorted_keys[at] == ids if keys.size else np.zeros(ids.size, dtype=bool)
    return True, np.where(found, order[at] if keys.size else -1, -1).astype(np.intp)


def _lookup(
    table: pd.DataFrame, key: str, ids: np.ndarray, name: str, cases: tuple[np.ndarray, np.ndarray]
) -> np.ndarray:
    """Row position in ``table`` of each id, in order; an unknown id is an input error naming the case."""
    unique, pos = _positions(column_numpy(table, key), np.asarray(ids))
    if not unique:
        raise InputError(f"{name}.{key}: key not unique (run `rollcure validate` for the rows)")
    if (pos < 0).any():
        raise InputError(f"{name}.{key}: no row for case(s) {_first_keys(*cases, pos < 0)}")
    return pos


class _Rows:
    """Rows ``pos`` of a table, each column read from the frame once (for one case, reading a
    column costs more than the arithmetic on it)."""

    def __init__(self, table: pd.DataFrame, pos: np.ndarray):
        self.table, self.pos = table, pos
        self._taken: dict[str, np.ndarray | ExtensionArray] = {}

    def __call__(self, name: str, dtype: npt.DTypeLike | None = None) -> np.ndarray:
        """The column at the rows, converted like `Series.to_numpy(dtype)` on the gathered rows."""
        taken = self._taken.get(name)
        if taken is None:
            values = column(self.table, name)
            taken = values[self.pos] if isinstance(values, np.ndarray) else values.take(self.pos)
            self._taken[name] = taken
        if isinstance(taken, np.ndarray):
            return np.asarray(taken, dtype=dtype)
        return taken.to_numpy(dtype=dtype)


def _categorical(
    values: np.ndarray | ExtensionArray, name: str, rows: np.ndarray | None = None
) -> pd.Categorical:
    """Values (at ``rows``, if given) as the feature's registry categorical: one factorize, then a
    code per distinct value (labels outside the registry become missing, as
    `pd.Categorical(values, dtype)` makes them). A few values skip the factorize and look each
    value up (missing values are no category); rows are gathered as codes, not labels."""
    dtype = _CATEGORY_DTYPES[name]
    if isinstance(values, pd.Categorical) and values.dtype == dtype:
        return values if rows is None else values[rows]
    code_of = _CODE_OF[name]
    if len(values) <= _SMALL_TABLE:  # a serving case: a dict look-up per value beats a factorize
        items = values.tolist() if isinstance(values, np.ndarray) else list(values)
        codes = np.array([code_of.get(v, -1) for v in items], dtype=np.int64)  # missing: -1
    else:
        if not isinstance(values, pd.api.extensions.ExtensionArray):
            values = np.asarray(values, dtype=object)
        codes, uniques = pd.factorize(values)
        lut = np.array([code_of.get(u, -1) for u in uniques] + [-1], dtype=np.int64)  # [-1]: missing
        codes = lut[codes]
    return pd.Categorical.from_codes(codes if rows is None else codes[rows], dtype=dtype, validate=False)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


_BORROWER_COLUMNS = ("age", "bureau_score", "other_debt", "dependants", "phone_verified", "address_verified")
_LOAN_COLUMNS = ("principal", "annual_rate", "term_months", "instalment", "collateral_value", "has_guarantor")


def _static_features(loans: _Rows, borrowers: _Rows, as_of: np.ndarray, balance: np.ndarray):
    """Borrower and loan features: attributes as of origination plus flags active at as_of."""
    out = {c: borrowers(c) for c in _BORROWER_COLUMNS}
    for rows, columns in ((borrowers, ("employment", "region")), (loans, ("product", "collateral_type"))):
        for c in columns:  # factorized over the table once, then gathered
            out[c] = _categorical(column(rows.table, c), c, rows.pos)
    out.update({c: loans(c) for c in _LOAN_COLUMNS})
    income = borrowers("monthly_income", np.float64)
    instalment = loans("instalment", np.float64)
    as_of_m = as_of.astype("datetime64[M]").astype(np.int64)
    orig_m = loans("origination_date", "datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    mob = np.maximum(as_of_m - orig_m, 0)
    out["monthly_income"] = income
    out["debt_to_income"] = _ratio(borrowers("other_debt", np.float64), income)
    out["months_on_book"] = mob
    term = loans("term_months", np.int64)
    out["remaining_term"] = np.where(term > 0, np.maximum(term - mob, 0), np.nan)
    out["instalment_to_income"] = _ratio(instalment, income)
    out["loan_to_value"] = _ratio(balance, loans("collateral_value", np.float64))
    out["balance_to_principal"] = _ratio(balance, loans("principal", np.float64))
    flag_date = loans("flag_date", "datetime64[ns]")
    known = np.isnat(flag_date) | (flag_date <= as_of)
    any_flag = np.zeros(as_of.size, dtype=bool)
    for flag in FLAGS:
        active = loans(flag, bool) & known
        out[f"{flag}_now"] = active
        any_flag |= active
    out["any_flag_now"] = any_flag
    return out


def _assemble(loan_id: np.ndarray, as_of: np.ndarray, values: dict[str, np.ndarray]) -> pd.DataFrame:
    """Registry order and dtypes; categories fixed by the registry. One 2-D block per numeric
    dtype: a small frame's cost is per block, and a wide frame of per-column blocks makes every
    later column selection slow."""
    n = loan_id.size
    blocks: list[tuple[object, np.ndarray]] = [(as_of.reshape(1, n), np.array([1]))]  # datetime64[ns]
    for dtype, (names, places) in _NUMERIC_BLOCKS.items():
        block = np.array([values[name] for name in names], dtype=dtype).reshape(len(names), n)
        if dtype == "int64":
            block = np.concatenate([loan_id.reshape(1, n), block])
            places = np.concatenate([[0], places])
        blocks.append((block, places))
    blocks += [(_categorical(values[name], name), place) for name, place in _CATEGORICAL.items()]
    return frame_from_blocks(blocks, n, _COLUMNS)


def build_features(
    tables: dict[str, pd.DataFrame], cases: pd.DataFrame, cfg: FeatureConfig
) -> pd.DataFrame:
    """Features of each case (loan_id, as_of) from the raw tables, row-aligned with ``cases``.

    ``contacts`` and ``actions`` may be absent from ``tables``: their features are then NaN; so are
    the status-count features when ``cycles`` has no optional ``status_code`` column.
    Every case needs a cycle row stamped exactly at its as_of (a case is a loan at a cycle end).
    """
    loan_id, as_of = _check_cases(cases)
    n = loan_id.size
    as_of_s = to_seconds(as_of, ceil=False)
    t_min = int(as_of_s.min(initial=0)) - (max(ACTION_WINDOW_DAYS, CONTACT_WINDOW_DAYS) + 1) * DAY_S
    t_max = int(as_of_s.max(initial=0)) + DAY_S

    loans = _Rows(tables["loans"], _lookup(tables["loans"], "loan_id", loan_id, "loans", (loan_id, as_of)))
    bpos = _lookup(tables["borrowers"], "borrower_id", loans("borrower_id"), "borrowers", (loan_id, as_of))
    borrowers = _Rows(tables["borrowers"], bpos)
    book = CycleBook.build(tables["cycles"], t_min, t_max)
    pos, start, exact = book.case_rows(loan_id, as_of_s)
    if not exact.all():
        raise InputError(f"cycles: no cycle row at as_of for case(s) {_first_keys(loan_id, as_of, ~exact)}")

    values = repayment_features(book, pos, start, loans("instalment", np.float64))
    values.update(_static_features(loans, borrowers, as_of, values["balance"]))
    if "contacts" in tables and tables["contacts"] is not None:
        values.update(
            contact_features(tables["contacts"], book, loan_id, as_of_s, t_min, t_max, cfg.ptp_kept_share)
        )
    else:
        values.update(missing_contact_features(n))
    if "actions" in tables and tables["actions"] is not None:
        values.update(
            action_features(tables["actions"], loan_id, as_of_s, t_min, t_max, cfg.restructuring_active_days)
        )
    else:
        values.update(missing_action_features(n))
    return _assemble(loan_id, as_of, values)
