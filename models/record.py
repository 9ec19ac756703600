"""The decision record, declared once: the response models, the log table and the Arrow schemas are its views.

A decision leaves the code in four shapes: the HTTP responses, a row of the audit log (SQL table and
Parquet export) and a row of the batch output. Written out one by one they drifted a field at a
time, so each field is declared here once (type, nullability, description, OpenAPI example) and each
shape is a view: an ordered choice of fields, in the order its existing files, tables and clients
already have. The small functions below derive the SQL columns, the Arrow schemas, the log row class
and the pydantic models; ``tests/test_record.py`` checks that no shape was edited by hand. The
storage rules are declared once too: the log keeps dates as ISO strings and lists as JSON text (no
time-zone conversion can shift an audit record), the batch output keeps dates as naive timestamps,
and Arrow fields stay nullable as in the files written so far (the SQL table and the response models
enforce non-null).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, make_dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pydantic
import sqlalchemy as sa
from pydantic_core import PydanticUndefined

#: Length of an ISO calendar date (YYYY-MM-DD), the log's form of a date.
ISO_DATE_LENGTH = 10

_REASON_CODES_EXAMPLE = ["RF-CONTACT-UP", "RF-REPAYMENT-UP"]
#: Reasons of the OpenAPI examples (``serving.schemas`` shows the first in an explanation).
EXAMPLE_REASONS = [
    "2 broken promises to pay in the last 30 days raised roll-forward risk (+6.2 pp)",
    "days past due at the cycle date of 45 raised roll-forward risk (+4.1 pp)",
]


@dataclass(frozen=True)
class RecordField:
    """One field of the decision record; ``type`` is the Python type a response carries."""

    name: str
    type: Any
    nullable: bool
    description: str
    #: VARCHAR length of a ``str`` column in the log.
    sql_length: int | None = None
    #: Inclusive (low, high) range a response checks.
    bounds: tuple[float, float] | None = None
    #: Value in the published OpenAPI example (None: not shown).
    example: Any = None
    #: Default in the response model (fields without one are required).
    default: Any = PydanticUndefined
    default_factory: Callable[[], Any] | None = None


FIELDS: tuple[RecordField, ...] = (
    RecordField("decision_id", str, False, "Key of this decision in the audit log.", sql_length=32,
                example="4f1c0e9a8b7d4c3e9f0a1b2c3d4e5f60"),
    RecordField("loan_id", int, False, "The lender's loan id (the log keeps only case_hash).", example=1001),
    RecordField("case_hash", str, False, "Salted HMAC-SHA256 of the loan id.", sql_length=64),
    RecordField("as_of", date, False, "Cycle date the case was decided at.", example="2025-06-30"),
    RecordField("decided_at", str, False, "When the service decided (ISO 8601, UTC).", sql_length=32),
    RecordField("endpoint", str, False, "Service endpoint that made the decision.", sql_length=32),
    RecordField("model_name", str, False, "Registered model name.", sql_length=200),
    RecordField("model_version", str, False, "Registered model version.", sql_length=64, example="3"),
    RecordField("inputs_digest", str, False, "SHA-256 of the case's canonical JSON inputs.", sql_length=64),
    RecordField("p_roll_forward", float, False,
                "Probability of a worse bucket next cycle: under the recommended action in a decision "
                "(the action models'), the roll-forward scorer's in a score or a manual review.",
                bounds=(0, 1), example=0.31),
    RecordField("p_cure", float, False,
                "Probability of being current (M0) next cycle: under the recommended action in a "
                "decision, the cure scorer's in a score or a manual review.",
                bounds=(0, 1), example=0.22),
    RecordField("action", str, True, "Recommended action; null when the model has no policy.",
                sql_length=32, example="reminder"),
    RecordField("expected_value", float, True, "Expected net recovery of the action.", example=84.5),
    RecordField("expected_values", dict[str, float], True,
                "Expected net recovery of every action, when the policy gives them.", default=None),
    RecordField("arm", str, False, "Policy arm that chose the action: champion, challenger or explore.",
                sql_length=16, example="champion"),
    RecordField("challenger", bool, False, "True when the challenger arm chose the action.", example=False),
    RecordField("why", str, True, "Why the policy chose this action, in words; null without a policy."),
    RecordField("propensity", float, True,
                "Probability that the policy's arm draw gives this action (off-policy evaluation)."),
    RecordField("reason_codes", list[str], False, "Stable codes of the reasons, strongest first.",
                example=_REASON_CODES_EXAMPLE),
    RecordField("reasons", list[str], False, "The same reasons as sentences.", example=EXAMPLE_REASONS),
    RecordField("rule_notes", list[str], False, "Policy rules that shaped the choice.", example=[],
                default_factory=list),
)  # fmt: skip

_SCORE = ("loan_id", "as_of", "p_roll_forward", "p_cure", "model_version")

#: Each shape of the record: its fields, in its order.
VIEWS: dict[str, tuple[str, ...]] = {
    # POST /score
    "score": _SCORE,
    # POST /recommend
    "response": (
        *_SCORE, "decision_id", "action", "expected_value", "expected_values", "reason_codes",
        "reasons", "rule_notes", "arm", "challenger",
    ),
    # the audit log (serving.decision_log) and its Parquet export (serving.export)
    "log": (
        "decision_id", "case_hash", "as_of", "decided_at", "endpoint", "model_name", "model_version",
        "inputs_digest", "p_roll_forward", "p_cure", "action", "expected_value", "reason_codes",
        "arm", "challenger", "propensity",
    ),
    # a decision as the policy makes it (models.policy.DECISION_COLUMNS)
    "decision": (
        "loan_id", "as_of", "p_roll_forward", "p_cure", "action", "expected_value", "arm",
        "propensity", "why",
    ),
    # the registered MLflow model's output frame (registry.pyfunc): the decision and its reasons
    "mlflow": (
        "loan_id", "as_of", "p_roll_forward", "p_cure", "action", "expected_value", "arm",
        "propensity", "why", "reason_codes", "reasons",
    ),
    # `rollcure score` output (serving.batch)
    "batch": (
        "loan_id", "as_of", "p_roll_forward", "p_cure", "action", "expected_value", "arm",
        "propensity", "reason_codes", "reasons", "model_name", "model_version",
    ),
}  # fmt: skip

_BY_NAME = {f.name: f for f in FIELDS}

_ARROW_TYPES: dict[Any, pa.DataType] = {
    str: pa.string(),
    int: pa.int64(),
    float: pa.float64(),
    bool: pa.bool_(),
    list[str]: pa.list_(pa.string()),
}
#: How each file view stores a date (see the module docstring).
_ARROW_DATES = {"log": pa.string(), "batch": pa.timestamp("ns")}
_SQL_TYPES: dict[Any, Callable[[RecordField], sa.types.TypeEngine]] = {
    str: lambda f: sa.String(f.sql_length),
    date: lambda f: sa.String(ISO_DATE_LENGTH),
    float: lambda f: sa.Float(),
    bool: lambda f: sa.Boolean(),
    list[str]: lambda f: sa.Text(),
}
#: Python type of a log row's value, where it differs from the response's.
_LOG_PYTHON_TYPES: dict[Any, Any] = {date: str, list[str]: tuple[str, ...]}


def fields(view: str) -> tuple[RecordField, ...]:
    """The fields of one view, in its order."""
    if view not in VIEWS:
        raise ValueError(f"view: {view!r} is not one of {sorted(VIEWS)}")
    return tuple(_BY_NAME[name] for name in VIEWS[view])


def columns(view: str) -> tuple[str, ...]:
    return tuple(f.name for f in fields(view))


def sql_columns() -> list[sa.Column]:
    """The log's columns (keys and indexes are the log's business: ``serving.decision_log``)."""
    return [
        sa.Column(f.name, _SQL_TYPES[f.type](f), nullable=f.nullable, doc=f.description)
        for f in fields("log")
    ]


@functools.cache
def json_columns() -> tuple[str, ...]:
    """Log columns holding a list as JSON text."""
    return tuple(f.name for f in fields("log") if f.type == list[str])


def arrow_schema(view: str) -> pa.Schema:
    """Arrow (and Parquet) schema of a file view: ``"log"`` (the export) or ``"batch"``."""
    if view not in _ARROW_DATES:
        raise ValueError(f"view: {view!r} has no file form; use one of {sorted(_ARROW_DATES)}")
    types = {**_ARROW_TYPES, date: _ARROW_DATES[view]}
    return pa.schema([(f.name, types[f.type]) for f in fields(view)])


class LogRecord:
    """Base of the generated ``DecisionRecord``: what the code relies on of a log row. The fields
    (the log view's) are added by :func:`log_record_class`; a type checker sees this class."""

    if TYPE_CHECKING:
        # the generated dataclass's __init__ takes the log view's fields as keywords
        def __init__(self, **fields: object) -> None: ...

    def as_row(self) -> dict[str, object]:
        """The SQL values of the row: lists as JSON text."""
        row = self.__dict__.copy()
        for name in json_columns():
            row[name] = json.dumps(list(row[name]), ensure_ascii=False)
        return row


def log_record_class(module: str) -> type[LogRecord]:
    """``DecisionRecord``: a frozen dataclass of one log row (a :class:`LogRecord`).

    ``module`` is where the class is bound, so that pickle finds it."""
    spec = []
    for f in fields("log"):
        kind = _LOG_PYTHON_TYPES.get(f.type, f.type)
        spec.append((f.name, kind | None if f.nullable else kind))
    doc = "One row of the log; built by the service from a decision, never from raw personal data."
    cls = make_dataclass("DecisionRecord", spec, bases=(LogRecord,), frozen=True, namespace={"__doc__": doc})
    cls.__module__ = module  # make_dataclass takes ``module`` only from Python 3.12
    return cls


def _pydantic_field(f: RecordField) -> tuple[Any, Any]:
    kwargs: dict[str, Any] = {"default": f.default, "description": f.description}
    if f.bounds is not None:
        kwargs["ge"], kwargs["le"] = f.bounds
    if f.default_factory is not None:
        kwargs["default_factory"] = f.default_factory
    return (f.type | None if f.nullable else f.type), pydantic.Field(**kwargs)


def response_model(name: str, view: str, doc: str, module: str) -> type[pydantic.BaseModel]:
    """The pydantic model of a response view, with its OpenAPI example (BentoML publishes both);
    ``module`` is where the class is bound, so that pickle finds it."""
    example = {f.name: f.example for f in fields(view) if f.example is not None}
    # field definitions are (type form, FieldInfo) pairs; typed as Any so that create_model's
    # keyword-only options (__doc__, __module__, ...) are not matched against them
    definitions: dict[str, Any] = {f.name: _pydantic_field(f) for f in fields(view)}
    return pydantic.create_model(
        name,
        __config__=pydantic.ConfigDict(json_schema_extra={"example": example}),
        __doc__=doc,
        __module__=module,
        **definitions,
    )
