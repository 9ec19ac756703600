"""Response models of the HTTP service (the request model is ``features.payload.CasePayload``).

Declared with pydantic so that BentoML publishes them, with examples, in the OpenAPI document.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field

_EXAMPLE_REASONS = [
    "2 broken promises to pay in the last 30 days raised roll-forward risk (+6.2 pp)",
    "days past due at the cycle date of 45 raised roll-forward risk (+4.1 pp)",
]


class CaseScore(BaseModel):
    """Calibrated probabilities of one case."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "loan_id": 1001,
                "as_of": "2025-06-30",
                "p_roll_forward": 0.31,
                "p_cure": 0.22,
                "model_version": "3",
            }
        }
    )

    loan_id: int
    as_of: date
    p_roll_forward: float = Field(ge=0, le=1, description="Probability of a worse bucket next cycle.")
    p_cure: float = Field(ge=0, le=1, description="Probability of being current (M0) next cycle.")
    model_version: str


class CaseDecision(CaseScore):
    """The recommendation for one case, as logged in the decision log."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "decision_id": "4f1c0e9a8b7d4c3e9f0a1b2c3d4e5f60",
                "loan_id": 1001,
                "as_of": "2025-06-30",
                "p_roll_forward": 0.31,
                "p_cure": 0.22,
                "action": "reminder",
                "expected_value": 84.5,
                "reason_codes": ["RF-CONTACT-UP", "RF-REPAYMENT-UP"],
                "reasons": _EXAMPLE_REASONS,
                "rule_notes": [],
                "model_version": "3",
                "arm": "champion",
                "challenger": False,
            }
        }
    )

    decision_id: str = Field(description="Key of this decision in the audit log.")
    action: str | None = Field(description="Recommended action; null when the model has no policy.")
    expected_value: float | None = Field(description="Expected net recovery of the action.")
    expected_values: dict[str, float] | None = Field(
        default=None, description="Expected net recovery of every action, when the policy gives them."
    )
    reason_codes: list[str] = Field(description="Stable codes of the reasons, strongest first.")
    reasons: list[str] = Field(description="The same reasons as sentences.")
    rule_notes: list[str] = Field(default_factory=list, description="Policy rules that shaped the choice.")
    arm: str = Field(description="Policy arm that chose the action: champion, challenger or explore.")
    challenger: bool = Field(description="True when the challenger arm chose the action.")


class Reason(BaseModel):
    """One SHAP-based reason: a feature's contribution to one target, in log-odds and points."""

    target: str
    direction: str
    rank: int
    code: str
    feature: str
    value: str | None
    contribution: float
    contribution_pp: float
    text: str


class CaseExplanation(BaseModel):
    """Reasons up and down per target, and every feature's contribution (rows sum to the margin)."""

    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "loan_id": 1001,
                "as_of": "2025-06-30",
                "model_version": "3",
                "reasons": [
                    {
                        "target": "roll_forward",
                        "direction": "up",
                        "rank": 1,
                        "code": "RF-CONTACT-UP",
                        "feature": "broken_ptp_30d",
                        "value": "2",
                        "contribution": 0.41,
                        "contribution_pp": 6.2,
                        "text": _EXAMPLE_REASONS[0],
                    }
                ],
                "contributions": {"roll_forward": {"broken_ptp_30d": 0.41}, "cure": {"broken_ptp_30d": -0.2}},
                "base_values": {"roll_forward": -1.1, "cure": -1.4},
            }
        }
    )

    loan_id: int
    as_of: date
    model_version: str
    reasons: list[Reason]
    contributions: dict[str, dict[str, float]] = Field(description="Per target: feature -> log-odds.")
    base_values: dict[str, float] = Field(description="Per target: the expected margin (log-odds).")


class ModelMetadata(BaseModel):
    """What the service is running."""

    model_name: str
    model_version: str
    alias: str
    run_id: str | None
    features: list[str]
    config_hash: str
    has_policy: bool


class ReloadResult(BaseModel):
    previous_version: str
    model_version: str
    swapped: bool
