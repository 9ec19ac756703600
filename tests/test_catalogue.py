"""The action catalogue: well-formed, the one source of the action vocabulary, and enough on its own.

The last test is the catalogue's promise: a catalogue with one more action (a test-only one) runs
simulate -> train -> decide -> serve with no other file touched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import resources

import numpy as np
import pytest
import yaml

from models.rules import load_rules
from models.strategies import _LADDER
from rollcure.config.policy import PolicyConfig
from rollcure.config.simulation import SimulationConfig
from rollcure.core.catalogue import ACTIONS, CATALOGUE, RISK_SEGMENTS, load_catalogue, parse_catalogue
from rollcure.core.errors import InputError

SHIPPED = yaml.safe_load(resources.files("rollcure.core").joinpath("actions.yaml").read_text())


def test_every_rule_named_by_an_action_exists_and_every_rule_blocks_something():
    rules = load_rules()
    named = {r for a in CATALOGUE.actions for r in a.rules}
    assert named <= set(rules.rule_ids)
    assert all(r.blocks() for r in rules.rules)
    assert "none" not in {a for r in rules.rules for a in r.blocks()}


def test_defaults_of_policy_and_simulator_come_from_the_catalogue():
    policy, sim = PolicyConfig(), SimulationConfig()
    assert policy.cost_vector() == [a.cost for a in CATALOGUE.actions] == sim.cost_vector()
    caps = policy.cycle_capacity()
    for a, cap in zip(CATALOGUE.actions, caps, strict=True):
        assert cap == (
            np.inf if a.daily_capacity is None else a.daily_capacity * policy.working_days_per_cycle
        )
    assert list(sim.effects) == list(ACTIONS)
    assert [e.logging_weights for e in sim.effects.values()] == [
        a.simulation.logging_weights for a in CATALOGUE.actions
    ]


def test_ladder_and_risk_lists_are_derived_and_offer_cheap_before_dear():
    for bucket, rungs in _LADDER.items():
        ranks = [CATALOGUE.actions[CATALOGUE.index(a)].ladder_rank for a in rungs]
        assert ranks == sorted(ranks, reverse=True) and max(ranks) == bucket
    assert all(CATALOGUE.risk_preferences(s) for s in RISK_SEGMENTS)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c["actions"].append(dict(c["actions"][1])), "duplicate action"),
        (lambda c: c["actions"].insert(0, c["actions"].pop(1)), "first action must be 'none'"),
        (lambda c: c.update(reference_action="phone_call"), "reference_action 'phone_call'"),
        (lambda c: c["actions"][1].update(cost=-1), "action 'reminder' field 'cost'"),
        (lambda c: c["actions"][1].update(channel="pigeon"), "action 'reminder' field 'channel'"),
        (lambda c: c["actions"][1]["simulation"]["gain"].update(factors=["luck"]), "field 'simulation.gain"),
        (lambda c: c["actions"][1]["simulation"]["logging_weights"].update(M9=1), "unknown bucket"),
        (lambda c: c["actions"][1]["simulation"]["contacts"].update(pigeon=[1]), "unknown channel"),
        (lambda c: c["actions"][1].update(risk_preference={"medium": 1}), "unknown risk segment"),
        (lambda c: c["actions"][0].update(daily_capacity=3), "'none' cannot be limited"),
        (lambda c: c["actions"][5]["simulation"]["mechanism"].update(kind="restructuring"), "mechanism"),
    ],
)
def test_a_broken_catalogue_is_refused_naming_the_action_and_field(mutate, message):
    raw = json.loads(json.dumps(SHIPPED))  # deep copy
    mutate(raw)
    with pytest.raises(InputError, match="action catalogue") as err:
        parse_catalogue(raw, "action catalogue test")
    assert message in str(err.value)


def test_a_missing_catalogue_file_names_the_variable(tmp_path):
    with pytest.raises(InputError, match="ROLLCURE_ACTIONS: action catalogue not found"):
        load_catalogue(tmp_path / "nope.yaml")


_EXTRA = {
    "name": "sms_blast",
    "label": "SMS blast",
    "cost": 0.5,
    "daily_capacity": 400,
    "channel": "phone",
    "contact": True,
    "rules": ["NO_CONTACT_FLAGGED", "CALL_FREQUENCY_CAP"],
    "simulation": {
        "gain": {"scale": 1.0, "factors": ["willingness"]},
        "logging_weights": {"M1": 0.3, "M2": 0.2, "M3": 0.1},
        "contacts": {"sms": [2, 0.5]},
    },
}

_DRIVER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import pandas as pd
    from cli.main import run
    from rollcure.config import load_config
    from rollcure.core.io import read_tables
    from serving.demo import sample_payloads, service_demo

    data = Path(sys.argv[1])
    book = data / "book"
    assert run(["simulate", "--accounts", "3000", "--months", "20", "--seed", "3", "--out", str(book)]) == 0
    assert run(["train", "--data", str(book), "--promote"]) == 0
    assert run(["score", "--data", str(book), "--out", str(data / "scores.parquet")]) == 0
    cfg = load_config(data_dir=data)
    decisions = service_demo(cfg, sample_payloads(read_tables(book)))
    scores = pd.read_parquet(data / "scores.parquet")
    actions = pd.read_parquet(book / "actions.parquet")
    print(json.dumps({
        "logged": actions["action"].value_counts().to_dict(),
        "scored_actions": sorted(scores["action"].dropna().unique().tolist()),
        "served_values": [sorted((d.get("expected_values") or {}).keys()) for d in decisions],
    }))
    """
)


def test_a_catalogue_with_an_extra_action_runs_simulate_train_decide_serve(tmp_path):
    raw = json.loads(json.dumps(SHIPPED))
    raw["actions"].append(_EXTRA)
    path = tmp_path / "actions.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    env = {**os.environ, "ROLLCURE_ACTIONS": str(path), "ROLLCURE_DATA_DIR": str(tmp_path)}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("ROLLCURE_API_TOKEN", None)
    proc = subprocess.run(
        [sys.executable, "-c", _DRIVER, str(tmp_path)], env=env, capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["logged"].get("sms_blast", 0) > 100  # the simulator's historical lender used it
    names = {a["name"] for a in raw["actions"]}
    assert out["scored_actions"] and set(out["scored_actions"]) <= names | {"manual_review"}  # batch decided
    assert out["served_values"] and all("sms_blast" in keys for keys in out["served_values"])


def test_a_bundle_trained_under_another_catalogue_is_refused(policy_bundle, tmp_path):
    from models.bundle import Bundle

    folder = policy_bundle.save(tmp_path / "bundle")
    assert Bundle.load(folder).policy is not None  # same catalogue: loads
    manifest = json.loads((folder / "bundle.json").read_text())
    manifest["actions"] = [*ACTIONS, "sms_blast"]
    (folder / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="trained with the actions .*sms_blast.* ROLLCURE_ACTIONS"):
        Bundle.load(folder)


def test_a_rules_file_missing_a_rule_the_catalogue_names_is_refused():
    from models.rules import parse_rules

    raw = yaml.safe_load(resources.files("models").joinpath("rules.yaml").read_text())
    raw["rules"] = [r for r in raw["rules"] if r["id"] != "NO_CONTACT_FLAGGED"]
    with pytest.raises(InputError, match=r"\['NO_CONTACT_FLAGGED'\] are named by the action catalogue"):
        parse_rules(raw, "rules file test")


def test_a_partial_cost_or_capacity_override_keeps_the_catalogue_for_the_rest():
    cfg = PolicyConfig(
        action_costs={"litigation": 400}, daily_capacity={"litigation": 2, "field_visit": None}
    )
    costs = dict(zip(ACTIONS, cfg.cost_vector(), strict=True))
    caps = dict(zip(ACTIONS, cfg.cycle_capacity(), strict=True))
    assert costs["litigation"] == 400 and costs["settlement"] == CATALOGUE.costs()["settlement"] > 0
    assert caps["litigation"] == 2 * cfg.working_days_per_cycle and caps["field_visit"] == np.inf
    assert caps["settlement"] == CATALOGUE.daily_capacity()["settlement"] * cfg.working_days_per_cycle
    with pytest.raises(ValueError, match="'none' cannot be limited"):
        PolicyConfig(daily_capacity={"none": 5})


def test_more_contact_chances_than_the_simulator_draws_are_refused_at_load():
    raw = json.loads(json.dumps(SHIPPED))
    raw["actions"][3]["simulation"]["contacts"]["visit"] = [1, 0.5]
    with pytest.raises(InputError, match="visit: at most 0 chance"):
        parse_catalogue(raw, "action catalogue test")
