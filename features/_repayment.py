"""Repayment features: windows over a loan's last cycle rows up to and including as_of.

The cycle row of each case is found with one search over the sorted book; every window is then a
handful of lagged reads (a loop over lags 0..11, never over rows), so only the case rows are
computed, not every cycle of the book.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features._events import CENT, EventIndex, to_seconds
from features.registry import CYCLE_WINDOW, STATUS_COUNT_WINDOW
from rollcure.domain import bucket_index, bucket_of, tier_by_dpd, tier_by_missed

#: The lender's own status codes the count features read (cycles.status_code, docs/interfaces.md).
STATUS_NO_CONSUMPTION, STATUS_PAID_IN_FULL, STATUS_REVOLVING = -2, -1, 0
#: Feature name -> status code it counts over the last ``STATUS_COUNT_WINDOW`` cycles.
STATUS_COUNTS: dict[str, int] = {
    f"no_consumption_cycles_{STATUS_COUNT_WINDOW}": STATUS_NO_CONSUMPTION,
    f"paid_in_full_cycles_{STATUS_COUNT_WINDOW}": STATUS_PAID_IN_FULL,
    f"revolving_cycles_{STATUS_COUNT_WINDOW}": STATUS_REVOLVING,
}


@dataclass
class CycleBook:
    """The cycles table sorted by (loan, cycle_date), with its search index."""

    index: EventIndex
    t: np.ndarray
    dpd: np.ndarray
    due: np.ndarray
    paid: np.ndarray
    balance: np.ndarray
    arrears: np.ndarray
    missed: np.ndarray
    status: np.ndarray | None  # status_code as float, NaN where null; None: the book has no column

    @classmethod
    def build(cls, cycles: pd.DataFrame, t_min: int, t_max: int) -> CycleBook:
        t = to_seconds(cycles["cycle_date"])
        index = EventIndex.build(cycles["loan_id"].to_numpy(), t, t_min, t_max)
        o = index.order

        def col(name: str, dtype: str) -> np.ndarray:
            return cycles[name].to_numpy(dtype=dtype)[o]

        return cls(
            index=index,
            t=t[o],
            dpd=col("dpd", "int64"),
            due=col("due_amount", "float64"),
            paid=col("paid_amount", "float64"),
            balance=col("balance", "float64"),
            arrears=col("arrears", "float64"),
            missed=col("missed_instalments", "int64"),
            status=_status_codes(cycles)[o] if "status_code" in cycles.columns else None,
        )

    def case_rows(
        self, loan_id: np.ndarray, as_of_s: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sorted position of each case's latest cycle at or before as_of, the loan's first row,
        and whether that latest cycle is stamped exactly at as_of."""
        pos = self.index.position(loan_id, as_of_s, side="right") - 1
        start = self.index.block_start(loan_id)
        has = pos >= start
        exact = np.zeros(pos.size, dtype=bool)
        exact[has] = self.t[pos[has]] == as_of_s[has]
        return pos, start, exact


def _status_codes(cycles: pd.DataFrame) -> np.ndarray:
    """The optional status_code column as float64, NaN where the book has no code for a cycle."""
    return cycles["status_code"].to_numpy(dtype=np.float64, na_value=np.nan)


def _status_counts(book: CycleBook, pos: np.ndarray, start: np.ndarray) -> dict[str, np.ndarray]:
    """Cycles with each counted status code in the window; NaN without codes (a null in the window
    makes the count unknown: it is never read as "some other code")."""
    if book.status is None:
        return {name: np.full(pos.size, np.nan) for name in STATUS_COUNTS}
    known = ~np.isnan(book.status)
    return {
        name: _window(np.where(known, book.status == code, np.nan), pos, start, STATUS_COUNT_WINDOW, "sum")
        for name, code in STATUS_COUNTS.items()
    }


def _lagged(
    values: np.ndarray, pos: np.ndarray, start: np.ndarray, lag: int
) -> tuple[np.ndarray, np.ndarray]:
    """Values ``lag`` rows before each case row, and whether that row belongs to the same loan."""
    ok = pos - lag >= start
    return values[np.where(ok, pos - lag, pos)], ok


def _window(values: np.ndarray, pos, start, k: int, how: str) -> np.ndarray:
    acc = values[pos].astype(np.float64)
    for lag in range(1, k):
        v, ok = _lagged(values, pos, start, lag)
        if how == "max":
            acc = np.where(ok, np.maximum(acc, v), acc)
        else:
            acc = acc + np.where(ok, v, 0.0)
    return acc


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > CENT, num / np.where(den > CENT, den, 1.0), np.nan)


def repayment_features(
    book: CycleBook, pos: np.ndarray, start: np.ndarray, instalment: np.ndarray
) -> dict[str, np.ndarray]:
    """Repayment features of the cases whose cycle rows sit at sorted positions ``pos``."""
    dpd = book.dpd[pos]
    delinquent = (book.dpd > 0).astype(np.float64)
    paid_any = (book.paid > CENT).astype(np.float64)
    out: dict[str, np.ndarray] = {
        "dpd": dpd,
        "bucket": bucket_of(dpd),
        "bucket_index": bucket_index(dpd).astype(np.int64),
        "tier_by_dpd": tier_by_dpd(dpd),
        "tier_by_missed": tier_by_missed(book.missed[pos]),
        "missed_instalments": book.missed[pos],
        "balance": book.balance[pos],
        "arrears": book.arrears[pos],
        "due_amount": book.due[pos],
        "paid_amount": book.paid[pos],
        "max_dpd_3": _window(book.dpd, pos, start, 3, "max").astype(np.int64),
        "max_dpd_6": _window(book.dpd, pos, start, 6, "max").astype(np.int64),
        "max_dpd_12": _window(book.dpd, pos, start, CYCLE_WINDOW, "max").astype(np.int64),
        "delinquent_cycles_6": _window(delinquent, pos, start, 6, "sum").astype(np.int64),
        "delinquent_cycles_12": _window(delinquent, pos, start, CYCLE_WINDOW, "sum").astype(np.int64),
        "paid_cycles_6": _window(paid_any, pos, start, 6, "sum").astype(np.int64),
    }
    out["paid_to_due_1"] = _ratio(book.paid[pos], book.due[pos])
    for k in (3, 6):
        out[f"paid_to_due_{k}"] = _ratio(
            _window(book.paid, pos, start, k, "sum"), _window(book.due, pos, start, k, "sum")
        )

    cured = np.zeros(pos.size, dtype=np.int64)
    streak = np.zeros(pos.size, dtype=np.int64)
    alive = np.ones(pos.size, dtype=bool)
    since_full = np.full(pos.size, np.nan)
    for lag in range(CYCLE_WINDOW):
        row = np.where(pos - lag >= start, pos - lag, pos)
        ok = pos - lag >= start
        missed_row = (book.paid[row] <= CENT) & (book.due[row] > CENT)
        alive &= ok & missed_row
        streak += alive
        full = ok & (book.paid[row] >= np.minimum(book.due[row], instalment) - CENT)
        since_full = np.where(np.isnan(since_full) & full, float(lag), since_full)
        if lag < CYCLE_WINDOW - 1:
            prev_ok = pos - lag - 1 >= start
            prev = np.where(prev_ok, pos - lag - 1, pos)
            cured += ok & prev_ok & (book.dpd[row] == 0) & (book.dpd[prev] > 0)
    out["times_cured_12"] = cured
    out["consecutive_missed"] = streak
    out["cycles_since_full_payment"] = since_full
    out["arrears_to_instalment"] = _ratio(book.arrears[pos], instalment)
    bal3, ok3 = _lagged(book.balance, pos, start, 3)
    out["balance_trend_3"] = np.where(ok3, _ratio(book.balance[pos], bal3) - 1.0, np.nan)
    prev_dpd, ok1 = _lagged(book.dpd, pos, start, 1)
    out["dpd_change_1"] = np.where(ok1, (dpd - prev_dpd).astype(np.float64), np.nan)
    out["cycles_observed"] = np.minimum(pos - start + 1, CYCLE_WINDOW).astype(np.int64)
    out.update(_status_counts(book, pos, start))
    return out
