"""Prior-action features: what the lender decided in [as_of - window, as_of).

The action decided at as_of itself is the case's treatment (what the policy is choosing), so it
is never a feature of that case.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features._events import (
    DAY_S,
    EventIndex,
    Labels,
    column_numpy,
    last_wheres,
    to_seconds,
    window_counts,
    window_sum,
)
from features.registry import ACTION_WINDOW_DAYS, features_in
from rollcure.core.arrays import NO_VALUE
from rollcure.core.catalogue import ACTIONS

_SHORT_DAYS = 90
ACTION_FEATURES = [f.name for f in features_in("action")] + ["restructured_before"]
_COUNTED = ACTIONS[1:]  # every action of the catalogue but 'none', each with its 90-day count


def missing_action_features(n: int) -> dict[str, np.ndarray]:
    """All-NaN action features, for books that keep no action history."""
    return {name: np.full(n, np.nan) for name in ACTION_FEATURES}


def _months_between(earlier_s: np.ndarray, later_s: np.ndarray) -> np.ndarray:
    m0 = earlier_s.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    m1 = later_s.astype("datetime64[s]").astype("datetime64[M]").astype(np.int64)
    return (m1 - m0).astype(np.float64)


def action_features(
    actions: pd.DataFrame,
    loan_id: np.ndarray,
    as_of_s: np.ndarray,
    t_min: int,
    t_max: int,
    restructuring_active_days: int,
) -> dict[str, np.ndarray]:
    """Action features for the cases (loan_id, as_of_s)."""
    ts = to_seconds(column_numpy(actions, "decided_at"))
    idx = EventIndex.build(column_numpy(actions, "loan_id"), ts, t_min, t_max)
    o = idx.order
    action = Labels.of(actions, "action").take(o)
    cost = np.nan_to_num(column_numpy(actions, "cost", np.float64))[o]
    t = ts[o]

    bounds = [as_of_s, as_of_s - ACTION_WINDOW_DAYS * DAY_S, as_of_s - _SHORT_DAYS * DAY_S]
    hi, lo_long, lo_short = idx.positions(loan_id, bounds, "left")
    masks = [action.equals(a) for a in _COUNTED] + [
        ~action.equals("none"),
        action.equals("outsourcing"),
        action.equals("litigation"),
    ]
    counts = window_counts(masks, [lo_short] * len(_COUNTED) + [lo_long] * 3, hi).astype(np.float64)
    out: dict[str, np.ndarray] = {f"actions_{a}_90d": counts[i] for i, a in enumerate(_COUNTED)}
    out["action_cost_90d"] = window_sum(cost, lo_short, hi)
    out["actions_365d"] = counts[-3]

    # the last action of any kind, field visit and restructuring, found together (by name: these
    # features track those two actions; a catalogue without one leaves its features empty)
    kinds = [
        np.ones(action.codes.size, dtype=bool),
        action.equals("field_visit"),
        action.equals("restructuring"),
    ]
    last = last_wheres(kinds, lo_long, hi)
    found = last >= 0
    when = np.where(found, t[np.maximum(last, 0)] if t.size else 0, 0)
    out["last_action"] = np.where(
        found[0], action.values(np.maximum(last[0], 0)) if t.size else NO_VALUE, NO_VALUE
    )
    out["days_since_last_action"] = np.where(found[0], (as_of_s - when[0]) / DAY_S, np.nan)
    out["days_since_last_field_visit"] = np.where(found[1], (as_of_s - when[1]) / DAY_S, np.nan)
    found_r, when_r = found[2], when[2]
    out["months_since_last_restructuring"] = np.where(found_r, _months_between(when_r, as_of_s), np.nan)
    out["under_restructuring"] = (found_r & ((as_of_s - when_r) <= restructuring_active_days * DAY_S)).astype(
        np.float64
    )
    out["restructured_before"] = found_r.astype(np.float64)
    out["outsourced_before"] = (counts[-2] > 0).astype(np.float64)
    out["litigation_before"] = (counts[-1] > 0).astype(np.float64)
    return out
