"""Unit tests of the rules file: loading, validation messages that name rule and field."""

from __future__ import annotations

import copy

import pytest
import yaml

from models.rules import ContactHours, load_rules, parse_rules
from rollcure.core.errors import InputError


@pytest.fixture
def raw_rules() -> dict:
    from importlib import resources

    return yaml.safe_load(resources.files("models").joinpath("rules.yaml").read_text())


def test_default_rules_cover_the_compliance_catalogue(default_rules):
    ids = set(default_rules.rule_ids)
    for expected in (
        "NO_CONTACT_FLAGGED",
        "LIT_MIN_BALANCE",
        "LIT_MIN_DPD",
        "RESTRUCTURE_ONCE_A_YEAR",
        "NO_CONCESSION_ON_FRAUD",
        "VISIT_NEEDS_ADDRESS",
        "NO_PRESSURE_WHILE_PROMISE",
        "NO_PRESSURE_WHILE_RESTRUCTURED",
        "CALL_FREQUENCY_CAP",
    ):
        assert expected in ids
    assert default_rules.rule("NO_CONTACT_FLAGGED").route == "manual_review"
    assert default_rules.contact_hours.allows(8) and not default_rules.contact_hours.allows(21)


def test_unknown_action_names_rule_field_and_allowed_values(raw_rules):
    raw = copy.deepcopy(raw_rules)
    raw["rules"][1]["actions"] = ["lawsuit"]
    with pytest.raises(InputError) as err:
        parse_rules(raw)
    msg = str(err.value)
    assert "rule 'LIT_MIN_BALANCE'" in msg and "field 'actions'" in msg and "'lawsuit'" in msg
    assert "'litigation'" in msg  # the allowed values, from the action catalogue


def test_unknown_operator_lists_allowed_operators(raw_rules):
    raw = copy.deepcopy(raw_rules)
    raw["rules"][2]["when"][0]["op"] = "=>"
    with pytest.raises(InputError, match=r"rule 'LIT_MIN_DPD' field 'when.0.op'.*'>='"):
        parse_rules(raw)


@pytest.mark.parametrize(
    ("edit", "needle"),
    [
        (lambda r: r["rules"][0].update(extra_key=1), "Extra inputs are not permitted"),
        (lambda r: r["rules"][1].update(actions=["none"]), "'none' cannot be blocked"),
        (lambda r: r["rules"][2]["when"][0].pop("value"), "needs a numeric value"),
        (lambda r: r["rules"][3].update(id=r["rules"][4]["id"]), "duplicate rule id"),
        (lambda r: r.update(contact_hours={"start": 21, "end": 8}), "must be after start"),
        (lambda r: r["rules"][5].update(id="lower_case"), "String should match pattern"),
    ],
)
def test_broken_rules_are_refused(raw_rules, edit, needle):
    raw = copy.deepcopy(raw_rules)
    edit(raw)
    with pytest.raises(InputError, match=needle):
        parse_rules(raw)


def test_load_rules_reports_missing_and_malformed_files(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        load_rules(tmp_path / "absent.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: [unclosed")
    with pytest.raises(InputError, match="not valid YAML"):
        load_rules(bad)
    bad.write_text("- a list")
    with pytest.raises(InputError, match="top level must be a mapping"):
        load_rules(bad)


def test_custom_rules_file_round_trips(tmp_path, raw_rules):
    raw = copy.deepcopy(raw_rules)
    raw["rules"][1]["when"][0]["value"] = 20000
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert load_rules(path).rule("LIT_MIN_BALANCE").when[0].value == 20000


def test_contact_hours_label():
    assert ContactHours(start=8, end=21).label() == "08:00-21:00"


def test_every_rule_reads_a_registered_feature(default_rules):
    """The rules file and the feature registry must agree on column names (data check)."""
    from features.registry import FEATURES_BY_NAME

    unknown = [f for f in default_rules.features() if f not in FEATURES_BY_NAME]
    assert unknown == []
