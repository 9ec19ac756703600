"""From raw tables to the labelled case frame that training fits on (the data edge of training).

Features and labels come from the feature pipeline (the same code serving uses); this module only
joins them on the case keys, keeps labelled cases, and records a digest of what was trained on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd

from models.feature_spec import FeatureSpec, spec_from_registry
from rollcure.config import RollcureConfig
from rollcure.core.domain import bucket_of
from rollcure.core.errors import InputError

KEYS: tuple[str, ...] = ("loan_id", "as_of")
LABEL_COLUMNS: tuple[str, ...] = ("roll_forward", "cure", "next_bucket")


@dataclass
class CaseData:
    """Labelled cases (keys, features, labels, current bucket) and the spec of the feature columns."""

    cases: pd.DataFrame
    spec: list[FeatureSpec]
    n_unlabelled: int

    @property
    def feature_names(self) -> list[str]:
        return [s.name for s in self.spec]


def join_cases(
    X: pd.DataFrame, cases: pd.DataFrame, labels: pd.DataFrame, cycles: pd.DataFrame
) -> pd.DataFrame:
    """Features + labels on (loan_id, as_of); inner join keeps only cases with an observed next cycle."""
    if not set(KEYS) <= set(X.columns):
        if len(X) != len(cases):
            raise InputError("features: not row-aligned with cases and no loan_id/as_of columns")
        X = pd.concat([cases[list(KEYS)].reset_index(drop=True), X.reset_index(drop=True)], axis=1)
    missing = [c for c in (*KEYS, *LABEL_COLUMNS) if c not in labels.columns]
    if missing:
        raise InputError(f"labels: missing column(s) {missing}")
    label_cols = [*KEYS, *LABEL_COLUMNS]
    frame = X.merge(labels[label_cols], on=list(KEYS), how="inner", validate="one_to_one")
    if "bucket" not in frame.columns:
        dpd = cycles.rename(columns={"cycle_date": "as_of", "dpd": "_cycle_dpd"})[[*KEYS, "_cycle_dpd"]]
        frame = frame.merge(dpd, on=list(KEYS), how="left", validate="one_to_one")
        frame["bucket"] = bucket_of(frame.pop("_cycle_dpd").to_numpy())
    frame["roll_forward"] = frame["roll_forward"].astype(bool)
    frame["cure"] = frame["cure"].astype(bool)
    frame["next_bucket"] = frame["next_bucket"].astype(str)
    return frame.sort_values(list(KEYS), kind="stable").reset_index(drop=True)


def load_case_data(tables: dict[str, pd.DataFrame], cfg: RollcureConfig) -> CaseData:
    """Build the feature set and labels with the feature pipeline and join them."""
    from features.dataset import build_dataset
    from features.registry import FEATURES

    ds = build_dataset(tables, cfg.features)
    frame = join_cases(ds.X, ds.cases, ds.labels, tables["cycles"])
    if frame.empty:
        raise InputError("--data: no overdue case has an observed next cycle, nothing to train on")
    spec = [s for s in spec_from_registry(FEATURES) if s.name in frame.columns]
    return CaseData(cases=frame, spec=spec, n_unlabelled=int(ds.excluded))


def frame_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of a frame's contents (row hashes in order), logged with the run for lineage."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()
