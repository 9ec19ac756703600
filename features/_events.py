"""Point-in-time look-ups over per-loan event streams, without per-row Python loops.

Cycles, contacts and actions are all "events of a loan at a time". Sorting them once by
(loan, time) and packing (loan rank, time) into one int64 key turns every "events of this loan in
(t0, t1]" question, for all cases at once, into two `np.searchsorted` calls; counts and sums over
the window are then differences of cumulative sums. Cost is O((events + cases) log events).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from rollcure.core.arrays import expand_windows
from rollcure.core.pandas_compat import column_array

_NS_PER_S = 1_000_000_000
#: Seconds in a day (event times are int64 seconds).
DAY_S = 86_400
#: Amounts within half a cent count as equal (paid in full, nothing paid, nothing due).
CENT = 0.005

#: Which events at the bound count: "left" those strictly before it, "right" those at it too.
Side = Literal["left", "right"]


def column(frame: pd.DataFrame, name: str) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """A column's values (read-only numpy array or extension array), as `frame[name].array` holds
    them, read through `rollcure.core.pandas_compat.column_array` (one serving case reads ~40
    columns, and a Series per column can cost more than its arithmetic). Duplicate labels take
    the public path."""
    at = frame.columns.get_loc(name)
    if not isinstance(at, int):
        return frame[name].array
    return column_array(frame, at)


def as_numpy(
    values: np.ndarray | pd.api.extensions.ExtensionArray, dtype: npt.DTypeLike | None = None
) -> np.ndarray:
    """A column's values (as `column` gives them) as a numpy array of ``dtype``."""
    if isinstance(values, np.ndarray):
        return np.asarray(values, dtype=dtype)
    return values.to_numpy(dtype=dtype)


def column_numpy(frame: pd.DataFrame, name: str, dtype: npt.DTypeLike | None = None, **kwargs) -> np.ndarray:
    """`frame[name].to_numpy(dtype, **kwargs)` without building a Series (see `column`)."""
    values = column(frame, name)
    if not kwargs:
        return as_numpy(values, dtype)
    if isinstance(values, np.ndarray):
        return frame[name].to_numpy(dtype, **kwargs)
    return values.to_numpy(dtype=dtype, **kwargs)


#: Events from which a text column is coded before it is compared (``Labels``): coding costs
#: ~50 us a column, more than comparing a serving request's few dozen strings directly.
CODED_FROM = 1_000


@dataclass(frozen=True)
class Labels:
    """A text column as integer codes into its distinct values (missing: -1).

    Comparing a column of Python strings with a name is one string comparison per event under the
    GIL, and a book's event tables hold a few distinct channels, outcomes and actions: coded once
    (``pandas.factorize``, which runs in Arrow for Arrow-backed strings), every later comparison
    is an integer one. Values outside any vocabulary keep their own code, so the comparisons equal
    the string comparisons for any column, and :meth:`values` reads the column itself, so it
    returns the objects the column holds. Below ``CODED_FROM`` events the column stays objects
    (``names`` None) and is compared as such.
    """

    codes: np.ndarray
    names: tuple[object, ...] | None
    #: The column as read, and the position in it of each entry of ``codes`` (None: the same order).
    source: np.ndarray | pd.api.extensions.ExtensionArray
    rows: np.ndarray | None = None

    @classmethod
    def of(cls, frame: pd.DataFrame, name: str) -> Labels:
        values = column(frame, name)
        if len(values) < CODED_FROM:
            return cls(as_numpy(values, object), None, values)
        codes, uniques = pd.factorize(values)
        names = tuple(np.asarray(uniques, dtype=object).tolist())
        return cls(np.asarray(codes, dtype=np.int64), names, values)

    def take(self, at: np.ndarray) -> Labels:
        return Labels(self.codes[at], self.names, self.source, at if self.rows is None else self.rows[at])

    def equals(self, value: str) -> np.ndarray:
        """``values == value`` (missing values are not equal to anything)."""
        if self.names is None:
            return np.asarray(self.codes == value, dtype=bool)
        if value not in self.names:
            return np.zeros(self.codes.size, dtype=bool)
        return self.codes == self.names.index(value)

    def differs_from(self, vocabulary: tuple[str, ...], index: np.ndarray) -> np.ndarray:
        """``values != vocabulary[index]`` per entry (a missing value differs from every name):
        whether each value is other than the one the index says it should be."""
        if self.names is None:
            return np.asarray(self.codes != np.asarray(vocabulary, dtype=object)[index], dtype=bool)
        at = {v: i for i, v in enumerate(vocabulary)}
        pos = [at.get(n, -1) if isinstance(n, str) else -1 for n in self.names]
        return np.asarray([*pos, -1], dtype=np.int64)[self.codes] != index

    def values(self, at: np.ndarray) -> np.ndarray:
        """The values at positions ``at`` as an object array (only these are converted)."""
        if self.names is None:
            return self.codes[at]
        return as_numpy(self.source.take(at if self.rows is None else self.rows[at]), object)


def to_seconds(values: pd.Series | np.ndarray, ceil: bool = True) -> np.ndarray:
    """Datetimes as int64 seconds since the epoch.

    Event times round *up*, so an event a fraction of a second after as_of never lands at as_of;
    query bounds are whole-second dates already.
    """
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if arr.dtype.kind != "M":
        arr = pd.to_datetime(pd.Series(arr)).to_numpy()
    ns = arr.astype("datetime64[ns]").view("int64")
    if ceil:
        return -((-ns) // _NS_PER_S)
    return ns // _NS_PER_S


@dataclass
class EventIndex:
    """Events of loans sorted by (loan_id, time); ``order`` maps sorted positions to input rows."""

    loans: np.ndarray  # sorted unique loan ids
    keys: np.ndarray  # sorted packed keys
    order: np.ndarray
    t_lo: int
    span: int

    @classmethod
    def build(cls, loan_id: np.ndarray, t_sec: np.ndarray, t_min: int, t_max: int) -> EventIndex:
        """Index events; times outside [t_min, t_max] are clamped just outside it (order preserved)."""
        loan_id = np.asarray(loan_id, dtype=np.int64)
        order = np.lexsort((t_sec, loan_id))
        # the sort already groups the loans: their ranks are a running count of new loans, one
        # linear pass instead of np.unique's second sort and a binary search per event
        by_loan = loan_id[order]
        first = np.empty(by_loan.size, dtype=bool)
        first[:1] = True
        np.not_equal(by_loan[1:], by_loan[:-1], out=first[1:])
        loans = by_loan[first]
        span = int(t_max - t_min) + 3
        rank = np.cumsum(first, dtype=np.int64) - 1
        off = np.clip(np.asarray(t_sec)[order] - t_min + 1, 0, span - 1)
        if loans.size and (loans.size + 1) * span >= np.iinfo(np.int64).max:
            raise OverflowError("time span too long to index")
        return cls(loans, rank * span + off, order, int(t_min), span)

    def _rank(self, loan_id: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rank = np.searchsorted(self.loans, loan_id)
        found = np.zeros(len(loan_id), dtype=bool)
        inside = rank < self.loans.size
        found[inside] = self.loans[rank[inside]] == loan_id[inside]
        return rank.astype(np.int64), found

    def position(self, loan_id: np.ndarray, t_sec: np.ndarray, side: Side) -> np.ndarray:
        """Sorted position of (loan, t): events of the loan before it (``side="left"``: time < t;
        ``"right"``: time <= t) sit at [block start, position)."""
        loan_id = np.asarray(loan_id, dtype=np.int64)
        rank, found = self._rank(loan_id)
        off = np.clip(np.asarray(t_sec) - self.t_lo + 1, 0, self.span - 1)
        off = np.where(found, off, 0)
        return np.searchsorted(self.keys, rank * self.span + off, side=side)

    def positions(self, loan_id: np.ndarray, times: list[np.ndarray], side: Side) -> list[np.ndarray]:
        """`position` of the cases at each of several times, in one search: for one serving case
        every numpy call costs more than its data, so window bounds are looked up together."""
        loan_id = np.asarray(loan_id, dtype=np.int64)
        shape = (len(times), loan_id.size)
        found = self.position(np.broadcast_to(loan_id, shape).ravel(), np.concatenate(times), side)
        return list(found.reshape(shape))

    def block_start(self, loan_id: np.ndarray) -> np.ndarray:
        """Sorted position of the loan's first event (its block is empty when the loan has none)."""
        rank, _ = self._rank(np.asarray(loan_id, dtype=np.int64))
        return np.searchsorted(self.keys, rank * self.span, side="left")


def window_count(mask_sorted: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Number of sorted events in [lo, hi) where the mask holds."""
    cs = np.concatenate(([0], np.cumsum(mask_sorted, dtype=np.int64)))
    return cs[hi] - cs[lo]


def window_counts(masks: list[np.ndarray], lo: list[np.ndarray], hi: np.ndarray) -> np.ndarray:
    """`window_count` of several masks at once, mask ``i`` over [lo[i], hi): row ``i`` of the
    result. One running count over the stacked masks replaces one per mask (for one serving
    case the calls, not the events, are the cost); counts are integers, so the order is free.
    The masks are copied into the count array and summed in place: a running sum that casts
    bool to int64 on the way took 0.07-3.3 s for the same 10 x 2.5M masks from run to run
    (numpy's buffered casting loop), the in-place sum a steady 0.06 s."""
    n_masks, n_events = len(masks), len(masks[0]) if masks else 0
    cs = np.zeros((n_masks, n_events + 1), dtype=np.int64)
    cs[:, 1:] = masks
    np.cumsum(cs, axis=1, out=cs)
    row = np.arange(n_masks)[:, None]
    return cs[row, hi] - cs[row, np.stack(lo)]


def window_sum(values_sorted: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sum of sorted event values in [lo, hi), added in time order within each window only.

    A running-total difference would be cheaper but its rounding would depend on every row sorted
    before the window (other loans, later rows), breaking exact train = serve and leakage checks.
    """
    case, event = expand_windows(lo, hi)
    return np.bincount(case, weights=values_sorted[event], minlength=lo.size)


def last_where(mask_sorted: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sorted position of the last event in [lo, hi) where the mask holds, or -1."""
    idx = np.where(mask_sorted, np.arange(mask_sorted.size), -1)
    last = np.maximum.accumulate(idx) if idx.size else idx
    cand = np.where(hi > 0, last[np.maximum(hi - 1, 0)] if last.size else -1, -1)
    return np.where(cand >= lo, cand, -1)


def last_wheres(masks: list[np.ndarray], lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """`last_where` of several masks over the same windows at once: row ``i`` for mask ``i``."""
    stacked = np.stack(masks)
    idx = np.where(stacked, np.arange(stacked.shape[1]), -1)
    if not idx.shape[1]:
        return np.full((len(masks), lo.size), -1, dtype=idx.dtype)
    last = np.maximum.accumulate(idx, axis=1)
    cand = np.where(hi > 0, last[:, np.maximum(hi - 1, 0)], -1)
    return np.where(cand >= lo, cand, -1)
