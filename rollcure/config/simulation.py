"""Simulation settings (owned by the simulator).

Every number that shapes the synthetic book lives here, so a YAML file can change the world without
touching code: sizes, calendar, product mix, action costs, the action-effect table and the logging
policy's ladder; each action's effect and ladder weights default to the action catalogue's. Unknown
keys are rejected (``extra="forbid"``) so a typo fails loudly.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollcure.core.catalogue import ACTIONS, CATALOGUE, Mechanism, SimulatedResponse, check_mechanisms
from rollcure.core.domain import EMPLOYMENTS, FLAGS, PRODUCTS

_DEFAULT_MIX = {"card": 0.35, "consumer": 0.30, "micro": 0.20, "mortgage": 0.10, "housing_fund": 0.05}


def _catalogue_effects() -> dict[str, SimulatedResponse]:
    return {a.name: a.simulation for a in CATALOGUE.actions}


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

    current_intercept: float = 2.0
    full_intercept: float = -1.4
    partial_intercept: float = -0.6
    ability: float = 3.0
    willingness: float = 3.5
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
    shock_recovery: float = Field(default=0.12, gt=0, le=1)
    shock_ability_factor: float = Field(default=0.25, ge=0, le=1)
    willingness_reversion: float = Field(default=0.08, ge=0, le=1)
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


class LoggingPolicyConfig(_Section):
    """The historical lender's ladder (each action's ``logging_weights`` in ``effects``), mixed with a
    uniform floor over eligible actions so propensities are > 0, and a test slice: the share of
    overdue cases per cycle given a uniformly random eligible action, as lenders run champion /
    challenger test groups (it is what makes every strategy's value estimable off-policy)."""

    epsilon: float = Field(default=0.10, gt=0, le=1)
    test_slice: float = Field(default=0.10, ge=0, le=1)
    large_balance: float = Field(default=50_000.0, gt=0)


class DriftScenario(_Section):
    """A change of world from one month on, so that ongoing monitoring can be tested on a book where
    its alerts must fire (``rollcure monitor``, docs/monitoring.md).

    An income shock wave: at the start of month ``from_month`` (counted from the first written
    cycle, so months past the window are the book played forward) a share of the live borrowers
    loses income at once, as in a plant closure or a regional downturn: their income and their
    ability to pay fall to ``income_factor`` of what they were, for good, and an ordinary income
    shock starts on top (it recovers at the usual ``latent.shock_recovery`` rate). Nothing in the
    raw tables records the loss (the borrowers table keeps the income declared at origination),
    so a model sees it only through the payments that follow. Off by default (``from_month`` None).
    """

    from_month: int | None = Field(default=None, ge=0, description="first month of the drift (None: off)")
    income_shock_share: float = Field(
        default=0.3, ge=0, le=1, description="share of live borrowers hit by the shock wave"
    )
    income_factor: float = Field(
        default=0.4, ge=0, le=1, description="income and ability of a hit borrower after the wave"
    )


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
    writeoff_after_missed: int = Field(
        default=8,
        ge=7,
        description="missed instalments before charge-off (8: 210+ days past due; US FFIEC "
        "Uniform Retail Credit Classification charges open-end credit off at 180 days)",
    )
    product_mix: dict[str, float] = Field(default_factory=lambda: dict(_DEFAULT_MIX))
    action_costs: dict[str, float] = Field(default_factory=CATALOGUE.costs)
    oracle_draws: int = Field(default=32, ge=1, le=4096, description="Monte Carlo draws per case and action")
    payment: PaymentModel = Field(default_factory=PaymentModel)
    latent: LatentDynamics = Field(default_factory=LatentDynamics)
    #: The world's response to each action (default: the catalogue's ``simulation`` entries).
    effects: dict[str, SimulatedResponse] = Field(default_factory=_catalogue_effects)
    logging_policy: LoggingPolicyConfig = Field(default_factory=LoggingPolicyConfig)
    drift: DriftScenario = Field(default_factory=DriftScenario)

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

    @field_validator("effects")
    @classmethod
    def _check_effects(cls, v: dict[str, SimulatedResponse]) -> dict[str, SimulatedResponse]:
        if list(v) != list(ACTIONS):
            raise ValueError(f"needs exactly the catalogue's actions, in order: {', '.join(ACTIONS)}")
        check_mechanisms(list(v.values()))
        return v

    def mechanisms(self) -> list[tuple[int, Mechanism]]:
        """Position and parameters of each action that uses a simulated mechanism."""
        return [(j, e.mechanism) for j, e in enumerate(self.effects.values()) if e.mechanism is not None]

    @model_validator(mode="after")
    def _month_end(self) -> SimulationConfig:
        first = self.start_date.replace(day=1)
        nxt = (first + dt.timedelta(days=32)).replace(day=1)
        object.__setattr__(self, "start_date", nxt - dt.timedelta(days=1))
        return self

    def cost_vector(self) -> list[float]:
        """Action costs in ``rollcure.core.domain.ACTIONS`` order."""
        return [float(self.action_costs[a]) for a in ACTIONS]
