"""The one path from features to decisions, shared by the HTTP service and the batch scorer.

No feature or model logic lives here: features come from ``features.build_features`` (via
``features.payload`` for HTTP payloads), probabilities and reasons from the bundle, actions,
arms and propensities from ``models.policy.decide``. This module only lines their outputs up per
case, so that a case scored by ``rollcure score`` and the same case sent to ``POST /recommend``
get the same answer for the same seed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.bundle import Bundle, Reasons
from models.lgb_input import column_values
from rollcure.core.catalogue import ACTIONS

#: The reasons attached to a decision: what raised the roll-forward risk, strongest first.
DECISION_REASON_TARGET = "roll_forward"
DECISION_REASON_DIRECTION = "up"
#: The arm a decision comes from when the bundle has no policy (scores only).
NO_POLICY_ARM = "champion"
#: Columns of the per-case decision frame returned by :func:`decide_cases`.
DECISION_COLUMNS: tuple[str, ...] = (
    "loan_id",
    "as_of",
    "p_roll_forward",
    "p_cure",
    "action",
    "expected_value",
    "arm",
    "propensity",
    "why",
)


@dataclass(frozen=True)
class ReasonLists:
    """Per-case lists as flat arrays plus offsets (Arrow's list layout): no per-case Python objects."""

    offsets: np.ndarray
    codes: np.ndarray
    texts: np.ndarray

    def codes_of(self, i: int) -> list[str]:
        return [str(c) for c in self.codes[self.offsets[i] : self.offsets[i + 1]]]

    def texts_of(self, i: int) -> list[str]:
        return [str(t) for t in self.texts[self.offsets[i] : self.offsets[i + 1]]]


def has_policy(bundle: Bundle) -> bool:
    """True when the bundle carries the action-response models the policy needs."""
    return bundle.policy is not None


def request_seed(digests: Sequence[str]) -> int:
    """A seed derived from the inputs: the same request gets the same arm draw, so it can be replayed
    from the decision log's input digests, while different requests draw independently."""
    return int(hashlib.sha256("".join(digests).encode()).hexdigest()[:15], 16)


def case_keys(X: pd.DataFrame) -> pd.DataFrame:
    """loan_id and as_of of a feature frame, index reset to row positions (built from the two
    arrays: selecting columns of a ~100-column frame costs a millisecond per request)."""
    return pd.DataFrame(dict(zip(("loan_id", "as_of"), column_values(X, ("loan_id", "as_of")), strict=True)))


def score_cases(bundle: Bundle, X: pd.DataFrame) -> pd.DataFrame:
    """loan_id, as_of, p_roll_forward, p_cure (row-aligned with X)."""
    return pd.concat([case_keys(X), bundle.score(X).to_frame()], axis=1)


def explain_cases(bundle: Bundle, X: pd.DataFrame) -> pd.DataFrame:
    """The bundle's long reasons frame (``case`` = row position in X), top-k as trained."""
    return bundle.explain(X.reset_index(drop=True)).to_frame()


def _decision_reason_arrays(bundle: Bundle, X: pd.DataFrame, inputs: dict | None = None) -> Reasons:
    """The decision's reasons: TreeSHAP for the decision target only (the throughput bottleneck)
    and only the direction a decision shows."""
    return bundle.explain(
        X, targets=(DECISION_REASON_TARGET,), directions=(DECISION_REASON_DIRECTION,), inputs=inputs
    )


def decision_reason_frame(bundle: Bundle, X: pd.DataFrame) -> pd.DataFrame:
    """The bundle's reasons a decision shows: the same rows ``bundle.explain`` gives for the
    decision target and direction (``case`` = row position in X)."""
    return _decision_reason_arrays(bundle, X.reset_index(drop=True)).to_frame()


def _reason_lists(case: np.ndarray, codes: np.ndarray, texts: np.ndarray, n_cases: int) -> ReasonLists:
    """Lists from reasons already ordered by case then rank."""
    counts = np.bincount(np.asarray(case, dtype=np.int64), minlength=n_cases)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return ReasonLists(
        offsets=offsets, codes=np.asarray(codes, dtype=object), texts=np.asarray(texts, dtype=object)
    )


def decision_reasons(reasons: pd.DataFrame, n_cases: int) -> ReasonLists:
    """The roll-forward-raising reasons of each case, in rank order, as Arrow-style lists."""
    keep = (reasons["target"] == DECISION_REASON_TARGET) & (reasons["direction"] == DECISION_REASON_DIRECTION)
    chosen = reasons.loc[keep].sort_values(["case", "rank"], kind="stable")
    return _reason_lists(
        chosen["case"].to_numpy(),
        chosen["code"].to_numpy(dtype=object),
        chosen["text"].to_numpy(dtype=object),
        n_cases,
    )


def _scores_only(bundle: Bundle, X: pd.DataFrame) -> pd.DataFrame:
    frame = score_cases(bundle, X)
    n = len(frame)
    return frame.assign(
        action=pd.array([None] * n, dtype="str"),
        expected_value=np.full(n, np.nan),
        arm=NO_POLICY_ARM,
        propensity=np.full(n, np.nan),
        why=pd.array([None] * n, dtype="str"),
    )


def decide_case_columns(
    bundle: Bundle, X: pd.DataFrame, seed: int | np.ndarray
) -> tuple[dict[str, np.ndarray], ReasonLists, dict[str, np.ndarray]]:
    """:func:`decide_cases` as columns of arrays (the decision's, then the policy's; the policy's
    empty without a policy): the service reads them back per case, and at one case per request
    building the two frames and reading them cost more than the decision."""
    if not X.index.equals(pd.RangeIndex(len(X))):  # a copy of the frame otherwise
        X = X.reset_index(drop=True)
    if has_policy(bundle):
        from models.policy import decide_columns

        # X converted to the classifiers' matrix once, for the scores and the reasons
        inputs = bundle.matrices(X)
        policy = decide_columns(bundle, X, seed=seed, inputs=inputs)
        columns = dict(zip(DECISION_COLUMNS[:2], column_values(X, DECISION_COLUMNS[:2]), strict=True))
        columns.update({k: policy[k] for k in DECISION_COLUMNS[2:]})
    else:
        inputs, policy = None, {}
        frame = _scores_only(bundle, X)
        columns = {k: frame[k].to_numpy() for k in DECISION_COLUMNS}
    reasons = _decision_reason_arrays(bundle, X, inputs)
    return columns, _reason_lists(reasons["case"], reasons["code"], reasons["text"], len(X)), policy


def decide_cases(
    bundle: Bundle, X: pd.DataFrame, seed: int | np.ndarray
) -> tuple[pd.DataFrame, ReasonLists, pd.DataFrame]:
    """Decision, scores and reasons for every case of a feature frame.

    Returns the decision frame (``DECISION_COLUMNS``), the reason lists, and the policy's full
    frame (expected value of every action as ``ev_<action>``, why-not texts) — empty when the
    bundle carries no policy, in which case serving answers with scores and reasons only rather
    than inventing an action. ``seed`` (one int, or one per case) goes to the policy unchanged.
    """
    X = X.reset_index(drop=True)
    if not has_policy(bundle):
        return _scores_only(bundle, X), _decision_reasons_of(bundle, X), pd.DataFrame(index=X.index)
    columns, reasons, policy = decide_case_columns(bundle, X, seed)
    return pd.DataFrame(columns), reasons, pd.DataFrame(policy)


def _decision_reasons_of(bundle: Bundle, X: pd.DataFrame) -> ReasonLists:
    reasons = _decision_reason_arrays(bundle, X)
    return _reason_lists(reasons["case"], reasons["code"], reasons["text"], len(X))


def expected_values_of(policy: pd.DataFrame, i: int) -> dict[str, float] | None:
    """Expected net recovery of every action for case ``i``; None without a policy."""
    cols = [f"ev_{a}" for a in ACTIONS if f"ev_{a}" in policy.columns]
    if not cols:
        return None
    row = policy.iloc[i]
    return {c.removeprefix("ev_"): float(row[c]) for c in cols if np.isfinite(row[c])}


def rule_notes_of(policy: pd.DataFrame, i: int) -> list[str]:
    """Why the chosen action, then why not each other action (rules, capacity, lower value)."""
    notes = []
    if "why" in policy.columns and isinstance(policy["why"].iloc[i], str) and policy["why"].iloc[i]:
        notes.append(policy["why"].iloc[i])
    for a in ACTIONS:
        col = f"why_not_{a}"
        if col in policy.columns:
            text = policy[col].iloc[i]
            if isinstance(text, str) and text:
                notes.append(f"not {a}: {text}")
    return notes
