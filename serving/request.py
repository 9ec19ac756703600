"""The request models of the service: the feature stage's ``CasePayload``, plus the request rules.

Values JSON can carry that the data contract cannot hold are refused by ``CasePayload``'s field
types with HTTP 400 naming the field: date-times with a time zone (``...Z``, ``+08:00``, or a bare
number, which pydantic reads as a Unix time in UTC; the contract's date-times are naive) or outside
the datetime64[ns] range, integers beyond int64 (the tables' integer type), and non-finite numbers
(``NaN``/``Infinity`` tokens). Here: the request body's shape and the rules between its cases.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Annotated

import bentoml
from pydantic import ConfigDict, Field, StrictBool, field_validator

from features.payload import CasePayload
from features.payload_rules import refuse, request_problems
from rollcure.core.catalogue import ACTIONS, CATALOGUE
from serving.examples import EXAMPLE_CASE


class ServedCase(CasePayload):
    """One case as the service accepts it: ``features.payload.CasePayload``, whose field types
    already refuse what the raw tables cannot hold (time zones, date-times outside datetime64[ns],
    integers beyond int64, NaN and infinity), so a 400 names the field before any code runs."""


def merge_key(cases: list[ServedCase]) -> tuple[tuple[bool, bool, bool], frozenset[tuple[str, int]]]:
    """(kind, keys) of a request for ``serving.coalesce``: what decides whether it may share a pass.

    ``features.payload.payloads_to_tables`` merges payloads of one loan (or borrower) into one
    history and adds optional tables or columns when any payload has them, so requests share a
    pass only when they carry the same optional parts (kind) and no loan or borrower id (keys):
    then every case's features are those it gets alone.
    """
    kind = (  # any case, not the first: one case carrying contacts gives the whole pass a table
        any(p.contacts is not None for p in cases),
        any(p.actions is not None for p in cases),
        any(c.status_code is not None for p in cases for c in p.cycles),
    )
    keys = frozenset(
        [("loan", p.loan.loan_id) for p in cases] + [("borrower", p.borrower.borrower_id) for p in cases]
    )
    return kind, keys


Cases = Annotated[
    list[ServedCase],
    Field(
        min_length=1, description="One or more overdue cases.", json_schema_extra={"example": [EXAMPLE_CASE]}
    ),
]


class CasesRequest(bentoml.IODescriptor):
    """The body of ``/recommend``, ``/score`` and ``/explain``: ``{"cases": [...]}`` and nothing else.

    Declared here rather than derived by BentoML from the handler's signature, because the derived
    model lets unknown top-level fields through and cannot compare the cases with each other.
    """

    model_config = ConfigDict(extra="forbid")
    cases: Cases

    @field_validator("cases")
    @classmethod
    def _cases_agree(cls, cases: list[ServedCase]) -> list[ServedCase]:
        refuse((f"cases.{path}", why) for path, why in request_problems(cases))
        return cases


class ExplainRequest(CasesRequest):
    """The body of ``/explain``: the cases, and optionally the action whose roll-forward and cure
    probabilities to explain (the action models' under that action) instead of the scorers'."""

    action: str | None = Field(
        default=None,
        description="Explain the roll-forward and cure probabilities under this action, one of "
        f"{list(ACTIONS)} (default: the calibrated scorers').",
        examples=[CATALOGUE.reference_action],
    )

    @field_validator("action")
    @classmethod
    def _known_action(cls, action: str | None) -> str | None:
        if action is not None and action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; one of {list(ACTIONS)}")
        return action


class ReloadRequest(bentoml.IODescriptor):
    """The body of ``/reload``: ``force`` is a JSON boolean (``0`` or ``"yes"`` is a 400)."""

    model_config = ConfigDict(extra="forbid")
    force: StrictBool = Field(default=False, description="Swap even when the alias has not moved.")


def clock_problems(
    cases: Sequence[CasePayload], now: dt.datetime, ahead: dt.timedelta
) -> Iterator[tuple[str, str]]:
    """(field path, problem) for every case dated after the server's clock (plus ``ahead``).

    A request model cannot read a clock, so the service calls this with its own ``now`` (naive
    local time, the contract's date-times) and the configured tolerance.
    """
    latest = now + ahead
    for i, case in enumerate(cases):
        if case.as_of > latest:
            yield f"cases.{i}.as_of", f"later than the server's clock {now:%Y-%m-%dT%H:%M} + {ahead}"
