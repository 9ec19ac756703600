"""The one code path from raw tables to model inputs, for training and serving alike.

`build_features(tables, cases, cfg)` returns one row per case, row-aligned with ``cases``:
``loan_id``, ``as_of``, then every registry feature in registry order with its registry dtype.
Each case sees only rows stamped at or before its ``as_of`` (actions strictly before), so the same
call is correct for a whole book of historical cases and for one serving payload.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features._actions import action_features, missing_action_features
from features._contacts import contact_features, missing_contact_features
from features._events import DAY_S, to_seconds
from features._repayment import CycleBook, repayment_features
from features.config import FeatureConfig
from features.registry import ACTION_WINDOW_DAYS, CONTACT_WINDOW_DAYS, FEATURES, PANDAS_DTYPES
from rollcure.domain import FLAGS
from rollcure.errors import InputError


def _first_keys(frame: pd.DataFrame, mask: np.ndarray, n: int = 3) -> str:
    rows = frame.loc[np.asarray(mask), ["loan_id", "as_of"]].head(n)
    return ", ".join(f"({r.loan_id}, {pd.Timestamp(r.as_of).date()})" for r in rows.itertuples())


def _check_cases(cases: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in ("loan_id", "as_of") if c not in cases.columns]
    if missing:
        raise InputError(f"cases: missing column(s) {', '.join(missing)}")
    out = pd.DataFrame({"loan_id": cases["loan_id"].to_numpy(), "as_of": cases["as_of"].to_numpy()})
    if out["as_of"].isna().any() or out["loan_id"].isna().any():
        raise InputError("cases: loan_id and as_of must not be null")
    ids = out["loan_id"]
    if ids.dtype.kind not in "iu":  # 10.7 would silently become loan 10
        num = pd.to_numeric(ids, errors="coerce").to_numpy(dtype=np.float64)
        if np.isnan(num).any() or (num != np.floor(num)).any():
            raise InputError("cases.loan_id: must be whole numbers")
        ids = num
    out["loan_id"] = np.asarray(ids).astype("int64")
    try:
        out["as_of"] = pd.to_datetime(out["as_of"]).astype("datetime64[ns]")
    except (TypeError, ValueError) as exc:
        raise InputError("cases.as_of: must be dates") from exc
    return out


def _lookup(table: pd.DataFrame, key: str, ids: np.ndarray, name: str, cases: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``table`` for each id, in order; an unknown id is an input error naming the case."""
    index = pd.Index(table[key])
    if not index.is_unique:
        raise InputError(f"{name}.{key}: key not unique (run `rollcure validate` for the rows)")
    pos = index.get_indexer(ids)
    if (pos < 0).any():
        raise InputError(f"{name}.{key}: no row for case(s) {_first_keys(cases, pos < 0)}")
    return table.iloc[pos].reset_index(drop=True)


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def _static_features(loans: pd.DataFrame, borrowers: pd.DataFrame, as_of: np.ndarray, balance: np.ndarray):
    """Borrower and loan features: attributes as of origination plus flags active at as_of."""
    income = borrowers["monthly_income"].to_numpy(dtype=np.float64)
    instalment = loans["instalment"].to_numpy(dtype=np.float64)
    as_of_m = as_of.astype("datetime64[M]").astype(np.int64)
    orig_m = (
        loans["origination_date"].to_numpy(dtype="datetime64[ns]").astype("datetime64[M]").astype(np.int64)
    )
    mob = np.maximum(as_of_m - orig_m, 0)
    out = {
        c: borrowers[c].to_numpy()
        for c in (
            "age",
            "employment",
            "region",
            "bureau_score",
            "other_debt",
            "dependants",
            "phone_verified",
            "address_verified",
        )
    }
    out["monthly_income"] = income
    out["debt_to_income"] = _ratio(borrowers["other_debt"].to_numpy(dtype=np.float64), income)
    out.update(
        {
            c: loans[c].to_numpy()
            for c in (
                "product",
                "principal",
                "annual_rate",
                "term_months",
                "instalment",
                "collateral_type",
                "collateral_value",
                "has_guarantor",
            )
        }
    )
    out["months_on_book"] = mob
    term = loans["term_months"].to_numpy(dtype=np.int64)
    out["remaining_term"] = np.where(term > 0, np.maximum(term - mob, 0), np.nan)
    out["instalment_to_income"] = _ratio(instalment, income)
    out["loan_to_value"] = _ratio(balance, loans["collateral_value"].to_numpy(dtype=np.float64))
    out["balance_to_principal"] = _ratio(balance, loans["principal"].to_numpy(dtype=np.float64))
    flag_date = loans["flag_date"].to_numpy(dtype="datetime64[ns]")
    known = np.isnat(flag_date) | (flag_date <= as_of)
    any_flag = np.zeros(len(loans), dtype=bool)
    for flag in FLAGS:
        active = loans[flag].to_numpy(dtype=bool) & known
        out[f"{flag}_now"] = active
        any_flag |= active
    out["any_flag_now"] = any_flag
    return out


def _assemble(cases: pd.DataFrame, values: dict[str, np.ndarray]) -> pd.DataFrame:
    """Registry order and dtypes; categories fixed by the registry."""
    cols: dict[str, object] = {"loan_id": cases["loan_id"].to_numpy(), "as_of": cases["as_of"].to_numpy()}
    for f in FEATURES:
        v, dtype = values[f.name], PANDAS_DTYPES[f.name]
        if f.dtype == "category":
            cols[f.name] = pd.Categorical(np.asarray(v, dtype=object), dtype=dtype)
        else:
            cols[f.name] = np.asarray(v).astype(dtype, copy=False)
    return pd.DataFrame(cols, copy=False)


def build_features(
    tables: dict[str, pd.DataFrame], cases: pd.DataFrame, cfg: FeatureConfig | object
) -> pd.DataFrame:
    """Features of each case (loan_id, as_of) from the raw tables, row-aligned with ``cases``.

    ``contacts`` and ``actions`` may be absent from ``tables``: their features are then NaN; so are
    the status-count features when ``cycles`` has no optional ``status_code`` column.
    Every case needs a cycle row stamped exactly at its as_of (a case is a loan at a cycle end).
    ``cfg`` is the `FeatureConfig` or the whole `RollcureConfig` (its ``features`` section is used).
    """
    cfg = getattr(cfg, "features", cfg)  # the whole RollcureConfig or its features section
    cases = _check_cases(cases)
    n = len(cases)
    loan_id = cases["loan_id"].to_numpy()
    as_of = cases["as_of"].to_numpy(dtype="datetime64[ns]")
    as_of_s = to_seconds(as_of, ceil=False)
    t_min = int(as_of_s.min(initial=0)) - (max(ACTION_WINDOW_DAYS, CONTACT_WINDOW_DAYS) + 1) * DAY_S
    t_max = int(as_of_s.max(initial=0)) + DAY_S

    loans = _lookup(tables["loans"], "loan_id", loan_id, "loans", cases)
    borrowers = _lookup(
        tables["borrowers"], "borrower_id", loans["borrower_id"].to_numpy(), "borrowers", cases
    )
    book = CycleBook.build(tables["cycles"], t_min, t_max)
    pos, start, exact = book.case_rows(loan_id, as_of_s)
    if not exact.all():
        raise InputError(f"cycles: no cycle row at as_of for case(s) {_first_keys(cases, ~exact)}")

    instalment = loans["instalment"].to_numpy(dtype=np.float64)
    values = repayment_features(book, pos, start, instalment)
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
    return _assemble(cases, values)
