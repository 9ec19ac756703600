"""The action catalogue: one declaration per collection action, validated once, read by every layer.

Adding an action used to mean a hunt through a dozen files (vocabularies, rules, features, costs,
capacities, strategies, the simulator's effects). Now an action is one entry of ``actions.yaml``
(or of the file ``ROLLCURE_ACTIONS`` names, so a deployment or a test can run with its own list);
the vocabulary (:data:`ACTIONS`), costs, capacities, rule assignments, ladder and the simulated
effect parameters are all derived from it. The simulator's effect *mechanics* (what a restructuring
or a court ruling does to a loan) stay in ``simulation/dynamics.py``; the catalogue names which
mechanism an action uses and with which parameters.

The catalogue is read once per process, when this module is first imported: the vocabulary is
needed to declare the request and table schemas, and a process must not change its actions halfway.
"""

from __future__ import annotations

import math
import os
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollcure.core.data_file import read_yaml, validate_entries
from rollcure.core.domain import BUCKETS, CHANNELS

#: Environment variable naming a catalogue file to use instead of the shipped one.
CATALOGUE_ENV = "ROLLCURE_ACTIONS"
_SHIPPED = "actions.yaml"

#: Factors an effect may multiply (see ``simulation.dynamics.action_response``).
EffectFactor = Literal[
    "ability", "1-ability", "1-ability/2", "willingness", "1-willingness", "1-willingness/2", "bucket_age"
]
#: Segments of the risk-score strategy, from the lowest risk to the highest.
RISK_SEGMENTS: tuple[str, ...] = ("low_risk", "low_cure", "high_roll", "very_high_roll")
Channel = Literal["none", "phone", "letter", "visit", "agency", "court"]
#: Extra-contact chances the simulator can draw per contact channel (one random draw each).
CONTACT_CHANCES: dict[str, int] = {"sms": 1, "call": 2, "visit": 0, "letter": 0}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Effect(_Strict):
    """``scale`` times the product of ``factors`` (each in [0, 1]), in the order given."""

    scale: float = 0.0
    factors: tuple[EffectFactor, ...] = ()


class Restructuring(_Strict):
    """A longer term and a lower instalment; paying it re-ages the loan."""

    kind: Literal["restructuring"]
    term_stretch: float = Field(gt=0)
    extra_months: int = Field(ge=0)
    max_instalment_share: float = Field(gt=0, le=1)


class Litigation(_Strict):
    """A court ruling ``lag_cycles`` after filing; enforcement or a collateral sale."""

    kind: Literal["litigation"]
    lag_cycles: int = Field(ge=1)
    enforce_ability: float = Field(ge=0, le=1)
    collateral_recovery: float = Field(ge=0, le=1)
    collateral_sale: float = Field(ge=0, le=1)
    sale_lag_cycles: int = Field(ge=1)


class Settlement(_Strict):
    """Waives ``waiver_share`` of the interest and penalties on the arrears if they are paid in full."""

    kind: Literal["settlement"]
    waiver_share: float = Field(gt=0, le=1)


Mechanism = Restructuring | Litigation | Settlement


class SimulatedResponse(_Strict):
    """How the synthetic world responds to the action, and how the historical lender used it."""

    gain: Effect = Effect()
    hurt: Effect = Effect()
    mechanism: Mechanism | None = Field(default=None, discriminator="kind")
    logging_weights: dict[str, float] = Field(default_factory=dict)
    logging_min_bucket: int = Field(default=1, ge=1, le=len(BUCKETS) - 1)
    large_balance_boost: float = Field(default=1.0, ge=1)
    contacts: dict[str, tuple[float, ...]] = Field(default_factory=dict)

    @field_validator("logging_weights")
    @classmethod
    def _buckets(cls, v: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(v) - set(BUCKETS[1:]))
        if unknown:
            raise ValueError(f"unknown bucket(s) {unknown} (allowed: {', '.join(BUCKETS[1:])})")
        if any(w < 0 for w in v.values()):
            raise ValueError("weights must be >= 0")
        return v

    @field_validator("contacts")
    @classmethod
    def _channels(cls, v: dict[str, tuple[float, ...]]) -> dict[str, tuple[float, ...]]:
        unknown = sorted(set(v) - set(CHANNELS))
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown} (allowed: {', '.join(CHANNELS)})")
        for ch, spec in v.items():
            if not spec or spec[0] < 0 or spec[0] != int(spec[0]):
                raise ValueError(f"{ch}: first entry is a whole number of contacts >= 0")
            if any(not 0 <= p <= 1 for p in spec[1:]):
                raise ValueError(f"{ch}: chances must be in [0, 1]")
            if len(spec) - 1 > CONTACT_CHANCES[ch]:
                raise ValueError(f"{ch}: at most {CONTACT_CHANCES[ch]} chance(s) of one more contact")
        return v


def check_mechanisms(responses: list[SimulatedResponse]) -> None:
    """A simulated mechanism serves one action at most (the effect table looks it up by kind)."""
    kinds = [r.mechanism.kind for r in responses if r.mechanism is not None]
    if len(kinds) != len(set(kinds)):
        raise ValueError(f"a simulated mechanism may serve one action only, got {kinds}")


class Action(_Strict):
    """One collection action."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1)
    plural: str = ""
    cost: float = Field(ge=0)
    daily_capacity: int | None = Field(default=None, ge=0)
    channel: Channel
    contact: bool
    rules: tuple[str, ...] = ()
    ladder_rank: int | None = Field(default=None, ge=1)
    risk_preference: dict[str, int] = Field(default_factory=dict)
    simulation: SimulatedResponse = SimulatedResponse()

    @model_validator(mode="after")
    def _plural(self) -> Action:
        if not self.plural:
            object.__setattr__(self, "plural", f"{self.label} actions")
        return self

    @field_validator("cost")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("cost must be finite")
        return v

    @field_validator("risk_preference")
    @classmethod
    def _segments(cls, v: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(v) - set(RISK_SEGMENTS))
        if unknown:
            raise ValueError(f"unknown risk segment(s) {unknown} (allowed: {', '.join(RISK_SEGMENTS)})")
        return v


class ActionCatalogue(_Strict):
    """The whole catalogue; ``none`` comes first and is never limited or blocked."""

    reference_action: str
    actions: tuple[Action, ...] = Field(min_length=2)

    @model_validator(mode="after")
    def _well_formed(self) -> ActionCatalogue:
        names = [a.name for a in self.actions]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"duplicate action(s) {dupes}")
        first = self.actions[0]
        if first.name != "none":
            raise ValueError("the first action must be 'none' (every case's compliant fallback)")
        if first.daily_capacity is not None or first.rules or first.contact:
            raise ValueError("'none' cannot be limited, blocked by a rule or contact the debtor")
        if self.reference_action not in names:
            raise ValueError(f"reference_action '{self.reference_action}' is not an action ({names})")
        check_mechanisms([a.simulation for a in self.actions])
        return self

    @cached_property
    def names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.actions)

    def index(self, name: str) -> int:
        return self.names.index(name)

    def costs(self) -> dict[str, float]:
        return {a.name: a.cost for a in self.actions}

    def daily_capacity(self) -> dict[str, int | None]:
        return {a.name: a.daily_capacity for a in self.actions if a.daily_capacity is not None}

    def contact_actions(self) -> list[str]:
        return [a.name for a in self.actions if a.contact]

    def blocked_by(self, rule_id: str) -> list[str]:
        """The actions a rule blocks, in catalogue order."""
        return [a.name for a in self.actions if rule_id in a.rules]

    def ladder(self, bucket: int) -> tuple[str, ...]:
        """The escalation ladder in bucket ``bucket`` (1..): every rung up to it, highest first."""
        rungs = [a for a in self.actions if a.ladder_rank is not None and a.ladder_rank <= bucket]
        return tuple(a.name for a in sorted(rungs, key=lambda a: -(a.ladder_rank or 0)))

    def top_rung(self) -> int:
        return max((a.ladder_rank or 0) for a in self.actions)

    def risk_preferences(self, segment: str) -> tuple[str, ...]:
        """The risk-score strategy's preference list for one segment."""
        offered = [a for a in self.actions if segment in a.risk_preference]
        return tuple(a.name for a in sorted(offered, key=lambda a: a.risk_preference[segment]))


def parse_catalogue(raw: object, source: str) -> ActionCatalogue:
    """Validate a parsed catalogue; errors name the action and the field."""
    return validate_entries(ActionCatalogue, raw, source, "actions", "name", "action")


def load_catalogue(path: Path | str | None = None) -> ActionCatalogue:
    """Read a catalogue file; ``None`` reads the one shipped with the package."""
    raw, source = read_yaml("rollcure.core", _SHIPPED, path, CATALOGUE_ENV, "action catalogue")
    return parse_catalogue(raw, source)


#: The catalogue of this process.
CATALOGUE: ActionCatalogue = load_catalogue(os.environ.get(CATALOGUE_ENV) or None)
#: Action names in catalogue order: the column order of every n x actions array.
ACTIONS: tuple[str, ...] = CATALOGUE.names
