"""The two baselines a model must beat out of time.

* :class:`MarkovBaseline`: the classic bucket-level transition matrix estimated from the training
  period; every case in a bucket gets that bucket's roll-forward (or cure) rate.
* :class:`LogisticScorecard`: a scikit-learn logistic regression on the same features (median
  imputation and scaling for numbers, one-hot for categories), the industry's scorecard shape.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rollcure.core.domain import BUCKETS

#: Pseudo-count added to every transition cell so that rare buckets never get a 0 or 1 rate.
_SMOOTHING = 0.5
_MISSING_CATEGORY = "__missing__"


class MarkovBaseline:
    """Bucket → next-bucket transition matrix; roll-forward = worse bucket next, cure = M0 next.

    >>> m = MarkovBaseline().fit(pd.Series(["M1", "M1", "M2"]), pd.Series(["M2", "M0", "M2"]))
    >>> round(float(m.predict(pd.Series(["M1"]), "cure")[0]), 2)
    0.25
    """

    def fit(self, bucket: pd.Series, next_bucket: pd.Series) -> MarkovBaseline:
        now = _bucket_codes(bucket)
        nxt = _bucket_codes(next_bucket)
        k = len(BUCKETS)
        counts = np.bincount(now * k + nxt, minlength=k * k).reshape(k, k).astype(float)
        seen = counts.sum(axis=1) > 0
        # an unseen bucket falls back to the pooled transition distribution
        pooled = counts.sum(axis=0) + _SMOOTHING
        counts = counts + _SMOOTHING
        counts[~seen] = pooled
        self.transition_ = pd.DataFrame(
            counts / counts.sum(axis=1, keepdims=True), index=list(BUCKETS), columns=list(BUCKETS)
        )
        self.counts_ = pd.Series(
            np.where(seen, counts.sum(axis=1) - _SMOOTHING * len(BUCKETS), 0), index=BUCKETS
        )
        t = self.transition_.to_numpy()
        upper = np.triu(np.ones_like(t), k=1).astype(bool)
        self.rates_ = pd.DataFrame(
            {"roll_forward": np.where(upper, t, 0).sum(axis=1), "cure": t[:, 0]}, index=list(BUCKETS)
        )
        return self

    def predict(self, bucket: pd.Series, target: str) -> np.ndarray:
        """The training-period rate of ``target`` for each case's current bucket."""
        if target not in self.rates_.columns:
            raise ValueError(f"target must be one of {list(self.rates_.columns)}, got {target!r}")
        return self.rates_[target].to_numpy()[_bucket_codes(bucket)]


def _bucket_codes(bucket: pd.Series) -> np.ndarray:
    codes = pd.Index(BUCKETS).get_indexer(np.asarray(bucket, dtype=object).astype(str)).astype(np.int64)
    if (codes < 0).any():
        raise ValueError(f"unknown bucket; allowed {list(BUCKETS)}")
    return codes


def _is_categorical(s: pd.Series) -> bool:
    return isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object or pd.api.types.is_string_dtype(s)


def _prepare(X: pd.DataFrame) -> pd.DataFrame:
    """Numbers as float, categories as plain strings with an explicit missing level."""
    out = {}
    for col in X.columns:
        s = X[col]
        if _is_categorical(s):
            out[col] = s.astype(object).where(s.notna(), _MISSING_CATEGORY).astype(str).to_numpy(dtype=object)
        else:
            out[col] = s.astype(float).to_numpy()
    return pd.DataFrame(out, index=X.index)


class LogisticScorecard:
    """Logistic regression on the model's features; the transparent benchmark."""

    def __init__(self, c: float = 1.0, seed: int = 0) -> None:
        self.c = c
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> LogisticScorecard:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder, StandardScaler

        # a column never observed in training (e.g. no contact history in the book) carries nothing
        self.columns_ = [c for c in X.columns if X[c].notna().any()]
        X = X[self.columns_]
        prepared = _prepare(X)
        cats = [c for c in X.columns if _is_categorical(X[c])]
        nums = [c for c in prepared.columns if c not in cats]
        pre = ColumnTransformer(
            [
                ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), nums),
                ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), cats),
            ]
        )
        self.pipeline_ = make_pipeline(
            pre, LogisticRegression(C=self.c, max_iter=2000, random_state=self.seed)
        )
        self.pipeline_.fit(prepared, np.asarray(y, dtype=int))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Probability of the positive class."""
        return self.pipeline_.predict_proba(_prepare(X[self.columns_]))[:, 1]
