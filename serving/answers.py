"""From validated payloads to response models and audit records, without any HTTP.

The service calls these (on a merged pass of several requests); tests call them directly. Columns
are taken out of the frames once, as plain Python values, and the per-case loops only assemble
response objects: at one case per request the pandas per-row access cost more than the decision.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from rollcure.core.catalogue import ACTIONS
from serving.decision_log import DecisionRecord, hash_case_id, inputs_digest
from serving.pipeline import decide_cases, explain_cases, score_cases
from serving.runtime import ModelRuntime
from serving.schemas import CaseDecision, CaseExplanation, CaseScore, Reason

if TYPE_CHECKING:
    from features.payload import CasePayload
    from rollcure.config.features import FeatureConfig

#: Hex digits of a case's inputs digest that make its seed (60 bits: fits an int64).
SEED_HEX_DIGITS = 15
#: The policy arm whose decisions are flagged ``challenger`` in responses and the log.
CHALLENGER_ARM = "challenger"


def features_for(payloads: Sequence[CasePayload], feature_cfg: FeatureConfig) -> pd.DataFrame:
    """The same feature code as training: payloads -> raw tables -> ``build_features``."""
    from features.build import build_features
    from features.payload import payloads_to_tables

    tables, cases = payloads_to_tables(list(payloads))
    return build_features(tables, cases, feature_cfg)


def case_seeds(digests: Sequence[str]) -> np.ndarray:
    """One seed per case from its own inputs digest: a case draws the same arm whatever request or
    merged pass it comes in, and can be replayed from the decision log's digest alone."""
    return np.fromiter((int(d[:SEED_HEX_DIGITS], 16) for d in digests), dtype=np.int64, count=len(digests))


def _floats_or_none(values: object) -> list[float | None]:
    """Plain floats, NaN as None (one conversion per column, not per cell)."""
    arr = np.asarray(values, dtype=float)
    return [None if v != v else v for v in arr.tolist()]


def _texts_or_none(values: object) -> list[str | None]:
    return [v if isinstance(v, str) else None for v in np.asarray(values, dtype=object).tolist()]


def _dates(values: np.ndarray) -> list:
    """Calendar dates of naive timestamps; numpy's day cast instead of building a DatetimeIndex
    (~50 µs a request) when the array is plain datetime64."""
    arr = np.asarray(values)
    if arr.dtype.kind == "M" and not np.isnat(arr).any():
        return arr.astype("datetime64[D]").tolist()
    return pd.DatetimeIndex(values).date.tolist()


def _expected_values(columns: Mapping[str, np.ndarray], n: int) -> list[dict[str, float] | None]:
    """Expected net recovery of every action per case (finite ones only); None without a policy."""
    cols = [a for a in ACTIONS if f"ev_{a}" in columns]
    if not cols:
        return [None] * n
    matrix = np.column_stack([np.asarray(columns[f"ev_{a}"], dtype=float) for a in cols]).tolist()
    return [{a: v for a, v in zip(cols, row, strict=True) if math.isfinite(v)} for row in matrix]


def _rule_notes(columns: Mapping[str, np.ndarray], n: int) -> list[list[str]]:
    """Why the chosen action, then why not each other action, per case (one column at a time;
    none without a policy)."""
    notes: list[list[str]] = [[] for _ in range(n)]
    texts = [("why", "")] + [(f"why_not_{a}", f"not {a}: ") for a in ACTIONS]
    for col, prefix in texts:
        if col not in columns:
            continue
        for i, text in enumerate(np.asarray(columns[col], dtype=object).tolist()):
            if isinstance(text, str) and text:
                notes[i].append(prefix + text)
    return notes


def recommend(
    runtime: ModelRuntime,
    payloads: Sequence[CasePayload],
    X: pd.DataFrame,
    salt: str,
    decided_at: datetime,
    capacities: list[float] | None = None,
) -> tuple[list[CaseDecision], list[DecisionRecord]]:
    """Decisions for a batch of cases (request order) and the audit records to append first;
    ``capacities`` as ``serving.pipeline.decide_cases`` takes them."""
    digests = [inputs_digest(p.model_dump(mode="json")) for p in payloads]
    # the decision's columns as arrays: building frames only to read them back cost more per
    # request than the decision itself
    decided = decide_cases(runtime.bundle, X, case_seeds(digests), capacities)
    frame, reasons = decided.columns, decided.reason_lists()
    n = len(X)
    stamp = decided_at.isoformat()
    loan_ids = np.asarray(frame["loan_id"], dtype=np.int64).tolist()
    as_ofs = _dates(frame["as_of"])
    p_rf = np.asarray(frame["p_roll_forward"], dtype=float).tolist()
    p_cure = np.asarray(frame["p_cure"], dtype=float).tolist()
    actions = _texts_or_none(frame["action"])
    values = _floats_or_none(frame["expected_value"])
    propensities = _floats_or_none(frame["propensity"])
    arms = [str(a) for a in np.asarray(frame["arm"], dtype=object).tolist()]
    all_values = _expected_values(frame, n)
    notes = _rule_notes(frame, n)
    codes = reasons.codes.tolist()
    texts = reasons.texts.tolist()
    offsets = reasons.offsets.tolist()
    version, name = runtime.model_version, runtime.model_name
    decisions: list[CaseDecision] = []
    records: list[DecisionRecord] = []
    for i in range(n):
        lo, hi = offsets[i], offsets[i + 1]
        decision_id = uuid.uuid4().hex
        challenger = arms[i] == CHALLENGER_ARM
        decisions.append(
            CaseDecision(
                decision_id=decision_id,
                loan_id=loan_ids[i],
                as_of=as_ofs[i],
                p_roll_forward=p_rf[i],
                p_cure=p_cure[i],
                action=actions[i],
                expected_value=values[i],
                expected_values=all_values[i],
                reason_codes=[str(c) for c in codes[lo:hi]],
                reasons=[str(t) for t in texts[lo:hi]],
                rule_notes=notes[i],
                model_version=version,
                arm=arms[i],
                challenger=challenger,
            )
        )
        records.append(
            DecisionRecord(
                decision_id=decision_id,
                case_hash=hash_case_id(payloads[i].loan.loan_id, salt),
                as_of=as_ofs[i].isoformat(),
                decided_at=stamp,
                endpoint="recommend",
                model_name=name,
                model_version=version,
                inputs_digest=digests[i],
                p_roll_forward=p_rf[i],
                p_cure=p_cure[i],
                action=actions[i],
                expected_value=values[i],
                reason_codes=tuple(str(c) for c in codes[lo:hi]),
                arm=arms[i],
                challenger=challenger,
                propensity=propensities[i],
            )
        )
    return decisions, records


def scores(runtime: ModelRuntime, X: pd.DataFrame) -> list[CaseScore]:
    frame = score_cases(runtime.bundle, X)
    columns = zip(
        frame["loan_id"].to_numpy(dtype=np.int64).tolist(),
        pd.DatetimeIndex(frame["as_of"]).date.tolist(),
        frame["p_roll_forward"].to_numpy(dtype=float).tolist(),
        frame["p_cure"].to_numpy(dtype=float).tolist(),
        strict=True,
    )
    return [
        CaseScore(loan_id=lid, as_of=day, p_roll_forward=rf, p_cure=cure, model_version=runtime.model_version)
        for lid, day, rf, cure in columns
    ]


def explanations(runtime: ModelRuntime, X: pd.DataFrame, action: str | None = None) -> list[CaseExplanation]:
    """Reasons up and down for both targets, and the full contribution vectors: of the calibrated
    scorers, or with ``action`` of the action models' probabilities under that action."""
    from rollcure.config.model import TARGETS

    bundle = runtime.bundle
    X = X.reset_index(drop=True)
    reasons = explain_cases(bundle, X, action)
    contrib = {t: bundle.contributions(X, t, action) for t in TARGETS}
    by_case = {k: g for k, g in reasons.groupby("case", sort=False)}
    out = []
    for i in range(len(X)):
        rows = by_case.get(i, reasons.iloc[:0])
        out.append(
            CaseExplanation(
                loan_id=int(X["loan_id"].iloc[i]),
                as_of=pd.Timestamp(X["as_of"].iloc[i]).date(),
                model_version=runtime.model_version,
                action=action,
                reasons=[
                    Reason(
                        target=r.target,
                        direction=r.direction,
                        rank=int(r.rank),
                        code=r.code,
                        feature=r.feature,
                        value=None if pd.isna(r.value) else str(r.value),
                        contribution=float(r.contribution),
                        contribution_pp=float(r.contribution_pp),
                        text=r.text,
                    )
                    for r in rows.itertuples(index=False)
                ],
                contributions={
                    t: {k: float(v) for k, v in c.iloc[i].drop("base_value").items()}
                    for t, c in contrib.items()
                },
                base_values={t: float(c["base_value"].iloc[i]) for t, c in contrib.items()},
            )
        )
    return out
