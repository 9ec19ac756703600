"""The logging policy: the industry's escalation ladder by bucket, randomised.

It decides what the lender did in the historical data, and its propensities are written to
``actions.propensity`` so that downstream off-policy estimates can reweight. Every eligible action
keeps probability >= epsilon / (number eligible), which makes every eligible action observable in
every state; a test slice (``test_slice``, default 10% of overdue cases) gets a uniformly random
eligible action. Eligibility: each action from its catalogue ``logging_min_bucket``; a disputed,
deceased or bankrupt case (flag in effect) gets no collection
action at all ("none" with probability one). Large balances tilt the ladder towards litigation
(each action's ``large_balance_boost``: "break through the few large cases").
"""

from __future__ import annotations

import numpy as np

from rollcure.config.simulation import SimulationConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.domain import BUCKETS
from simulation.dynamics import (
    FLAG_BANKRUPT,
    FLAG_DECEASED,
    FLAG_DISPUTED,
    LoanState,
    bucket_now,
    flag_active,
)


def ladder_matrix(cfg: SimulationConfig) -> np.ndarray:
    """Ladder weights as an array (8 buckets x actions); row 0 (M0) is unused."""
    w = np.zeros((len(BUCKETS), len(ACTIONS)))
    for j, response in enumerate(cfg.effects.values()):
        for b, v in response.logging_weights.items():
            w[BUCKETS.index(b), j] = v
    return w


def eligibility(state: LoanState, cfg: SimulationConfig) -> np.ndarray:
    """Boolean matrix cases x actions of what the logging policy may do."""
    bucket = bucket_now(state)
    min_bucket = np.array([e.logging_min_bucket for e in cfg.effects.values()])
    elig = bucket[:, None] >= min_bucket[None, :]
    blocked = flag_active(state) & np.isin(state.flag, (FLAG_DISPUTED, FLAG_DECEASED, FLAG_BANKRUPT))
    elig[blocked] = False
    elig[:, ACTIONS.index("none")] = True
    return elig


def propensities(state: LoanState, cfg: SimulationConfig) -> np.ndarray:
    """Probability of each action per case (rows sum to one, zero exactly where ineligible)."""
    lp = cfg.logging_policy
    bucket = bucket_now(state)
    elig = eligibility(state, cfg)
    w = ladder_matrix(cfg)[bucket] * elig
    large = state.balance >= lp.large_balance
    boost = np.array([e.large_balance_boost for e in cfg.effects.values()])
    w = np.where(large[:, None], w * boost[None, :], w)
    total = w.sum(axis=1, keepdims=True)
    n_elig = elig.sum(axis=1, keepdims=True)
    ladder = np.where(total > 0, w / np.where(total > 0, total, 1.0), elig / n_elig)
    uniform = elig / n_elig
    randomised = (1 - lp.epsilon) * ladder + lp.epsilon * uniform
    # the test slice: a share of cases gets a uniformly random eligible action; the logged
    # propensity is the marginal probability over both groups
    return (1 - lp.test_slice) * randomised + lp.test_slice * uniform


def choose(p: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Sample one action per row of ``p`` with one uniform per row (inverse CDF)."""
    cdf = np.cumsum(p, axis=1)
    target = u * cdf[:, -1]  # strictly below the last cumulative value, so zero-mass actions never win
    return (target[:, None] >= cdf).sum(axis=1).astype(np.int8)
