"""The one path from features to decisions, shared by the HTTP service and the batch scorer.

No feature or model logic lives here: features come from ``features.build_features`` (via
``features.payload`` for HTTP payloads), probabilities and reasons from the bundle, actions,
arms, propensities and the reasons a decision shows from ``models.policy.decide``. This module
only picks the policy or, for a bundle without one, scores and reasons alone, so that a case
scored by ``rollcure score`` and the same case sent to ``POST /recommend`` get the same answer for
the same seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.bundle import Bundle
from models.lgb_input import column_values
from models.policy import DECISION_COLUMNS, Decisions, decide, decision_reasons

#: The arm a decision comes from when the bundle has no policy (scores only).
NO_POLICY_ARM = "champion"


def has_policy(bundle: Bundle) -> bool:
    """True when the bundle carries the action-response models the policy needs."""
    return bundle.policy is not None


def case_keys(X: pd.DataFrame) -> pd.DataFrame:
    """loan_id and as_of of a feature frame, index reset to row positions (built from the two
    arrays: selecting columns of a ~100-column frame costs a millisecond per request)."""
    return pd.DataFrame(dict(zip(("loan_id", "as_of"), column_values(X, ("loan_id", "as_of")), strict=True)))


def score_cases(bundle: Bundle, X: pd.DataFrame) -> pd.DataFrame:
    """loan_id, as_of, p_roll_forward, p_cure (row-aligned with X)."""
    return pd.concat([case_keys(X), bundle.score(X).to_frame()], axis=1)


def explain_cases(bundle: Bundle, X: pd.DataFrame, action: str | None = None) -> pd.DataFrame:
    """The bundle's long reasons frame (``case`` = row position in X), top-k as trained; with
    ``action``, of the action models' probabilities under it."""
    return bundle.explain(X.reset_index(drop=True), action=action).to_frame()


def _scores_only(bundle: Bundle, X: pd.DataFrame) -> dict[str, np.ndarray]:
    """``DECISION_COLUMNS`` without a policy: the scores, and no action, value or propensity."""
    columns = dict(zip(DECISION_COLUMNS[:2], column_values(X, DECISION_COLUMNS[:2]), strict=True))
    scores = bundle.score(X)
    n = len(X)
    missing_text = np.full(n, np.nan, dtype=object)  # a missing text as pandas' str dtype holds it
    columns.update(
        p_roll_forward=scores.p_roll_forward,
        p_cure=scores.p_cure,
        action=missing_text,
        expected_value=np.full(n, np.nan),
        arm=np.full(n, NO_POLICY_ARM, dtype=object),
        propensity=np.full(n, np.nan),
        why=missing_text,
    )
    return columns


def decide_cases(
    bundle: Bundle, X: pd.DataFrame, seed: int | np.ndarray, capacities: list[float] | None = None
) -> Decisions:
    """Decision, scores and reasons for every case of a feature frame (``Decisions.to_frame`` for a
    frame).

    With a policy this is ``models.policy.decide`` (``DECISION_COLUMNS`` plus the expected value
    of every action as ``ev_<action>`` and the why-not texts); without one, serving answers with
    scores and reasons only (``DECISION_COLUMNS``, no action) rather than inventing an action.
    ``seed`` (one int, or one per case) goes to the policy unchanged, and so do ``capacities``
    (ACTIONS order; default the policy's per-cycle ones; the service passes what its capacity
    ledger has left today); the reasons come from ``models.policy.decision_reasons`` either way.
    """
    if not X.index.equals(pd.RangeIndex(len(X))):  # a copy of the frame otherwise
        X = X.reset_index(drop=True)
    if has_policy(bundle):
        return decide(bundle, X, seed=seed, capacities=capacities)
    return Decisions(_scores_only(bundle, X), decision_reasons(bundle, X))
