"""Eligibility and compliance rules as data: one YAML file, validated before any case is seen.

Compliance lives in a file a compliance officer can read and change, not in code branches: every
rule names the actions it blocks and the condition (on feature columns) under which it blocks them.
A broken file fails at load time with the rule id, the field and the allowed values, so a typo
cannot silently switch a rule off.

>>> rs = load_rules()
>>> rs.rule("LIT_MIN_DPD").blocks()
['litigation']
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rollcure.core.catalogue import ACTIONS, CATALOGUE
from rollcure.core.data_file import read_yaml, validate_entries
from rollcure.core.errors import InputError

Op = Literal["==", "!=", ">=", ">", "<=", "<", "is_true", "is_false"]
#: The route a case takes when a rule forbids every collection action on it.
MANUAL_REVIEW = "manual_review"
_DEFAULT_RULES = "rules.yaml"


class Clause(BaseModel):
    """One comparison on one feature column: ``<feature> <op> <value>``."""

    model_config = ConfigDict(extra="forbid")

    feature: str = Field(min_length=1)
    op: Op
    value: float | None = None
    #: What an unknown value means: "blocks" (when in doubt, do not act) or "passes".
    missing: Literal["blocks", "passes"] = "blocks"

    @model_validator(mode="after")
    def _value_matches_op(self) -> Clause:
        boolean = self.op in ("is_true", "is_false")
        if boolean and self.value is not None:
            raise ValueError(f"op '{self.op}' takes no value (got {self.value})")
        if not boolean and self.value is None:
            raise ValueError(f"op '{self.op}' needs a numeric value")
        return self


class Rule(BaseModel):
    """Blocks ``actions`` on every case where the condition (clauses joined by ``combine``) holds."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Z][A-Z0-9_]*$")
    description: str = Field(min_length=1)
    #: Actions this rule blocks besides those whose catalogue entry names it (a rule added to the
    #: file alone names its actions here).
    actions: list[str] = Field(default_factory=list)
    when: list[Clause] = Field(min_length=1)
    combine: Literal["any", "all"] = "any"
    route: Literal["manual_review"] | None = None

    @field_validator("actions")
    @classmethod
    def _known_and_not_none(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(ACTIONS))
        if unknown:
            raise ValueError(f"unknown action(s) {unknown}; allowed: {list(ACTIONS)}")
        if "none" in v:
            raise ValueError("'none' cannot be blocked: doing nothing is always compliant")
        return v

    def blocks(self) -> list[str]:
        """Every action the rule blocks, in catalogue order."""
        listed = set(CATALOGUE.blocked_by(self.id)) | set(self.actions)
        return [a for a in ACTIONS if a in listed]


class ContactHours(BaseModel):
    """Local hours [start, end) in which debtor contact is allowed."""

    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0, le=23)
    end: int = Field(ge=1, le=24)

    @model_validator(mode="after")
    def _ordered(self) -> ContactHours:
        if self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self

    def allows(self, hour: int) -> bool:
        """True when a contact at this local hour is allowed."""
        return self.start <= hour < self.end

    def label(self) -> str:
        return f"{self.start:02d}:00-{self.end:02d}:00"


class RuleSet(BaseModel):
    """The whole rules file."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    contact_hours: ContactHours
    rules: list[Rule]

    @model_validator(mode="after")
    def _unique_ids(self) -> RuleSet:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule id(s) {dupes}")
        named = {r: a.name for a in CATALOGUE.actions for r in a.rules}
        undefined = sorted(set(named) - set(ids))
        if undefined:
            raise ValueError(
                f"rule(s) {undefined} are named by the action catalogue (e.g. action "
                f"'{named[undefined[0]]}') but not defined here: that action would go unchecked"
            )
        idle = [r.id for r in self.rules if not r.blocks()]
        if idle:
            raise ValueError(
                f"rule(s) {idle} block no action: list them under an action's `rules` in the "
                "action catalogue or under the rule's `actions`"
            )
        return self

    @property
    def contact_actions(self) -> list[str]:
        """Actions that reach the debtor (from the catalogue): carried out inside contact hours only."""
        return CATALOGUE.contact_actions()

    @property
    def rule_ids(self) -> tuple[str, ...]:
        return tuple(r.id for r in self.rules)

    def rule(self, rule_id: str) -> Rule:
        """The rule with this id (InputError naming the known ids otherwise)."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise InputError(f"rules: no rule '{rule_id}'; known: {list(self.rule_ids)}")

    def features(self) -> list[str]:
        """Feature columns the rules read, in first-use order."""
        seen: dict[str, None] = {}
        for r in self.rules:
            for c in r.when:
                seen.setdefault(c.feature, None)
        return list(seen)


def parse_rules(raw: object, source: str = "rules") -> RuleSet:
    """Validate an already-parsed rules mapping; errors name the rule id, the field and the allowed values."""
    return validate_entries(RuleSet, raw, source, "rules", "id", "rule")


def load_rules(path: Path | None = None) -> RuleSet:
    """Read and validate a rules YAML file; ``None`` reads the default shipped with the package."""
    raw, source = read_yaml("models", _DEFAULT_RULES, path, "policy.rules_path", "rules file")
    return parse_rules(raw, source)
