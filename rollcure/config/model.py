"""Model settings (they travel inside the bundle, so serving explains exactly as training did)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The two binary targets, in the order the bundle scores them.
TARGETS: tuple[str, ...] = ("roll_forward", "cure")


class LightGBMParams(BaseModel):
    """The LightGBM knobs we tune; everything else keeps LightGBM's defaults."""

    model_config = ConfigDict(extra="forbid")

    num_boost_round: int = Field(default=600, ge=1)
    early_stopping_rounds: int = Field(default=30, ge=1)
    learning_rate: float = Field(default=0.05, gt=0, le=1)
    num_leaves: int = Field(default=15, ge=2)
    max_depth: int = Field(default=-1, ge=-1)
    min_child_samples: int = Field(default=100, ge=1)
    feature_fraction: float = Field(default=0.7, gt=0, le=1)
    bagging_fraction: float = Field(default=0.9, gt=0, le=1)
    bagging_freq: int = Field(default=1, ge=0)
    lambda_l2: float = Field(default=5.0, ge=0)
    max_bin: int = Field(default=255, ge=2)
    cat_smooth: float = Field(default=10.0, ge=0)
    num_threads: int = Field(default=2, ge=0)
    #: How LightGBM enforces the monotone constraints. "advanced" splits more freely but its
    #: enforcement has open bugs (LightGBM issues 5358, 6155): on the default book it let
    #: refusals_90d raise the cure probability; "intermediate" held on every constrained feature.
    monotone_constraints_method: Literal["basic", "intermediate", "advanced"] = "intermediate"


class ModelConfig(BaseModel):
    """How the roll-forward and cure classifiers are fitted, calibrated and explained."""

    model_config = ConfigDict(extra="forbid")

    lightgbm: LightGBMParams = Field(default_factory=LightGBMParams)
    #: Apply the feature registry's ``monotone`` directions (roll-forward as declared, cure reversed).
    monotone: bool = True
    #: Per-feature overrides of the registry direction for roll-forward risk (+1, -1, 0 = free).
    monotone_overrides: dict[str, Literal[-1, 0, 1]] = Field(default_factory=dict)
    #: "auto" picks isotonic or Platt by cross-fitted log loss on the validation cycle.
    calibration: Literal["auto", "isotonic", "platt", "none"] = "auto"
    #: Reasons returned per case and direction (up and down).
    top_k: int = Field(default=3, ge=1, le=20)
    #: Logistic scorecard baseline: inverse regularisation strength.
    logistic_c: float = Field(default=1.0, gt=0)
