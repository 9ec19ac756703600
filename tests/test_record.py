"""The one decision record (``models.record``): every shape in use agrees with it, field by field
(name, type, nullability, order), and with the shapes existing logs, files and clients already have."""

from __future__ import annotations

import dataclasses
import sqlite3
import types
import typing
from datetime import date

import pyarrow as pa
import pytest
import sqlalchemy as sa

from models import record
from serving.batch import OUTPUT_SCHEMA
from serving.decision_log import EXPORT_COLUMNS, DecisionLog, DecisionRecord, decisions_table, default_url
from serving.export import EXPORT_SCHEMA
from serving.schemas import CaseDecision, CaseScore

RESPONSE_MODELS = {"score": CaseScore, "response": CaseDecision}
FILE_SCHEMAS = {"log": EXPORT_SCHEMA, "batch": OUTPUT_SCHEMA}

#: How each storage holds a field's Python type: SQL type, export (log) and batch Arrow types.
STORED = {
    str: (sa.String, pa.string(), pa.string()),
    int: (None, pa.int64(), pa.int64()),
    float: (sa.Float, pa.float64(), pa.float64()),
    bool: (sa.Boolean, pa.bool_(), pa.bool_()),
    date: (sa.String, pa.string(), pa.timestamp("ns")),  # an ISO string in the log, a timestamp in a batch
    list[str]: (sa.Text, pa.list_(pa.string()), pa.list_(pa.string())),  # JSON text in the log
}

#: Response fields the log leaves out, and why: anything else the service answers must be auditable.
NOT_LOGGED = {
    "loan_id": "kept only as case_hash, a salted HMAC",
    "reasons": "the sentences of reason_codes",
    "rule_notes": "explanations of the policy, rebuilt from the logged inputs",
    "expected_values": "every action's value, rebuilt from the logged inputs",
}

#: The shapes in use today: a change here breaks existing logs, files or clients, so it is deliberate.
PINNED = {
    "score": "loan_id int, as_of date, p_roll_forward float, p_cure float, model_version str",
    "response": (
        "loan_id int, as_of date, p_roll_forward float, p_cure float, model_version str, decision_id str, "
        "action str?, expected_value float?, expected_values dict[str, float]?, reason_codes list[str], "
        "reasons list[str], rule_notes list[str], arm str, challenger bool"
    ),
    "log": (
        "decision_id VARCHAR(32), case_hash VARCHAR(64), as_of VARCHAR(10), decided_at VARCHAR(32), "
        "endpoint VARCHAR(32), model_name VARCHAR(200), model_version VARCHAR(64), "
        "inputs_digest VARCHAR(64), p_roll_forward FLOAT, p_cure FLOAT, action VARCHAR(32)?, "
        "expected_value FLOAT?, reason_codes TEXT, arm VARCHAR(16), challenger BOOLEAN, propensity FLOAT?"
    ),
    "batch": (
        "loan_id int64, as_of timestamp[ns], p_roll_forward double, p_cure double, action string, "
        "expected_value double, arm string, propensity double, reason_codes list<item: string>, "
        "reasons list<item: string>, model_name string, model_version string"
    ),
}


def _python_type(annotation: object) -> tuple[object, bool]:
    """(type, nullable) of a ``T`` or ``T | None`` annotation."""
    if isinstance(annotation, types.UnionType):
        args = typing.get_args(annotation)
        return next(a for a in args if a is not type(None)), type(None) in args
    return annotation, False


def _render(annotation: object) -> str:
    kind, nullable = _python_type(annotation)
    name = kind.__name__ if kind in (str, int, float, bool, date) else str(kind)
    return name + ("?" if nullable else "")


def _response_mismatches(view: str) -> list[str]:
    model = RESPONSE_MODELS[view]
    problems = []
    if tuple(model.model_fields) != record.columns(view):
        problems.append(f"{model.__name__} fields {tuple(model.model_fields)} != {record.columns(view)}")
    for f in record.fields(view):
        got = model.model_fields.get(f.name)
        if got is None:
            continue
        if _python_type(got.annotation) != (f.type, f.nullable):
            problems.append(f"{model.__name__}.{f.name}: {got.annotation}, declared {f.type} {f.nullable}")
        if got.description != f.description:
            problems.append(f"{model.__name__}.{f.name}: description {got.description!r}")
    example = model.model_json_schema()["example"]
    if set(example) - set(record.columns(view)):
        problems.append(f"{model.__name__} example has {sorted(set(example) - set(record.columns(view)))}")
    return problems


def _log_mismatches() -> list[str]:
    problems = []
    table = [c for c in decisions_table.columns if c.name != "seq"]
    names = record.columns("log")
    for what, got in [
        ("decisions_table", tuple(c.name for c in table)),
        ("EXPORT_COLUMNS", EXPORT_COLUMNS),
        ("DecisionRecord", tuple(f.name for f in dataclasses.fields(DecisionRecord))),
    ]:
        if got != names:
            problems.append(f"{what} columns {got} != {names}")
    for f in record.fields("log"):
        if f.name not in decisions_table.c:
            continue
        column = decisions_table.c[f.name]
        if not isinstance(column.type, STORED[f.type][0]) or column.nullable != f.nullable:
            problems.append(f"decisions_table.{f.name}: {column.type} nullable {column.nullable}")
    return problems


def _file_mismatches(view: str) -> list[str]:
    schema = FILE_SCHEMAS[view]
    problems = []
    if tuple(schema.names) != record.columns(view):
        problems.append(f"{view} schema columns {tuple(schema.names)} != {record.columns(view)}")
    which = 1 if view == "log" else 2
    for f in record.fields(view):
        if f.name not in schema.names:
            continue
        got = schema.field(f.name)
        # nullable in every file written so far; the table and the response models enforce non-null
        if got.type != STORED[f.type][which] or not got.nullable:
            problems.append(f"{view} schema {f.name}: {got.type} nullable {got.nullable}")
    return problems


def _mismatches(view: str) -> list[str]:
    if view in RESPONSE_MODELS:
        return _response_mismatches(view)
    return _log_mismatches() + _file_mismatches("log") if view == "log" else _file_mismatches(view)


def test_views_name_declared_fields_once_and_every_field_is_used():
    names = [f.name for f in record.FIELDS]
    assert len(names) == len(set(names))
    for view, columns in record.VIEWS.items():
        assert len(columns) == len(set(columns)), view
        assert set(columns) <= set(names), (view, set(columns) - set(names))
    assert set(names) == {c for columns in record.VIEWS.values() for c in columns}


def test_fields_are_well_formed():
    for f in record.FIELDS:
        assert f.type in STORED or f.type == dict[str, float], f.name
        assert f.description.endswith("."), f.name
        assert (f.sql_length is not None) == (f.type is str and f.name in record.VIEWS["log"]), f.name


#: Views that are column lists of in-memory frames (no response model, table or file of their own).
COLUMN_VIEWS = ("decision", "mlflow")
SHAPED_VIEWS = [v for v in record.VIEWS if v not in COLUMN_VIEWS]


@pytest.mark.parametrize("view", SHAPED_VIEWS)
def test_every_shape_in_use_agrees_with_the_record(view):
    assert _mismatches(view) == []


@pytest.mark.parametrize("view", SHAPED_VIEWS)
def test_shapes_are_the_ones_already_in_use(view):
    if view in RESPONSE_MODELS:
        shape = [f"{name} {_render(f.annotation)}" for name, f in RESPONSE_MODELS[view].model_fields.items()]
    elif view == "log":
        shape = [f"{c.name} {c.type}" + ("?" if c.nullable else "") for c in decisions_table.columns][1:]
    else:
        shape = [f"{f.name} {f.type}" for f in FILE_SCHEMAS[view]]
    assert ", ".join(shape) == PINNED[view]


def test_score_response_is_the_start_of_the_decision_response():
    assert record.VIEWS["response"][: len(record.VIEWS["score"])] == record.VIEWS["score"]


def test_what_the_service_answers_is_logged_or_deliberately_left_out():
    response, log = set(record.VIEWS["response"]), set(record.VIEWS["log"])
    assert response - log == set(NOT_LOGGED)
    assert set(record.VIEWS["batch"]) <= response | log


def test_openapi_examples_validate_against_their_models():
    for model in RESPONSE_MODELS.values():
        example = model.model_json_schema()["example"]
        assert model.model_validate(example).model_dump(mode="json", exclude_unset=True) == example


def test_a_field_added_to_the_record_but_not_to_a_shape_is_caught(monkeypatch):
    channel = record.RecordField("channel", str, True, "Contact channel.", sql_length=16)
    monkeypatch.setitem(record._BY_NAME, "channel", channel)
    monkeypatch.setitem(record.VIEWS, "log", (*record.VIEWS["log"], "channel"))
    problems = _mismatches("log")
    # the table, the export columns, the row class and the Arrow schema were built without it
    assert len(problems) == 4 and all("channel" in p for p in problems)


@pytest.mark.parametrize(
    "view, edit",
    [
        ("batch", lambda: OUTPUT_SCHEMA.append(pa.field("channel", pa.string()))),
        ("log", lambda: EXPORT_SCHEMA.set(2, pa.field("as_of", pa.date32()))),
        ("batch", lambda: OUTPUT_SCHEMA.remove(OUTPUT_SCHEMA.get_field_index("propensity"))),
    ],
    ids=["added", "retyped", "dropped"],
)
def test_a_shape_edited_by_hand_is_caught(monkeypatch, view, edit):
    monkeypatch.setitem(FILE_SCHEMAS, view, edit())
    assert _file_mismatches(view)


def test_sql_columns_are_the_log_columns_and_open_an_existing_log(tmp_path):
    log = DecisionLog.open(default_url(tmp_path))
    log.close()
    with sqlite3.connect(tmp_path / "decisions.sqlite") as con:
        found = [row[1] for row in con.execute("pragma table_info(decisions)")]
    assert found == ["seq", *record.columns("log")]
    DecisionLog.open(default_url(tmp_path)).close()


def test_log_rows_store_lists_as_json():
    row = DecisionRecord(**{name: None for name in record.columns("log")} | {"reason_codes": ("A", "é")})
    assert record.json_columns() == ("reason_codes",)
    assert row.as_row()["reason_codes"] == '["A", "é"]'
    with pytest.raises(dataclasses.FrozenInstanceError):
        row.arm = "x"


def test_unknown_views_are_named():
    with pytest.raises(ValueError, match="'log'"):
        record.fields("logs")
    with pytest.raises(ValueError, match="'batch'"):
        record.arrow_schema("response")


def test_the_policy_and_the_mlflow_model_use_the_records_column_views():
    from models.policy import DECISION_COLUMNS
    from registry.pyfunc import OUTPUT_COLUMNS, output_schema

    assert DECISION_COLUMNS == record.columns("decision")
    assert OUTPUT_COLUMNS == record.columns("mlflow") == (*DECISION_COLUMNS, "reason_codes", "reasons")
    schema = output_schema()
    assert schema.input_names() == list(OUTPUT_COLUMNS)
    kinds = {spec.name: str(spec.type) for spec in schema.inputs}
    assert kinds["loan_id"].endswith("long") and kinds["p_cure"].endswith("double")
    assert "string" in kinds["reasons"] and kinds["why"].endswith("string")
