"""From validated payloads to response models and audit records, without any HTTP.

The service calls these; tests call them directly. The per-case loops here build one response
object per case of a request (bounded by ``serving.max_batch_size``); the maths is vectorised
upstream in the feature, model and policy code.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from serving.decision_log import DecisionRecord, hash_case_id, inputs_digest
from serving.pipeline import (
    decide_cases,
    expected_values_of,
    explain_cases,
    request_seed,
    rule_notes_of,
    score_cases,
)
from serving.runtime import ModelRuntime
from serving.schemas import CaseDecision, CaseExplanation, CaseScore, Reason


def features_for(payloads: Sequence[object], feature_cfg: object) -> pd.DataFrame:
    """The same feature code as training: payloads -> raw tables -> ``build_features``."""
    from features.build import build_features
    from features.payload import payloads_to_tables

    tables, cases = payloads_to_tables(list(payloads))
    return build_features(tables, cases, feature_cfg)


def _opt_float(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def recommend(
    runtime: ModelRuntime,
    payloads: Sequence[object],
    X: pd.DataFrame,
    salt: str,
    decided_at: datetime,
) -> tuple[list[CaseDecision], list[DecisionRecord]]:
    """Decisions for a batch of cases (request order) and the audit records to append first."""
    digests = [inputs_digest(p.model_dump(mode="json")) for p in payloads]
    frame, reasons, policy = decide_cases(runtime.bundle, X, request_seed(digests))
    stamp = decided_at.isoformat()
    decisions: list[CaseDecision] = []
    records: list[DecisionRecord] = []
    for i, f in enumerate(frame.itertuples(index=False)):
        action = None if pd.isna(f.action) else str(f.action)
        decision = CaseDecision(
            decision_id=uuid.uuid4().hex,
            loan_id=int(f.loan_id),
            as_of=pd.Timestamp(f.as_of).date(),
            p_roll_forward=float(f.p_roll_forward),
            p_cure=float(f.p_cure),
            action=action,
            expected_value=_opt_float(f.expected_value),
            expected_values=expected_values_of(policy, i),
            reason_codes=reasons.codes_of(i),
            reasons=reasons.texts_of(i),
            rule_notes=rule_notes_of(policy, i),
            model_version=runtime.model_version,
            arm=str(f.arm),
            challenger=f.arm == "challenger",
        )
        decisions.append(decision)
        records.append(
            DecisionRecord(
                decision_id=decision.decision_id,
                case_hash=hash_case_id(payloads[i].loan.loan_id, salt),
                as_of=decision.as_of.isoformat(),
                decided_at=stamp,
                endpoint="recommend",
                model_name=runtime.model_name,
                model_version=runtime.model_version,
                inputs_digest=digests[i],
                p_roll_forward=decision.p_roll_forward,
                p_cure=decision.p_cure,
                action=action,
                expected_value=decision.expected_value,
                reason_codes=tuple(decision.reason_codes),
                arm=decision.arm,
                challenger=decision.challenger,
                propensity=_opt_float(f.propensity),
            )
        )
    return decisions, records


def scores(runtime: ModelRuntime, X: pd.DataFrame) -> list[CaseScore]:
    frame = score_cases(runtime.bundle, X)
    return [
        CaseScore(
            loan_id=int(r.loan_id),
            as_of=pd.Timestamp(r.as_of).date(),
            p_roll_forward=float(r.p_roll_forward),
            p_cure=float(r.p_cure),
            model_version=runtime.model_version,
        )
        for r in frame.itertuples(index=False)
    ]


def explanations(runtime: ModelRuntime, X: pd.DataFrame) -> list[CaseExplanation]:
    """Reasons up and down for both targets, and the full contribution vectors."""
    from models.config import TARGETS

    bundle = runtime.bundle
    X = X.reset_index(drop=True)
    reasons = explain_cases(bundle, X)
    contrib = {t: bundle.contributions(X, t) for t in TARGETS}
    by_case = {k: g for k, g in reasons.groupby("case", sort=False)}
    out = []
    for i in range(len(X)):
        rows = by_case.get(i, reasons.iloc[:0])
        out.append(
            CaseExplanation(
                loan_id=int(X["loan_id"].iloc[i]),
                as_of=pd.Timestamp(X["as_of"].iloc[i]).date(),
                model_version=runtime.model_version,
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
