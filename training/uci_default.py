"""The October default label as a third target, for comparison with the published UCI results.

Roll-forward and cure are per-transition targets on delinquent accounts; the literature instead
predicts, for *every* account, default in October 2005 from what is known at the end of September.
The label has one date only, so there is no out-of-time split: accounts are split at random
(stratified, seeded) as in the published work. Features are the project's own
(``features.build.build_features`` at as_of 2005-09-30), optionally joined with the UCI side tables
(raw -2/-1/0/k status codes of the last six months, sex, education, marriage) to show what the raw
tables cannot carry. Three scores on the same held-out accounts: LightGBM (``models.classifiers``),
the bucket default rate (the Markov matrix's one-step analogue), and the logistic scorecard.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from adapters.uci_format import LABEL_AS_OF, MONTHS
from features.build import build_features
from rollcure.config.features import FeatureConfig
from rollcure.config.model import ModelConfig
from rollcure.core.domain import BUCKETS

#: Held-out share of accounts (the published comparisons hold out 30 %).
TEST_SHARE = 0.3
#: Share of the training accounts kept aside for LightGBM's early stopping.
VALID_SHARE = 0.2
_SIDE_STATUS = [f"status_m{k}" for k in range(len(MONTHS))]  # m0 = September, m5 = April


@dataclass(frozen=True)
class DefaultComparison:
    """Metrics per model on the held-out accounts, and the held-out scores for plots."""

    metrics: pd.DataFrame  # one row per model: auc, gini, ks, brier, log_loss, ece, n, rate
    scores: pd.DataFrame  # loan_id, y, one column per model


def side_features(side: dict[str, pd.DataFrame], loan_ids: np.ndarray) -> pd.DataFrame:
    """UCI-only inputs per loan, row-aligned with ``loan_ids``: status codes (latest first), attributes."""
    status = side["status"]
    wide = status.pivot(index="loan_id", columns="cycle_date", values="status").sort_index(axis=1)
    wide = wide.loc[:, wide.columns <= pd.Timestamp(LABEL_AS_OF)].iloc[:, ::-1]
    wide.columns = _SIDE_STATUS[: wide.shape[1]]
    attrs = side["attributes"].set_index("borrower_id")
    out = wide.reindex(loan_ids).reset_index(drop=True).astype("int64")
    for col in ("sex", "education", "marriage"):
        out[col] = pd.Categorical(attrs[col].reindex(loan_ids).to_numpy(dtype=object))
    return out


def default_features(
    tables: dict[str, pd.DataFrame],
    side: dict[str, pd.DataFrame] | None,
    labels: pd.DataFrame,
    cfg: FeatureConfig,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """(X, y, loan_id) for every labelled account at as_of September 2005."""
    cases = labels[["loan_id", "as_of"]].sort_values("loan_id").reset_index(drop=True)
    y = labels.set_index("loan_id").loc[cases["loan_id"], "default_next_month"].to_numpy(dtype=int)
    X = build_features(tables, cases, cfg).drop(columns=["loan_id", "as_of"])
    if side:
        X = pd.concat([X, side_features(side, cases["loan_id"].to_numpy())], axis=1)
    return X, y, cases["loan_id"].to_numpy()


def _stratified_split(y: np.ndarray, share: float, rng: np.random.Generator) -> np.ndarray:
    """Boolean mask of the held-out part, ``share`` of each class."""
    held = np.zeros(len(y), dtype=bool)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        held[rng.choice(idx, size=int(round(share * len(idx))), replace=False)] = True
    return held


def _bucket_rate(bucket_train: pd.Series, y_train: np.ndarray, bucket_test: pd.Series) -> np.ndarray:
    """Training default rate of each bucket (pooled rate for a bucket unseen in training)."""
    frame = pd.DataFrame({"b": np.asarray(bucket_train, dtype=object), "y": y_train})
    rates = frame.groupby("b")["y"].mean().reindex(list(BUCKETS)).fillna(float(np.mean(y_train)))
    return rates.loc[np.asarray(bucket_test, dtype=object)].to_numpy()


def compare_default_models(
    X: pd.DataFrame, y: np.ndarray, loan_id: np.ndarray, model_cfg: ModelConfig, seed: int
) -> DefaultComparison:
    """Fit on a random 70 % of accounts, score the other 30 % with the three models."""
    from models.baselines import LogisticScorecard
    from models.classifiers import GBMClassifier
    from models.metrics import metric_table

    rng = np.random.default_rng(seed)
    test = _stratified_split(y, TEST_SHARE, rng)
    train_idx = np.flatnonzero(~test)
    valid = np.zeros(len(y), dtype=bool)
    valid[train_idx[_stratified_split(y[train_idx], VALID_SHARE, rng)]] = True
    fit = ~test & ~valid

    gbm = GBMClassifier(model_cfg.lightgbm, seed=seed).fit(X[fit], y[fit], X[valid], y[valid])
    # columns with no value at all (contacts, income…) carry nothing a scorecard could use
    known = X.columns[X.notna().any().to_numpy()]
    logistic = LogisticScorecard(c=model_cfg.logistic_c, seed=seed).fit(X.loc[~test, known], y[~test])
    scores = {
        "lightgbm": gbm.predict_proba(X[test]),
        "bucket_rate": _bucket_rate(X.loc[~test, "bucket"], y[~test], X.loc[test, "bucket"]),
        "logistic": logistic.predict_proba(X.loc[test, known]),
    }
    yt = y[test]
    rows = [{"model": name, "n": int(test.sum()), "rate": float(yt.mean()), **metric_table(yt, p)}
            for name, p in scores.items()]
    return DefaultComparison(
        metrics=pd.DataFrame(rows).set_index("model"),
        scores=pd.DataFrame({"loan_id": loan_id[test], "y": yt, **scores}),
    )


def run_default_comparison(data_dir, feature_cfg: FeatureConfig, model_cfg: ModelConfig, seed: int,
                           with_side_tables: bool = True) -> DefaultComparison:
    """Read an imported UCI folder and compare the three models on the October default label."""
    from adapters.uci import read_default_labels, read_side_tables
    from rollcure.core.io import read_tables

    side = read_side_tables(data_dir) if with_side_tables else None
    X, y, loan_id = default_features(read_tables(data_dir), side, read_default_labels(data_dir), feature_cfg)
    return compare_default_models(X, y, loan_id, model_cfg, seed)
