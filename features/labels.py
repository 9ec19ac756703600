"""Outcome labels of a case: what happened at the next cycle and over the next H days.

A label is only as good as the window it saw. A case whose next cycle row is missing (the book ends,
the loan left it, or the book skips that month for the loan) or whose H-day window runs past the end
of the book is excluded and counted, never labelled 0: a recovered amount of 0 in a window nobody
observed would teach the model that unobserved cases pay nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features._events import DAY_S, EventIndex, to_seconds, window_sum
from rollcure.core.domain import (
    BUCKETS,
    DAYS_PER_CYCLE,
    bucket_of,
    cycles_in_horizon,
    is_cure,
    is_roll_forward,
)


def horizon_end(as_of: np.ndarray, horizon_days: int) -> np.ndarray:
    """End of the outcome window: the month end ``round(horizon_days / 30)`` months after as_of.

    Payments are stamped at month-end cycles, so a window of a fixed number of days would hold two or
    three cycles depending on the month; whole cycles keep every case's window the same length.
    """
    n = cycles_in_horizon(horizon_days)
    month = as_of.astype("datetime64[M]") + (n + 1)
    return (month.astype("datetime64[D]") - np.timedelta64(1, "D")).astype("datetime64[ns]")


def build_labels(cycles: pd.DataFrame, cases: pd.DataFrame, horizon_days: int) -> tuple[pd.DataFrame, int]:
    """Labels of the observed cases and the number of excluded ones.

    Returns a frame with loan_id, as_of, roll_forward, cure, next_bucket (category M0..M7+) and
    recovered_amount (sum of payments in the cycles stamped in (as_of, `horizon_end`]).
    """
    loan_id = cases["loan_id"].to_numpy(dtype=np.int64)
    as_of = pd.to_datetime(cases["as_of"]).to_numpy(dtype="datetime64[ns]")
    as_of_s = to_seconds(as_of, ceil=False)
    t = to_seconds(cycles["cycle_date"])
    t_min = int(min(t.min(initial=0), as_of_s.min(initial=0))) - DAY_S
    end_s = to_seconds(horizon_end(as_of, horizon_days), ceil=False)
    t_max = int(max(t.max(initial=0), end_s.max(initial=0))) + DAY_S
    idx = EventIndex.build(cycles["loan_id"].to_numpy(), t, t_min, t_max)
    o = idx.order
    dpd = cycles["dpd"].to_numpy(dtype=np.int64)[o]
    paid = cycles["paid_amount"].to_numpy(dtype=np.float64)[o]
    ts = t[o]

    now = idx.position(loan_id, as_of_s, "right") - 1
    nxt = now + 1
    end = idx.position(loan_id, np.full(loan_id.size, t_max), "right")
    has_now = now >= idx.block_start(loan_id)
    has_now[has_now] = ts[now[has_now]] == as_of_s[has_now]
    # the next row must be the *next* cycle: a row two months on (a gap in the book) would label a
    # two-step transition as a one-step roll or cure
    next_cycle_s = to_seconds(horizon_end(as_of, DAYS_PER_CYCLE), ceil=False)
    has_next = nxt < end
    has_next[has_next] = ts[nxt[has_next]] <= next_cycle_s[has_next]
    window_seen = end_s <= int(t.max(initial=0))
    observed = has_now & has_next & window_seen

    hi = idx.position(loan_id, end_s, "right")
    recovered = window_sum(paid, np.minimum(nxt, len(paid)), np.maximum(hi, nxt))

    keep = np.flatnonzero(observed)
    dpd_now, dpd_next = dpd[now[keep]], dpd[nxt[keep]]
    labels = pd.DataFrame(
        {
            "loan_id": loan_id[keep],
            "as_of": as_of[keep],
            "roll_forward": is_roll_forward(dpd_now, dpd_next),
            "cure": is_cure(dpd_next),
            "next_bucket": pd.Categorical(bucket_of(dpd_next), categories=list(BUCKETS)),
            "recovered_amount": recovered[keep],
        }
    )
    return labels, int(loan_id.size - keep.size)
