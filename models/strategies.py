"""Rule-of-thumb strategies: the industry's DPD ladder, a risk-score policy and random.

They are the challenger arm of live decisions and the baselines of the backtest. Each strategy
states an ordered preference of actions per case and a priority between cases; capacity is then
filled in priority order, and a case whose preferred action is ineligible or full moves down its
own list (ending at ``none``, which is always allowed and unlimited).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.lgb_input import column_values
from rollcure.config.policy import PolicyConfig
from rollcure.core.catalogue import ACTIONS, CATALOGUE, RISK_SEGMENTS
from rollcure.core.domain import bucket_index

A = {a: j for j, a in enumerate(ACTIONS)}
_NONE = A["none"]
#: The escalation ladder by bucket (DESIGN §1), from the catalogue's ladder ranks: bucket b offers
#: every rung up to b, highest first; buckets above the top rung get the whole ladder.
_TOP = CATALOGUE.top_rung()
_LADDER: dict[int, tuple[str, ...]] = {b: CATALOGUE.ladder(b) for b in range(1, _TOP + 1)}


def _pref_matrix(lists: list[tuple[str, ...]], which: np.ndarray) -> np.ndarray:
    """n x R preference indices (-1 padded) from a small table of lists and each case's list id."""
    width = max(len(x) for x in lists) + 1
    table = np.full((len(lists), width), -1)
    for i, names in enumerate(lists):
        table[i, : len(names)] = [A[a] for a in names]
    return table[which]


def _first_eligible(prefs: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """``assign_by_preference`` without capacity limits: priority no longer matters, so each case
    takes its first eligible preference in one pass (the rank loop cost ~0.1 ms on one case)."""
    n = len(prefs)
    if n == 0 or prefs.shape[1] == 0:
        return np.full(n, _NONE)
    ok = (prefs >= 0) & np.take_along_axis(eligible, np.maximum(prefs, 0), axis=1)
    first = ok.argmax(axis=1)
    rows = np.arange(n)
    return np.where(ok[rows, first], prefs[rows, first], _NONE)


def assign_by_preference(
    prefs: np.ndarray, priority: np.ndarray, eligible: np.ndarray, capacities: np.ndarray
) -> np.ndarray:
    """First eligible preference with capacity left, capacity going to high-priority cases first.

    Loops over preference ranks and actions only; cases are handled as arrays.
    """
    n = len(prefs)
    caps = np.asarray(capacities, dtype=float)
    if np.isinf(caps).all():
        return _first_eligible(prefs, eligible)
    left = caps.copy()
    out = np.full(n, -1)
    order = np.argsort(-np.asarray(priority, dtype=float), kind="stable")
    for r in range(prefs.shape[1]):
        cand = prefs[order, r]
        free = out[order] < 0
        ok = free & (cand >= 0)
        ok[ok] = eligible[order[ok], cand[ok]]
        for j in np.unique(cand[ok]):
            rows = order[ok & (cand == j)]
            if np.isfinite(left[j]):
                rows = rows[: int(left[j])]
                left[j] -= len(rows)
            out[rows] = j
    out[out < 0] = _NONE
    return out


def dpd_ladder(X: pd.DataFrame, eligible: np.ndarray, capacities: np.ndarray) -> np.ndarray:
    """The escalation ladder by bucket; larger balances get the scarce rungs first."""
    dpd, balance = column_values(X, ("dpd", "balance"))  # no Series per column (10-80 µs each)
    b = np.clip(bucket_index(dpd), 1, _TOP)
    prefs = _pref_matrix([(), *(_LADDER[k] for k in range(1, _TOP + 1))], b)
    return assign_by_preference(prefs, np.asarray(balance, dtype=float), eligible, capacities)


def risk_score_policy(
    X: pd.DataFrame,
    scores: pd.DataFrame,
    eligible: np.ndarray,
    capacities: np.ndarray,
    cfg: PolicyConfig,
) -> np.ndarray:
    """Fixed thresholds on the roll-forward and cure scores, priority by expected loss."""
    t = cfg.risk_score
    roll = np.asarray(scores["p_roll_forward"])  # a frame or a mapping of arrays
    cure = np.asarray(scores["p_cure"])
    # low risk: a nudge; low cure, not rolling: an ability problem; high roll risk: pressure;
    # very high roll risk: court (each segment's list from the catalogue's risk preferences)
    lists = [CATALOGUE.risk_preferences(segment) for segment in RISK_SEGMENTS]
    which = np.where(
        roll >= t.litigation_roll, 3, np.where(roll >= t.high_roll, 2, np.where(cure < t.low_cure, 1, 0))
    )
    priority = roll * np.asarray(column_values(X, ("balance",))[0], dtype=float)
    return assign_by_preference(_pref_matrix(lists, which), priority, eligible, capacities)


def random_policy(eligible: np.ndarray, capacities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random eligible action per case (capacity permitting), random priority."""
    n, k = eligible.shape
    return random_policy_from(eligible, capacities, rng.random((n, k)), rng.random((n,)))


def random_policy_from(
    eligible: np.ndarray, capacities: np.ndarray, pref_u: np.ndarray, priority_u: np.ndarray
) -> np.ndarray:
    """``random_policy`` on given uniforms (n x A preference noise, n priorities): per-case draws."""
    return assign_by_preference(np.argsort(pref_u, axis=1), priority_u, eligible, capacities)


def uniform_eligible(eligible: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One uniformly drawn eligible action per case from n x A uniforms, ignoring capacity (exploration)."""
    return np.where(eligible, u, -1.0).argmax(axis=1)
