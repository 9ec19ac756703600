"""Discrimination and calibration metrics for binary risk scores, overall and per bucket.

Validators read the same six numbers for every model (LightGBM and both baselines) so that the
comparison in the report and in ``--metrics-out`` is like for like.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The metric names, in the order of the ``--metrics-out`` JSON and the report tables.
METRICS: tuple[str, ...] = ("auc", "gini", "ks", "brier", "log_loss", "ece")
#: Probabilities are clipped away from 0 and 1 so that log loss stays finite.
_EPS = 1e-6
_ECE_BINS = 10


def _check(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if y.shape != p.shape:
        raise ValueError(f"labels and scores differ in length: {y.shape} vs {p.shape}")
    return y, p


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum formula (ties get average ranks); NaN if one class."""
    y, p = _check(y, p)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    from scipy.stats import rankdata  # here, not at the top: scipy.stats takes over a second to import,
    # and every process that loads a bundle (each dask worker, the service) imports this module

    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def gini(y: np.ndarray, p: np.ndarray) -> float:
    """Accuracy ratio used in credit scoring: 2·AUC − 1."""
    return 2.0 * auc(y, p) - 1.0


def ks(y: np.ndarray, p: np.ndarray) -> float:
    """Kolmogorov–Smirnov: the largest gap between the score CDFs of positives and negatives."""
    y, p = _check(y, p)
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    order = np.argsort(p, kind="mergesort")
    ps, ys = p[order], y[order]
    # evaluate the CDFs only at the last occurrence of each distinct score (ties move together)
    last = np.r_[ps[1:] != ps[:-1], True]
    cdf_pos = np.cumsum(ys)[last] / n_pos
    cdf_neg = np.cumsum(1 - ys)[last] / n_neg
    return float(np.max(np.abs(cdf_pos - cdf_neg)))


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of the probability."""
    y, p = _check(y, p)
    return float(np.mean((p - y) ** 2))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood with probabilities clipped to [1e-6, 1 − 1e-6]."""
    y, p = _check(y, p)
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def ece(y: np.ndarray, p: np.ndarray, n_bins: int = _ECE_BINS) -> float:
    """Expected calibration error: case-weighted |mean score − observed rate| over equal-width bins."""
    y, p = _check(y, p)
    if len(y) == 0:
        return float("nan")
    idx = np.minimum((p * n_bins).astype(int), n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    gap = np.abs(
        np.bincount(idx, weights=p, minlength=n_bins) - np.bincount(idx, weights=y, minlength=n_bins)
    )
    return float(gap.sum() / count.sum())


def calibration_curve(y: np.ndarray, p: np.ndarray, n_bins: int = _ECE_BINS) -> pd.DataFrame:
    """Mean score and observed rate per equal-width bin (non-empty bins only), for reliability plots."""
    y, p = _check(y, p)
    idx = np.minimum((p * n_bins).astype(int), n_bins - 1)
    frame = pd.DataFrame({"bin": idx, "score": p, "observed": y})
    return frame.groupby("bin").agg(
        score=("score", "mean"), observed=("observed", "mean"), n=("score", "size")
    )


def roc_points(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates at every distinct threshold, for ROC plots."""
    y, p = _check(y, p)
    order = np.argsort(-p, kind="mergesort")
    ps, ys = p[order], y[order]
    last = np.r_[ps[1:] != ps[:-1], True]
    tp = np.cumsum(ys)[last]
    fp = np.cumsum(1 - ys)[last]
    return np.r_[0.0, fp / max(fp[-1], 1)], np.r_[0.0, tp / max(tp[-1], 1)]


def metric_table(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """All six metrics as a dict keyed by :data:`METRICS`."""
    funcs = {"auc": auc, "gini": gini, "ks": ks, "brier": brier, "log_loss": log_loss, "ece": ece}
    return {name: funcs[name](y, p) for name in METRICS}


def metrics_by_group(y: np.ndarray, p: np.ndarray, group: np.ndarray | pd.Series) -> pd.DataFrame:
    """The metric table per group (e.g. per bucket), with case count and event rate.

    A loop over groups (a handful of buckets), not over cases.
    """
    y, p = _check(y, p)
    group = np.asarray(group)
    rows = []
    for g in pd.unique(group):
        mask = group == g
        rows.append(
            {
                "group": g,
                "n": int(mask.sum()),
                "rate": float(y[mask].mean()),
                **metric_table(y[mask], p[mask]),
            }
        )
    return pd.DataFrame(rows).sort_values("group").reset_index(drop=True)
