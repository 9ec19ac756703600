"""Bootstrap intervals of the monitoring statistics, vectorised over resamples.

A monitor that pages on a point estimate pages on noise: one cycle of a few hundred cases moves an
AUC by a few points and a calibration slope by a tenth by chance alone. Every statistic an alert
reads therefore comes with a case-bootstrap interval, and an alert fires only when the whole
interval is past its threshold. The resamples are a matrix of multinomial counts (resamples x
cases), as in ``training.offpolicy``, so each statistic is a few matrix products, never a loop
over cases; the calibration slope is a logistic fit run for all resamples at once (Newton steps on
count-weighted data).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

#: Newton steps of the calibration fit (converges in 5-6 from the start at slope 1).
_NEWTON_STEPS = 12
_EPS = 1e-6


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap percentile interval."""

    value: float
    low: float
    high: float

    def as_dict(self, name: str) -> dict[str, float]:
        return {name: self.value, f"{name}_low": self.low, f"{name}_high": self.high}


NAN = Interval(float("nan"), float("nan"), float("nan"))


def resample_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Case multiplicities of ``n_boot`` bootstrap resamples of ``n`` cases (n_boot x n)."""
    return np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(float)


def percentile_interval(value: float, draws: np.ndarray, level: float) -> Interval:
    """``value`` with the percentile interval of its bootstrap ``draws`` (non-finite draws dropped)."""
    draws = draws[np.isfinite(draws)]
    if not np.isfinite(value) or len(draws) == 0:
        return Interval(value, float("nan"), float("nan"))
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return Interval(float(value), float(low), float(high))


def mean_interval(x: np.ndarray, n_boot: int, level: float, seed: int) -> Interval:
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return NAN
    counts = resample_counts(len(x), n_boot, seed)
    return percentile_interval(float(x.mean()), counts @ x / len(x), level)


def difference_interval(a: np.ndarray, b: np.ndarray, n_boot: int, level: float, seed: int) -> Interval:
    """Mean of ``a`` minus mean of ``b``, two independent groups (an A/B test's arms)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) == 0 or len(b) == 0:
        return NAN
    da = resample_counts(len(a), n_boot, seed) @ a / len(a)
    db = resample_counts(len(b), n_boot, seed + 1) @ b / len(b)
    return percentile_interval(float(a.mean() - b.mean()), da - db, level)


def ratio_interval(num: np.ndarray, den: np.ndarray, n_boot: int, level: float, seed: int) -> Interval:
    """sum(num) / sum(den) over cases: the observed-to-expected ratio (calibration in the large)."""
    num, den = np.asarray(num, dtype=float), np.asarray(den, dtype=float)
    if len(num) == 0 or den.sum() <= 0:
        return NAN
    counts = resample_counts(len(num), n_boot, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = (counts @ num) / (counts @ den)
    return percentile_interval(float(num.sum() / den.sum()), draws, level)


def _weighted_auc(y: np.ndarray, ranks: np.ndarray, w: np.ndarray) -> np.ndarray:
    """AUC of each resample (rows of ``w``) from the full sample's ranks: the rank-sum formula with
    count weights (a resampled positive beats every resampled negative ranked below it)."""
    pos, neg = y == 1, y == 0
    wp, wn = w[:, pos], w[:, neg]
    n_pos, n_neg = wp.sum(axis=1), wn.sum(axis=1)
    # for each positive: weighted count of negatives with a lower score (+ half of the ties)
    order = np.argsort(ranks[neg], kind="stable")
    r_neg = ranks[neg][order]
    cum = np.concatenate([np.zeros((len(w), 1)), np.cumsum(wn[:, order], axis=1)], axis=1)
    lo = np.searchsorted(r_neg, ranks[pos], side="left")
    hi = np.searchsorted(r_neg, ranks[pos], side="right")
    below = cum[:, lo] + 0.5 * (cum[:, hi] - cum[:, lo])
    with np.errstate(invalid="ignore", divide="ignore"):
        return (wp * below).sum(axis=1) / (n_pos * n_neg)


def auc_interval(y: np.ndarray, p: np.ndarray, n_boot: int, level: float, seed: int) -> Interval:
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if len(y) == 0 or y.min() == y.max():
        return NAN
    ranks = rankdata(p)
    value = float(_weighted_auc(y, ranks, np.ones((1, len(y))))[0])
    draws = _weighted_auc(y, ranks, resample_counts(len(y), n_boot, seed))
    return percentile_interval(value, draws, level)


def brier_interval(y: np.ndarray, p: np.ndarray, n_boot: int, level: float, seed: int) -> Interval:
    return mean_interval((np.asarray(p, dtype=float) - np.asarray(y, dtype=float)) ** 2, n_boot, level, seed)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    return np.log(p / (1 - p))


def calibration_fit(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Intercept and slope of ``logit P(y) = a + b logit(p)`` for each row of case weights ``w``
    (Newton's method on all rows at once). A slope of 1 with intercept 0 is a calibrated score;
    below 1 the score is over-confident (too spread), above 1 too timid."""
    x = _logit(p)
    y = np.asarray(y, dtype=float)
    a, b = np.zeros(len(w)), np.ones(len(w))
    for _ in range(_NEWTON_STEPS):  # a fixed number of steps, vectorised over the rows
        mu = 1.0 / (1.0 + np.exp(-(a[:, None] + b[:, None] * x[None, :])))
        r, v = w * (y - mu), w * mu * (1 - mu)
        g0, g1 = r.sum(axis=1), r @ x
        h00, h01, h11 = v.sum(axis=1), v @ x, v @ (x * x)
        det = h00 * h11 - h01 * h01
        with np.errstate(invalid="ignore", divide="ignore"):
            a = a + (h11 * g0 - h01 * g1) / det
            b = b + (h00 * g1 - h01 * g0) / det
    return a, b


def slope_interval(y: np.ndarray, p: np.ndarray, n_boot: int, level: float, seed: int) -> Interval:
    y = np.asarray(y, dtype=float)
    if len(y) == 0 or y.min() == y.max():
        return NAN
    _, value = calibration_fit(y, p, np.ones((1, len(y))))
    _, draws = calibration_fit(y, p, resample_counts(len(y), n_boot, seed))
    return percentile_interval(float(value[0]), draws, level)
