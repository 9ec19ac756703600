"""Training data set: every labelled overdue case of a book, its features and its labels."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from features.build import build_features
from features.cases import overdue_cases
from features.labels import build_labels
from rollcure.config.features import FeatureConfig


@dataclass
class Dataset:
    """Cases with an observed outcome, row-aligned: ``cases``, features ``X`` and ``labels``.

    ``excluded`` counts the overdue cases left out because their outcome window is not observed.
    """

    cases: pd.DataFrame
    X: pd.DataFrame
    labels: pd.DataFrame
    excluded: int


def build_dataset(tables: dict[str, pd.DataFrame], cfg: FeatureConfig) -> Dataset:
    """Cases → labels (dropping unobserved outcomes) → features of the labelled cases."""
    all_cases = overdue_cases(tables["cycles"])
    labels, excluded = build_labels(tables["cycles"], all_cases, cfg.horizon_days)
    cases = labels[["loan_id", "as_of"]].reset_index(drop=True)
    X = build_features(tables, cases, cfg)
    return Dataset(cases=cases, X=X, labels=labels.reset_index(drop=True), excluded=excluded)
