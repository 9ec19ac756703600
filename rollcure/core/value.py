"""What a collection decision is worth: the one value definition every stage uses.

A lender values a collection action by the loss it avoids plus the cash it brings, minus what it
costs. Over a horizon of H cycles that is

    value = Σ_t d^t · cash_t  −  Σ_t d^t · cost_t  +  d^H · balance_H · recovery_factor(state_H)

with d the monthly discount factor, cash paid in cycles 1..H, costs of the actions decided at
cycles 0..H−1 (the first one is today's decision, undiscounted), and the loan's balance at H valued
at the recovery factor of its state: the share of a balance in that state the lender expects to
get back. A loan repaid inside the horizon has no balance left; one charged off inside it has lost
its written-off balance (the charge-off state's factor is 0; what a collateral sale brought in
before the charge-off is cash).

The recovery factor of a state is ``1 − P(absorbed in charge-off | state) × LGD``, read off the
book's own monthly transition matrix (:func:`absorption_probabilities`), never from a simulator's
truth. Absorption counts within ``chargeoff_window`` cycles (default 36): a time-homogeneous chain
knows no amortisation, so for a 25-year mortgage "ever" sums hundreds of cycles of delinquency risk
the loan will not live through (measured: P(charge-off | current mortgage) 0.86 ever, on a book
where 3 of 80,000 such transitions went straight to charge-off). LGD (loss given charge-off, the
share of the balance before the charge-off that is written off) is estimated from the same history
per secured / unsecured unless the config fixes it. The state is the bucket × restructured within
the last ``restructured_window`` cycles × secured: a restructured loan is re-aged to DPD 0 but is
not as good as a never-late one (regulators keep it in the watch or substandard class for an
observation period), and valuing it
by bucket alone makes "restructure everyone" look best.

The oracle (simulation), the labels (features), the action models and policy (models), the
backtest and its off-policy estimates (training) and the service all call :func:`horizon_value`;
``rollcure.core.value_history`` estimates the factors from the raw tables; docs/value.md has a
worked example.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from rollcure.core.domain import BUCKETS


class ValueConfig(BaseModel):
    """The horizon, discounting and loss assumptions of the value definition (config ``value``)."""

    model_config = ConfigDict(extra="forbid")

    horizon_cycles: int = Field(
        default=12, ge=1, le=60, description="cycles valued before the terminal value"
    )
    annual_discount_rate: float = Field(
        default=0.08, ge=0, le=1, description="lender's cost of funds; cash a year out is worth 1/(1+r)"
    )
    loss_given_chargeoff: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="share of a defaulting balance lost (None: estimated from the book's charge-offs, "
        "per secured / unsecured: a collateral sale recovers most of a secured loan first)",
    )
    chargeoff_window: int | None = Field(
        default=36,
        ge=1,
        le=600,
        description="cycles within which a charge-off counts against a state (None: ever)",
    )
    restructured_window: int = Field(
        default=12, ge=1, le=60, description="cycles a restructured loan stays in its own (watch) state"
    )

    @property
    def monthly_discount(self) -> float:
        return float((1.0 + self.annual_discount_rate) ** (-1.0 / 12.0))


#: Transient states: bucket x restructured x secured, in this order (index = state code).
STATE_BUCKETS = BUCKETS
N_TRANSIENT = len(BUCKETS) * 4
#: Absorbing states after the transient ones.
CLOSED, CHARGED_OFF = N_TRANSIENT, N_TRANSIENT + 1
N_STATES = N_TRANSIENT + 2


def state_code(bucket: np.ndarray, restructured: np.ndarray, secured: np.ndarray) -> np.ndarray:
    """Transient state code of each loan: bucket index (0 = M0 .. 7 = M7+) × restructured × secured."""
    b = np.clip(np.asarray(bucket, dtype=np.int64), 0, len(BUCKETS) - 1)
    return (
        b * 4 + 2 * np.asarray(restructured, dtype=np.int64) + np.asarray(secured, dtype=np.int64)
    ).astype(np.int64)


def state_labels() -> list[str]:
    """Readable names of every state code, absorbing ones last."""
    names = [
        f"{b}{' restructured' if r else ''} {'secured' if s else 'unsecured'}"
        for b in BUCKETS
        for r in (0, 1)
        for s in (0, 1)
    ]
    return [*names, "closed", "charged off"]


def absorption_probabilities(counts: np.ndarray, within: int | None = None) -> np.ndarray:
    """P(absorbed in charge-off) from each transient state of a monthly transition count matrix.

    ``counts`` is N_STATES × N_STATES (from-state × to-state); rows of absorbing states are ignored.
    ``within``: absorbed within that many cycles (v ← r + Q v, that many times); None: ever, solving
    (I − Q) x = r by least squares so a state never left gives a finite answer. Q holds the
    transient-to-transient probabilities and r the one-step charge-off probabilities.
    """
    counts = np.asarray(counts, dtype=float)
    tot = counts[:N_TRANSIENT].sum(axis=1, keepdims=True)
    P = np.where(tot > 0, counts[:N_TRANSIENT] / np.where(tot > 0, tot, 1.0), 0.0)
    Q, r = P[:, :N_TRANSIENT], P[:, CHARGED_OFF]
    if within is None:
        x, *_ = np.linalg.lstsq(np.eye(N_TRANSIENT) - Q, r, rcond=None)
    else:
        x = np.zeros(N_TRANSIENT)
        for _ in range(within):  # loop over cycles of a 32-state chain
            x = r + Q @ x
    return np.clip(x, 0.0, 1.0)


@dataclass(frozen=True)
class RecoveryFactors:
    """Recovery factor and the transitions seen from each state (index = state code)."""

    factor: np.ndarray  # N_STATES, absorbing ones included (closed: 1, charged off: 0)
    p_chargeoff: np.ndarray  # N_TRANSIENT
    transitions: np.ndarray  # N_STATES: monthly transitions observed from each state
    lgd: np.ndarray  # loss given charge-off: unsecured, secured

    def of(self, bucket: np.ndarray, restructured: np.ndarray, secured: np.ndarray) -> np.ndarray:
        return self.factor[state_code(bucket, restructured, secured)]

    def to_frame(self) -> pd.DataFrame:
        """The table `rollcure backtest` and the report print: one row per state, with its counts."""
        return pd.DataFrame(
            {
                "state": state_labels(),
                "transitions": self.transitions.astype(np.int64),
                "p_chargeoff": [*np.round(self.p_chargeoff, 4), 0.0, 1.0],
                "lgd": [*np.round(self.lgd[np.arange(N_TRANSIENT) % 2], 4), 0.0, 1.0],
                "recovery_factor": np.round(self.factor, 4),
            }
        )


def recovery_factors(
    counts: np.ndarray, lgd: np.ndarray | float, within: int | None = None, min_transitions: int = 30
) -> RecoveryFactors:
    """Recovery factors from a transition count matrix and the loss given charge-off (see the module
    docstring); ``lgd`` is one number or one per secured flag (unsecured, secured).

    A state with fewer than ``min_transitions`` observed transitions borrows the absorption
    probability of its bucket pooled over the restructured / secured distinction, so a rare cell
    (say M6 restructured secured) is not valued off three loans.
    """
    counts = np.asarray(counts, dtype=float)
    seen = counts.sum(axis=1)
    p = absorption_probabilities(counts, within)
    pooled = counts[:N_TRANSIENT].reshape(len(BUCKETS), 4, N_STATES).sum(axis=1)  # per bucket
    pooled_counts = np.zeros_like(counts)
    pooled_counts[:N_TRANSIENT] = np.repeat(pooled, 4, axis=0)
    p = np.where(seen[:N_TRANSIENT] >= min_transitions, p, absorption_probabilities(pooled_counts, within))
    lgd_state = np.broadcast_to(np.asarray(lgd, dtype=float), (2,))[np.arange(N_TRANSIENT) % 2]
    factor = np.concatenate([1.0 - lgd_state * p, [1.0, 0.0]])
    return RecoveryFactors(
        factor=factor, p_chargeoff=p, transitions=seen, lgd=np.broadcast_to(lgd, (2,)).copy()
    )


def horizon_value(
    cash: np.ndarray,
    costs: np.ndarray,
    terminal_balance: np.ndarray,
    terminal_factor: np.ndarray,
    cfg: ValueConfig,
) -> np.ndarray:
    """The value of each case (rows): discounted cash − discounted costs + discounted terminal value.

    ``cash`` is n × H (paid in cycles 1..H), ``costs`` n × H (actions decided at cycles 0..H−1),
    ``terminal_balance`` and ``terminal_factor`` the balance at cycle H and its state's recovery
    factor (0 balance once repaid; a charged-off loan: its written-off balance and the charge-off
    factor).
    """
    cash = np.asarray(cash, dtype=float)
    h = cash.shape[-1]
    d = cfg.monthly_discount ** np.arange(h + 1)
    return (
        cash @ d[1:]
        - np.asarray(costs, dtype=float) @ d[:-1]
        + d[h] * np.asarray(terminal_balance, dtype=float) * np.asarray(terminal_factor, dtype=float)
    )


@dataclass(frozen=True)
class Valuation:
    """The value definition with its recovery factors: what the oracle, labels and policy call."""

    cfg: ValueConfig
    factors: RecoveryFactors

    @property
    def horizon(self) -> int:
        return self.cfg.horizon_cycles

    def terminal_factor(
        self, bucket: np.ndarray, restructured_ago: np.ndarray, secured: np.ndarray
    ) -> np.ndarray:
        """Recovery factor of a live loan's state; ``restructured_ago`` counts cycles since the
        restructuring took effect (0: this cycle)."""
        return self.factors.of(bucket, np.asarray(restructured_ago) < self.cfg.restructured_window, secured)

    @property
    def chargeoff_factor(self) -> float:
        return float(self.factors.factor[CHARGED_OFF])

    def value(
        self, cash: np.ndarray, costs: np.ndarray, terminal_balance: np.ndarray, terminal_factor: np.ndarray
    ) -> np.ndarray:
        return horizon_value(cash, costs, terminal_balance, terminal_factor, self.cfg)
