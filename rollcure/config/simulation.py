"""Simulation settings (owned by the simulator).

Every number that shapes the synthetic book lives here, so a YAML file can change the world without
touching code: sizes, calendar, product mix, action costs, the action-effect table and the logging
policy's ladder. Unknown keys are rejected (``extra="forbid"``) so a typo fails loudly.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollcure.core.domain import ACTIONS, BUCKETS, DEFAULT_ACTION_COSTS, EMPLOYMENTS, FLAGS, PRODUCTS

_DEFAULT_MIX = {"card": 0.35, "consumer": 0.30, "micro": 0.20, "mortgage": 0.10, "housing_fund": 0.05}
#: The industry ladder: by bucket, the logging policy's weight on each action before the
#: randomisation floor is mixed in (weights need not sum to one; they are normalised).
_DEFAULT_LADDER = {
    "M1": {"none": 0.15, "reminder": 0.65, "restructuring": 0.10, "field_visit": 0.10},
    "M2": {"none": 0.10, "reminder": 0.35, "restructuring": 0.20, "field_visit": 0.25, "outsourcing": 0.10},
    "M3": {
        "none": 0.05,
        "reminder": 0.15,
        "restructuring": 0.20,
        "field_visit": 0.30,
        "outsourcing": 0.20,
        "litigation": 0.10,
    },
    "M4": {
        "none": 0.05,
        "reminder": 0.10,
        "restructuring": 0.10,
        "field_visit": 0.25,
        "outsourcing": 0.35,
        "litigation": 0.15,
    },
    "M5": {
        "none": 0.05,
        "reminder": 0.05,
        "restructuring": 0.10,
        "field_visit": 0.20,
        "outsourcing": 0.40,
        "litigation": 0.20,
    },
    "M6": {
        "none": 0.05,
        "reminder": 0.05,
        "restructuring": 0.05,
        "field_visit": 0.20,
        "outsourcing": 0.40,
        "litigation": 0.25,
    },
    "M7+": {
        "none": 0.10,
        "reminder": 0.05,
        "restructuring": 0.05,
        "field_visit": 0.10,
        "outsourcing": 0.40,
        "litigation": 0.30,
    },
}


#: Monthly flag probabilities above this would make "rare flags" common.
MAX_FLAG_RATE = 0.1


def _check_rates(
    v: dict[str, float], allowed: tuple[str, ...], keys: str, values: str, upper: float
) -> dict[str, float]:
    """Keys from a vocabulary, values in [0, upper]; errors name the allowed keys."""
    unknown = sorted(set(v) - set(allowed))
    if unknown:
        raise ValueError(f"unknown {keys} {unknown} (allowed: {', '.join(allowed)})")
    if any(not 0 <= p <= upper for p in v.values()):
        raise ValueError(f"{values} must be in [0, {upper:g}]")
    return v


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PaymentModel(_Section):
    """Coefficients of the monthly payment choice (multinomial logit: full / partial / none).

    ``full`` pays everything due (cures); ``partial`` pays part; ``none`` pays nothing. Logits are
    linear in current ability and willingness, the burden (amount due / monthly income) and the
    bucket, plus the action effect. Current accounts (M0) have their own intercept because a missed
    first instalment is much rarer than a missed catch-up payment.
    """

    current_intercept: float = 2.2
    full_intercept: float = -1.4
    partial_intercept: float = -0.6
    ability: float = 3.0
    willingness: float = 2.4
    partial_ability: float = 1.4
    partial_willingness: float = 1.6
    burden: float = 1.2
    bucket: float = 0.5
    partial_bucket: float = 0.10
    secured_bonus: float = 0.6
    micro_penalty: float = 0.4
    partial_share_low: float = 0.25
    partial_share_high: float = 0.85
    partial_ability_floor: float = Field(default=0.3, ge=0, le=1)
    capacity_floor: float = Field(default=0.1, gt=0)


class LatentDynamics(_Section):
    """Income shocks (job loss, illness) and the drift of willingness."""

    shock_onset: dict[str, float] = Field(
        default_factory=lambda: {
            "salaried": 0.010,
            "self_employed": 0.022,
            "unemployed": 0.018,
            "retired": 0.008,
        }
    )
    shock_recovery: float = Field(default=0.2, gt=0, le=1)
    shock_ability_factor: float = Field(default=0.25, ge=0, le=1)
    willingness_reversion: float = Field(default=0.15, ge=0, le=1)
    #: A deceased or bankrupt flag in effect multiplies ability by this.
    flag_ability_factor: float = Field(default=0.1, ge=0, le=1)
    #: A disputed or fraud-suspected flag in effect multiplies willingness by this.
    flag_willingness_factor: float = Field(default=0.2, ge=0, le=1)
    flag_rates: dict[str, float] = Field(
        default_factory=lambda: {
            "disputed": 0.004,
            "deceased": 0.001,
            "bankrupt": 0.002,
            "fraud_suspected": 0.002,
        }
    )

    @field_validator("shock_onset")
    @classmethod
    def _check_onset(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_rates(v, EMPLOYMENTS, "employments", "probabilities", 1.0)

    @field_validator("flag_rates")
    @classmethod
    def _check_flags(cls, v: dict[str, float]) -> dict[str, float]:
        return _check_rates(v, FLAGS, "flags", "flag rates", MAX_FLAG_RATE)


class ActionEffects(_Section):
    """The causal effect table (see ``simulation.dynamics`` docstring for the full story).

    ``*_gain`` are logit shifts on paying in the cycle after the action; ``*_hurt`` are drops in
    willingness; names say on whom the action works.
    """

    reminder_able_willing_gain: float = 1.6
    restructuring_willing_unable_gain: float = 2.4
    restructuring_term_stretch: float = 1.3
    restructuring_extra_months: int = Field(default=6, ge=0)
    restructuring_max_instalment_share: float = Field(default=0.7, gt=0, le=1)
    field_visit_able_unwilling_gain: float = 2.6
    field_visit_willing_unable_hurt: float = 0.25
    outsourcing_gain_per_bucket: float = 0.35
    outsourcing_hurt: float = 0.10
    litigation_notice_gain: float = 0.5
    litigation_lag_cycles: int = Field(default=2, ge=1)
    litigation_enforce_ability: float = 0.85
    litigation_collateral_recovery: float = Field(default=0.7, ge=0, le=1)
    litigation_collateral_sale: float = Field(default=0.4, ge=0, le=1)
    litigation_sale_lag_cycles: int = Field(default=6, ge=1)
    litigation_hurt: float = 0.30


class LoggingPolicyConfig(_Section):
    """The ladder by bucket, mixed with a uniform floor over eligible actions so propensities are > 0."""

    ladder: dict[str, dict[str, float]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in _DEFAULT_LADDER.items()}
    )
    epsilon: float = Field(default=0.10, gt=0, le=1)
    large_balance: float = Field(default=50_000.0, gt=0)
    large_balance_litigation_boost: float = Field(default=2.0, ge=1)
    litigation_min_bucket: int = Field(default=3, ge=1, le=7)
    outsourcing_min_bucket: int = Field(default=2, ge=1, le=7)

    @field_validator("ladder")
    @classmethod
    def _check_ladder(cls, v: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        for bucket, weights in v.items():
            if bucket not in BUCKETS[1:]:
                raise ValueError(f"unknown bucket '{bucket}' (allowed: {', '.join(BUCKETS[1:])})")
            for action, w in weights.items():
                if action not in ACTIONS:
                    raise ValueError(
                        f"unknown action '{action}' in bucket {bucket} (allowed: {', '.join(ACTIONS)})"
                    )
                if w < 0:
                    raise ValueError(f"negative weight for {action} in bucket {bucket}")
        missing = [b for b in BUCKETS[1:] if b not in v]
        if missing:
            raise ValueError(f"ladder lacks buckets {missing}")
        return v


class SimulationConfig(_Section):
    """Sizes, calendar and world parameters of the synthetic portfolio."""

    accounts: int = Field(default=20_000, ge=1, description="number of loans (one per borrower)")
    months: int = Field(default=18, ge=3, description="cycles written out")
    start_date: dt.date = Field(default=dt.date(2024, 1, 31), description="first cycle (moved to month end)")
    burn_in_months: int = Field(
        default=12, ge=0, description="cycles simulated before the window, not written"
    )
    new_loan_share: float = Field(
        default=0.2, ge=0, le=1, description="share of loans originated in the window"
    )
    writeoff_after_missed: int = Field(default=18, ge=8, description="missed instalments before charge-off")
    product_mix: dict[str, float] = Field(default_factory=lambda: dict(_DEFAULT_MIX))
    action_costs: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_ACTION_COSTS))
    horizon_days: int = Field(default=90, ge=30, le=365)
    oracle_draws: int = Field(default=32, ge=1, le=4096, description="Monte Carlo draws per case and action")
    payment: PaymentModel = Field(default_factory=PaymentModel)
    latent: LatentDynamics = Field(default_factory=LatentDynamics)
    effects: ActionEffects = Field(default_factory=ActionEffects)
    logging_policy: LoggingPolicyConfig = Field(default_factory=LoggingPolicyConfig)

    @field_validator("product_mix")
    @classmethod
    def _check_mix(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(PRODUCTS))
        if unknown:
            raise ValueError(f"unknown products {unknown} (allowed: {', '.join(PRODUCTS)})")
        if any(w < 0 for w in v.values()) or sum(v.values()) <= 0:
            raise ValueError("weights must be >= 0 with a positive sum")
        return v

    @field_validator("action_costs")
    @classmethod
    def _check_costs(cls, v: dict[str, float]) -> dict[str, float]:
        if set(v) != set(ACTIONS):
            raise ValueError(f"needs exactly the actions {', '.join(ACTIONS)}")
        if any(c < 0 for c in v.values()):
            raise ValueError("costs must be >= 0")
        return v

    @model_validator(mode="after")
    def _month_end(self) -> SimulationConfig:
        first = self.start_date.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        object.__setattr__(self, "start_date", nxt - dt.timedelta(days=1))
        return self

    def cost_vector(self) -> list[float]:
        """Action costs in ``rollcure.core.domain.ACTIONS`` order."""
        return [float(self.action_costs[a]) for a in ACTIONS]
