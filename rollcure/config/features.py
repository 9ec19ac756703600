"""Feature pipeline settings.

The feature windows themselves are constants of the registry (their lengths are part of the feature
names); what varies per deployment lives here. The serving payload is sized from these numbers and
the registry windows, so a case built from a payload sees exactly the rows a case built from the
full book sees.
"""

from pydantic import BaseModel, ConfigDict, Field


class FeatureConfig(BaseModel):
    """Windows, horizons and payload sizes of the feature pipeline."""

    model_config = ConfigDict(extra="forbid")

    #: Outcome horizon of the recovered-amount label, in days.
    horizon_days: int = Field(default=90, ge=1)
    #: Cycles a serving payload carries; at least the longest cycle window a feature reads (12).
    payload_cycles: int = Field(default=12, ge=12, le=60)
    #: A restructuring decided this many days before as_of or fewer still counts as running
    #: (at most the action look-back window, 365 days).
    restructuring_active_days: int = Field(default=180, ge=1, le=365)
    #: A promise counts as kept when the payment of its cycle covers this share of the promised amount.
    ptp_kept_share: float = Field(default=0.95, gt=0.0, le=1.0)
