"""Off-policy value estimates from logged decisions: inverse propensity scoring and doubly robust.

A real lender cannot replay the past under a new strategy; it can only re-weight what its logging
policy did. These estimators do that with the recorded propensities, and the backtest sets them
beside the simulator's truth so that their error is a figure we track.

* IPS: mean of ``1[pi(x) = a] / p(a | x) * r``.
* SNIPS (self-normalised IPS): ``sum(w r) / sum(w)`` with ``w = 1[pi(x) = a] / p(a | x)``: a little
  biased, much less variable when the weights are uneven.
* DR: mean of ``q(x, pi(x)) + 1[pi(x) = a] / p(a | x) * (r - q(x, a))`` with ``q`` the action-response
  model's expected net value: unbiased when either the propensities or ``q`` are right.

Confidence intervals come from a case bootstrap, vectorised as a matrix of multinomial counts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Estimate:
    """Per-case mean value with a bootstrap percentile interval."""

    value: float
    low: float
    high: float


def _bootstrap(
    terms: np.ndarray, n_boot: int, level: float, seed: int, weights: np.ndarray | None = None
) -> Estimate:
    """Mean of ``terms`` (or ``sum(terms) / sum(weights)``) with a case-bootstrap interval."""
    n = len(terms)
    if n == 0:
        return Estimate(float("nan"), float("nan"), float("nan"))
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = (counts @ terms) / (counts @ w)
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(means, [tail, 100 - tail])
    return Estimate(float(terms.sum() / w.sum()), float(low), float(high))


def ips_terms(
    chosen: np.ndarray, logged: np.ndarray, propensity: np.ndarray, reward: np.ndarray
) -> np.ndarray:
    """Per-case IPS contributions of the target policy ``chosen`` (action indices)."""
    return (chosen == logged) / propensity * reward


def dr_terms(
    chosen: np.ndarray, logged: np.ndarray, propensity: np.ndarray, reward: np.ndarray, q: np.ndarray
) -> np.ndarray:
    """Per-case doubly robust contributions; ``q`` is the n x A model of expected net value."""
    rows = np.arange(len(chosen))
    return q[rows, chosen] + (chosen == logged) / propensity * (reward - q[rows, logged])


def off_policy_estimates(
    chosen: np.ndarray,
    logged: np.ndarray,
    propensity: np.ndarray,
    reward: np.ndarray,
    q: np.ndarray,
    *,
    n_boot: int = 300,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Estimate]:
    """IPS, SNIPS and DR estimates (per-case mean value) of one target policy, with bootstrap CIs.

    The three share one bootstrap draw (same seed), so their intervals are comparable.
    """
    chosen, logged = np.asarray(chosen), np.asarray(logged)
    propensity = np.asarray(propensity, dtype=float)
    reward = np.asarray(reward, dtype=float)
    ips = ips_terms(chosen, logged, propensity, reward)
    return {
        "ips": _bootstrap(ips, n_boot, level, seed),
        "snips": _bootstrap(ips, n_boot, level, seed, weights=(chosen == logged) / propensity),
        "dr": _bootstrap(dr_terms(chosen, logged, propensity, reward, q), n_boot, level, seed),
    }
