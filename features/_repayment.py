"""Repayment features: windows over a loan's last cycle rows up to and including as_of.

The cycle row of each case is found with one search over the sorted book; every window is then read
from one (cases, lags 0..11) gather of that row and the rows before it, so only the case rows are
computed, not every cycle of the book, and the number of numpy calls does not grow with the lags.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features._events import CENT, EventIndex, column_numpy, to_seconds
from features.registry import CYCLE_WINDOW, STATUS_COUNT_WINDOW
from rollcure.core.domain import bucket_index, bucket_of, tier_by_dpd, tier_by_missed

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
        t = to_seconds(column_numpy(cycles, "cycle_date"))
        index = EventIndex.build(column_numpy(cycles, "loan_id"), t, t_min, t_max)
        o = index.order

        def col(name: str, dtype: str) -> np.ndarray:
            return column_numpy(cycles, name, dtype)[o]

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
    return column_numpy(cycles, "status_code", np.float64, na_value=np.nan)


class _Lags:
    """The case rows and the ``CYCLE_WINDOW - 1`` rows before each, as one (cases, lags) gather.

    Row ``lag`` holds the sorted position ``lag`` rows before each case row, or the case row
    itself where that row belongs to an earlier loan (``ok`` is then False). Every window feature
    reads its column once through this matrix instead of once per lag: for one serving case the
    per-lag numpy calls cost more than the data. Lags are the first axis so that running totals
    along them work on contiguous rows of cases (fast for a whole book too).
    """

    def __init__(self, pos: np.ndarray, start: np.ndarray):
        rows = pos - np.arange(CYCLE_WINDOW)[:, None]
        self.ok = rows >= start
        self.rows = np.where(self.ok, rows, pos)

    def take(self, values: np.ndarray, k: int = CYCLE_WINDOW) -> np.ndarray:
        return values[self.rows[:k]]

    def running(self, taken: np.ndarray, how: str) -> np.ndarray:
        """Window totals of gathered values over lags 0..j in row j, for every window at once. Sums
        add lag after lag in float64 (an accumulate, never a pairwise sum), so every window keeps
        the rounding of the per-lag loop it replaces; rows of other loans add 0 (sum) or nothing
        (max, in the values' own dtype: exact)."""
        k = taken.shape[0]
        if how == "max":
            return np.maximum.accumulate(np.where(self.ok[:k], taken, taken[0]), axis=0)
        v = taken.astype(np.float64)
        v[1:] = np.where(self.ok[1:k], v[1:], 0.0)
        return np.add.accumulate(v, axis=0)


def cycle_window(values: np.ndarray, pos: np.ndarray, start: np.ndarray, k: int, how: str) -> np.ndarray:
    """Sum or max (``how``) of sorted ``values`` over each case's last ``k`` rows of its own loan,
    ``pos``/``start`` as `CycleBook.case_rows` gives them. `repayment_features` computes all its
    windows in one pass; this one-window form is public so benchmarks and SQL cross-checks can
    compute a few windows with the pipeline's own code."""
    lags = _Lags(pos, start)
    return lags.running(lags.take(values, k), how)[k - 1].astype(np.float64)


def _status_counts(book: CycleBook, lags: _Lags, n: int) -> dict[str, np.ndarray]:
    """Cycles with each counted status code in the window; NaN without codes (a null in the window
    makes the count unknown: it is never read as "some other code")."""
    if book.status is None:
        return {name: np.full(n, np.nan) for name in STATUS_COUNTS}
    k = STATUS_COUNT_WINDOW
    status = lags.take(book.status, k)
    known = ~np.isnan(status)
    out = {}
    for name, code in STATUS_COUNTS.items():
        counted = np.where(known, status == code, np.nan)
        counted[1:] = np.where(lags.ok[1:k], counted[1:], 0.0)
        out[name] = np.add.accumulate(counted, axis=0)[k - 1]
    return out


def safe_ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, NaN where ``den`` is within a cent of zero (nothing due, nothing owed)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > CENT, num / np.where(den > CENT, den, 1.0), np.nan)


def _streaks(lags: _Lags, paid: np.ndarray, due: np.ndarray, dpd: np.ndarray, instalment: np.ndarray):
    """(times cured, consecutive missed, cycles since a full payment) over the lag matrix: counts and
    first/leading runs along the lag axis instead of a loop over lags."""
    ok = lags.ok
    missed_row = ok & (paid <= CENT) & (due > CENT)
    streak = np.logical_and.accumulate(missed_row, axis=0).sum(axis=0, dtype=np.int64)
    full = ok & (paid >= np.minimum(due, instalment) - CENT)
    since_full = np.where(full.any(axis=0), full.argmax(axis=0).astype(np.float64), np.nan)
    cured = (ok[:-1] & ok[1:] & (dpd[:-1] == 0) & (dpd[1:] > 0)).sum(axis=0, dtype=np.int64)
    return cured, streak, since_full


def repayment_features(
    book: CycleBook, pos: np.ndarray, start: np.ndarray, instalment: np.ndarray
) -> dict[str, np.ndarray]:
    """Repayment features of the cases whose cycle rows sit at sorted positions ``pos``."""
    lags = _Lags(pos, start)
    dpd_l, paid_l, due_l = lags.take(book.dpd), lags.take(book.paid), lags.take(book.due)
    dpd, paid, due = dpd_l[0], paid_l[0], due_l[0]
    max_dpd = lags.running(dpd_l, "max")
    delinquent = np.add.accumulate((dpd_l > 0) & lags.ok, axis=0, dtype=np.int64)
    paid_sum, due_sum = lags.running(paid_l, "sum"), lags.running(due_l, "sum")
    balance = book.balance[pos]
    out: dict[str, np.ndarray] = {
        "dpd": dpd,
        "bucket": bucket_of(dpd),
        "bucket_index": bucket_index(dpd).astype(np.int64),
        "tier_by_dpd": tier_by_dpd(dpd),
        "tier_by_missed": tier_by_missed(book.missed[pos]),
        "missed_instalments": book.missed[pos],
        "balance": balance,
        "arrears": book.arrears[pos],
        "due_amount": due,
        "paid_amount": paid,
        "max_dpd_3": max_dpd[2].astype(np.int64),
        "max_dpd_6": max_dpd[5].astype(np.int64),
        "max_dpd_12": max_dpd[CYCLE_WINDOW - 1].astype(np.int64),
        "delinquent_cycles_6": delinquent[5],
        "delinquent_cycles_12": delinquent[CYCLE_WINDOW - 1],
        "paid_cycles_6": (paid_l[:6] > CENT).sum(axis=0, where=lags.ok[:6], dtype=np.int64),
    }
    out["paid_to_due_1"] = safe_ratio(paid, due)
    for k in (3, 6):
        out[f"paid_to_due_{k}"] = safe_ratio(paid_sum[k - 1], due_sum[k - 1])
    cured, streak, since_full = _streaks(lags, paid_l, due_l, dpd_l, instalment)
    out["times_cured_12"] = cured
    out["consecutive_missed"] = streak
    out["cycles_since_full_payment"] = since_full
    out["arrears_to_instalment"] = safe_ratio(book.arrears[pos], instalment)
    bal3 = book.balance[lags.rows[3]]
    out["balance_trend_3"] = np.where(lags.ok[3], safe_ratio(balance, bal3) - 1.0, np.nan)
    out["dpd_change_1"] = np.where(lags.ok[1], (dpd - dpd_l[1]).astype(np.float64), np.nan)
    out["cycles_observed"] = np.minimum(pos - start + 1, CYCLE_WINDOW).astype(np.int64)
    out.update(_status_counts(book, lags, pos.size))
    return out
