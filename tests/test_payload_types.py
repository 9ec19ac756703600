"""Every field of a case is typed so that what the raw tables cannot hold is refused by the field.

The service used to walk each validated case for such values; now the field types refuse them in
pydantic's own pass. These tests keep that true as fields are added: every int field is bounded
within int64, every date-time field is a ``Timestamp``, and every model refuses NaN and infinity.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import types
import typing

import pytest
from pydantic import BaseModel, ValidationError

from features.payload import INT64_MAX, INT64_MIN, CasePayload, _local_in_table_range, _within_int64
from serving.examples import EXAMPLE_CASE
from serving.request import ServedCase


def _leaves(model: type[BaseModel], path: str = "") -> typing.Iterator[tuple[str, object, list]]:
    """(path, leaf type, metadata) of every field, through nested models, lists and optionals."""
    for name, info in model.model_fields.items():
        yield from _unwrap(info.annotation, list(info.metadata), f"{path}{name}")


def _unwrap(tp: object, metadata: list, path: str) -> typing.Iterator[tuple[str, object, list]]:
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(tp)
        yield from _unwrap(base, metadata + list(extra), path)
    elif origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is not type(None):
                yield from _unwrap(arg, metadata, path)
    elif origin is list:
        yield from _unwrap(typing.get_args(tp)[0], [], f"{path}.0")
    elif isinstance(tp, type) and issubclass(tp, BaseModel):
        assert tp.model_config.get("allow_inf_nan") is False, f"{path}: {tp.__name__} allows NaN"
        yield from _leaves(tp, f"{path}.")
    else:
        yield path, tp, metadata


def _bounded_int64(metadata: list) -> bool:
    lows: list[int] = [m.ge for m in metadata if getattr(m, "ge", None) is not None]
    highs: list[int] = [m.le for m in metadata if getattr(m, "le", None) is not None]
    by_range = bool(lows and highs) and INT64_MIN <= max(lows) and min(highs) <= INT64_MAX
    return by_range or any(getattr(m, "func", None) is _within_int64 for m in metadata)


def test_every_field_is_typed_to_what_the_tables_hold():
    assert CasePayload.model_config.get("allow_inf_nan") is False
    leaves = list(_leaves(ServedCase))
    kinds = {typing.Literal if typing.get_origin(tp) is typing.Literal else tp for _, tp, _ in leaves}
    assert kinds == {int, float, dt.datetime, bool, typing.Literal}, kinds  # a new kind needs a rule here
    for path, tp, metadata in leaves:
        if tp is int:
            assert _bounded_int64(metadata), f"{path}: an int with no bound inside int64"
        if tp is dt.datetime:
            assert any(getattr(m, "func", None) is _local_in_table_range for m in metadata), (
                f"{path}: a date-time that is not a Timestamp"
            )


@pytest.mark.parametrize(
    ("path", "value", "why"),
    [
        (("loan", "loan_id"), 2**63, "64-bit"),
        (("borrower", "borrower_id"), -(2**63) - 1, "64-bit"),
        (("cycles", 0, "cycle_date"), "2262-04-12T00:00:00", "date-time range"),
        (("contacts", 0, "ts"), "2025-06-30T00:00:00+08:00", "time zone"),
        (("loan", "annual_rate"), float("nan"), "finite"),
        (("cycles", 0, "balance"), float("inf"), "finite"),
    ],
)
def test_unrepresentable_values_are_refused_naming_the_field(path, value, why):
    raw = copy.deepcopy(EXAMPLE_CASE)
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValidationError) as err:
        ServedCase.model_validate_json(json.dumps(raw))
    first = err.value.errors()[0]
    assert ".".join(map(str, first["loc"])).startswith(".".join(map(str, path))), first
    assert why in str(err.value)


def test_the_example_case_is_accepted():
    assert ServedCase.model_validate(EXAMPLE_CASE).loan.loan_id == EXAMPLE_CASE["loan"]["loan_id"]
