"""Next-best-action policy settings (they travel inside the bundle).

Costs, capacities and experiment shares are business decisions, not code: they live here so that a
strategist changes them in the YAML config and the bundle records which values a decision used.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollcure.core.catalogue import ACTIONS, CATALOGUE

Strategy = Literal["dpd_ladder", "risk_score", "random"]


def _check_action_keys(mapping: dict, field: str) -> dict:
    unknown = sorted(set(mapping) - set(ACTIONS))
    if unknown:
        raise ValueError(f"{field}: unknown action(s) {unknown}; allowed: {list(ACTIONS)}")
    return mapping


class UpliftSettings(BaseModel):
    """LightGBM settings of the action-response models."""

    model_config = ConfigDict(extra="forbid")

    n_estimators: int = Field(default=200, ge=10, le=5000)
    learning_rate: float = Field(default=0.06, gt=0, le=1)
    num_leaves: int = Field(default=7, ge=2, le=1024)
    min_child_samples: int = Field(default=40, ge=1)
    #: Categorical features with at most this many categories (the seven actions among them at 8)
    #: split one category against the rest (LightGBM's ``max_cat_to_onehot``). 8 helped on the
    #: tuning books but not on the ten untuned ones (same mean regret closed, a lower clear-case
    #: share on every book; docs/experiments.md), so LightGBM's default 4 stays.
    max_cat_to_onehot: int = Field(default=4, ge=1, le=256)
    #: Bootstrap members for the uncertainty band of expected recovery.
    n_bags: int = Field(default=4, ge=2, le=50)
    #: "ipw" weights each logged case by 1 / propensity; "none" fits the logged data as is.
    weighting: Literal["none", "ipw"] = "none"
    #: Older logged cases count less (weight halves every this many months); None = all equal.
    half_life_months: float | None = Field(default=6.0, gt=0)
    #: Propensities below this are clipped before inverse weighting (bounds the variance).
    propensity_floor: float = Field(default=0.02, gt=0, lt=1)
    #: LightGBM threads; 1 is fastest for these small fits on a shared machine (no OpenMP spinning).
    num_threads: int = Field(default=1, ge=1, le=64)
    #: Fewest logged cases with an observed outcome needed to fit.
    min_rows: int = Field(default=200, ge=10)


class RiskScoreThresholds(BaseModel):
    """The risk-score baseline: fixed thresholds on the roll/cure scores (the industry's scorecard
    strategy), here so that the backtest compares against a stated rule, not a tuned one."""

    model_config = ConfigDict(extra="forbid")

    high_roll: float = Field(default=0.5, gt=0, lt=1)
    low_cure: float = Field(default=0.2, gt=0, lt=1)
    litigation_roll: float = Field(default=0.7, gt=0, lt=1)


class PolicyConfig(BaseModel):
    """Costs, capacities, rules file and experiment shares of the next-best-action policy."""

    model_config = ConfigDict(extra="forbid")

    #: Cost per action; the actions a config lists override the catalogue's costs, the rest keep them.
    action_costs: dict[str, float] = Field(default_factory=CATALOGUE.costs)
    #: Daily capacity per action, over the catalogue's like the costs; null lifts a limit.
    daily_capacity: dict[str, int | None] = Field(default_factory=CATALOGUE.daily_capacity)
    #: Working days between two decision cycles: a cycle's capacity is daily capacity x this.
    working_days_per_cycle: int = Field(default=22, ge=1, le=31)
    #: YAML rules file; None means the default shipped with the package (models/rules.yaml).
    rules_path: Path | None = None
    #: Share of cases given a random eligible action (propensity recorded) so that later
    #: off-policy evaluation can see every action.
    exploration_share: float = Field(default=0.05, ge=0, le=0.5)
    #: Share of cases randomly assigned to the challenger strategy.
    challenger_share: float = Field(default=0.1, ge=0, le=0.5)
    challenger_strategy: Strategy = "dpd_ladder"
    #: Cycles the action models' value labels look ahead (None: the value's whole horizon). 1, the
    #: default, is a one-step look-ahead: cash next cycle + the next state's recovery factor ×
    #: balance, observed after one cycle, so every logged case but the latest counts (it closed 65%
    #: and 61% of the DPD ladder's regret on 30k × 24 books, seeds 7 and 8, against 51% and 21% with
    #: 12-cycle labels: docs/experiments.md).
    lookahead_cycles: int | None = Field(default=1, ge=1, le=60)
    #: Width of the uncertainty band shown with each expected value, in standard deviations (1.96: ~95%).
    band_z: float = Field(default=1.96, gt=0, le=5)
    #: How cautiously the policy departs from the reference action: each other action is ranked at
    #: the reference's value plus its contrast's mean less ``caution_z`` bootstrap sds (0: greedy).
    #: 1.0 was chosen on the tuning books 7 and 8 and closes more of the ladder's regret on the
    #: untuned books 1001-1010 (mean 69%, lowest 57%, against 59% and 49% at 1.96). It was held
    #: back while the doubly robust estimate of it erred by 10.8% on the default book; that error
    #: came from valuing the policy with the models it was chosen by, on cases they were fitted
    #: on, and with cross-fitted estimates (``training.ope_folds``) it is 7.9%; docs/experiments.md.
    caution_z: float = Field(default=1.0, ge=0, le=5)
    uplift: UpliftSettings = Field(default_factory=UpliftSettings)
    risk_score: RiskScoreThresholds = Field(default_factory=RiskScoreThresholds)

    @field_validator("action_costs", mode="before")
    @classmethod
    def _costs_over_the_catalogue(cls, v: object) -> object:
        return {**CATALOGUE.costs(), **v} if isinstance(v, dict) else v

    @field_validator("daily_capacity", mode="before")
    @classmethod
    def _capacity_over_the_catalogue(cls, v: object) -> object:
        return {**CATALOGUE.daily_capacity(), **v} if isinstance(v, dict) else v

    @field_validator("action_costs")
    @classmethod
    def _costs_known_and_finite(cls, v: dict[str, float]) -> dict[str, float]:
        _check_action_keys(v, "action_costs")
        bad = {k: c for k, c in v.items() if not math.isfinite(c) or c < 0}
        if bad:
            raise ValueError(f"action_costs: costs must be finite and >= 0, got {bad}")
        return v

    @field_validator("daily_capacity")
    @classmethod
    def _capacity_known(cls, v: dict[str, int | None]) -> dict[str, int | None]:
        _check_action_keys(v, "daily_capacity")
        if v.get("none") is not None:
            raise ValueError("daily_capacity: 'none' cannot be limited (it is every case's fallback)")
        bad = {k: c for k, c in v.items() if c is not None and c < 0}
        if bad:
            raise ValueError(f"daily_capacity: capacities must be >= 0, got {bad}")
        return v

    @model_validator(mode="after")
    def _shares_leave_room_for_champion(self) -> PolicyConfig:
        if self.exploration_share + self.challenger_share >= 1:
            raise ValueError("exploration_share + challenger_share must be < 1")
        return self

    def cost_vector(self) -> list[float]:
        """Cost per action in catalogue (``ACTIONS``) order."""
        return [float(self.action_costs[a]) for a in ACTIONS]

    def cycle_capacity(self) -> list[float]:
        """Capacity per action for one decision cycle, in ACTIONS order; inf when unlimited."""
        days = self.working_days_per_cycle
        daily = [self.daily_capacity.get(a) for a in ACTIONS]
        return [math.inf if d is None else float(d * days) for d in daily]
