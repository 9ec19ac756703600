"""Response models of the HTTP service (the request model is ``features.payload.CasePayload``).

Declared with pydantic so that BentoML publishes them, with examples, in the OpenAPI document. The
two that carry a decision, ``CaseScore`` and ``CaseDecision``, are views of the one decision record
(``models.record``), so they cannot drift from the audit log and the batch output.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field

from models.record import EXAMPLE_REASONS, response_model

if TYPE_CHECKING:
    # the classes are built at run time (below); a type checker sees two distinct response models
    # taking keyword fields, whose list stays declared once in ``models.record``
    class CaseScore(BaseModel):
        def __init__(self, **fields: object) -> None: ...

    class CaseDecision(BaseModel):
        def __init__(self, **fields: object) -> None: ...

else:
    #: Fields, descriptions and examples come from the one decision record (``models.record``).
    CaseScore = response_model("CaseScore", "score", "Calibrated probabilities of one case.", __name__)
    CaseDecision = response_model(
        "CaseDecision",
        "response",
        "The recommendation for one case, as logged in the decision log.",
        __name__,
    )


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
                        "text": EXAMPLE_REASONS[0],
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
    action: str | None = Field(
        default=None,
        description="The action whose probabilities are explained (null: the calibrated scorers').",
    )
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
