"""Ongoing-monitoring settings: the thresholds that page someone (``rollcure monitor``).

A validator signs a model off once and then watches it (US Fed SR 11-7: ongoing monitoring and
outcomes analysis). Which drift, which loss of discrimination, which miscalibration and which gap
between the champion and its challenger is worth a page is a risk-appetite decision, so the
thresholds live in the config, not in code; docs/monitoring.md explains each one.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class MonitoringConfig(BaseModel):
    """Alert thresholds and the sizes of the monitoring statistics."""

    model_config = ConfigDict(extra="forbid")

    #: PSI of either score against the training sample above this is an alert (the validation
    #: report's "shifted" line, training.drift.PSI_SHIFT).
    psi_alert: float = Field(default=0.25, gt=0)
    #: The same for any feature (None: features' PSI is shown, explained and never pages; see
    #: training.monitoring.alerts for why that is the default on a collections book).
    feature_psi_alert: float | None = Field(default=None, gt=0)
    #: An alert when the upper end of a cycle's AUC interval lies this far below the AUC on the
    #: champion's own out-of-time cycles (the discrimination it was signed off with).
    auc_drop: float = Field(default=0.05, gt=0, lt=1)
    #: Acceptable calibration slope (logistic recalibration of the outcome on the score's log-odds:
    #: 1 is perfect, below 1 over-confident); an alert when a cycle's interval lies wholly outside.
    calibration_slope_low: float = Field(default=0.7, gt=0)
    calibration_slope_high: float = Field(default=1.3, gt=0)
    #: Acceptable ratio of realised to predicted event rate (calibration in the large); an alert when
    #: a cycle's interval lies wholly outside.
    observed_expected_low: float = Field(default=0.75, gt=0)
    observed_expected_high: float = Field(default=1.33, gt=0)
    #: An alert when the challenger beats the champion by more than this realised value per case,
    #: the interval of the difference wholly beyond it (0: any significant loss pages).
    arm_difference: float = Field(default=0.0, ge=0)
    #: Features given a characteristic analysis (the most shifted ones).
    top_shifted_features: int = Field(default=4, ge=1, le=20)
    #: Bootstrap resamples behind every interval, and their level.
    n_boot: int = Field(default=400, ge=50, le=10_000)
    level: float = Field(default=0.95, gt=0.5, lt=1)
    #: Training cases kept as the drift reference (a seeded sample; PSI needs no more).
    reference_sample: int = Field(default=20_000, ge=500)
    #: Fewest labelled cases a cycle needs before its outcome metrics can raise an alert.
    min_cases: int = Field(default=200, ge=10)

    @model_validator(mode="after")
    def _ranges_ordered(self) -> MonitoringConfig:
        if self.calibration_slope_low >= self.calibration_slope_high:
            raise ValueError("calibration_slope_low must be below calibration_slope_high")
        if self.observed_expected_low >= self.observed_expected_high:
            raise ValueError("observed_expected_low must be below observed_expected_high")
        return self
