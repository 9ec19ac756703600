"""The HTTP service in-process: answers, parity with the batch path, audit log, bad input, auth."""

from __future__ import annotations

import copy
import json
import logging
import sqlite3

import numpy as np
import pandas as pd
import pytest
from fixtures_serving import TEST_SALT, use_registry

from rollcure.core.catalogue import CATALOGUE
from serving.decision_log import hash_case_id

pytestmark = [
    # BentoML internals (not our code) trip these on every app build.
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pathspec.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:_bentoml_sdk.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:_bentoml_impl.*"),
]


def _log_rows(path) -> list[dict]:
    with sqlite3.connect(path) as con:
        con.row_factory = sqlite3.Row
        return [dict(r) for r in con.execute("select * from decisions order by seq")]


def test_recommend_answers_every_case_in_order_and_logs_it_first(
    service_client, sample_payloads, serving_setup
):
    cases = sample_payloads[:5]
    before = len(_log_rows(service_client.log_path))
    r = service_client.post("/recommend", json={"cases": cases})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [d["loan_id"] for d in body] == [c["loan"]["loan_id"] for c in cases]
    for d in body:
        assert 0 <= d["p_roll_forward"] <= 1 and 0 <= d["p_cure"] <= 1
        assert d["model_version"] == serving_setup.version
        assert d["reason_codes"] and len(d["reason_codes"]) == len(d["reasons"])
        assert d["arm"] in ("champion", "challenger", "explore")
    rows = _log_rows(service_client.log_path)[before:]
    assert [row["decision_id"] for row in rows] == [d["decision_id"] for d in body]
    for row, d, case in zip(rows, body, cases, strict=True):
        assert row["case_hash"] == hash_case_id(case["loan"]["loan_id"], TEST_SALT)
        assert str(case["loan"]["loan_id"]) not in json.dumps(row)  # no id in clear
        assert row["model_version"] == serving_setup.version and row["model_name"] == "rollcure-bundle"
        assert json.loads(row["reason_codes"]) == d["reason_codes"]
        assert row["p_roll_forward"] == pytest.approx(d["p_roll_forward"])
        assert len(row["inputs_digest"]) == 64


def test_same_request_same_decision(service_client, sample_payloads):
    body = {"cases": sample_payloads[5:8]}
    a, b = (
        service_client.post("/recommend", json=body).json(),
        service_client.post("/recommend", json=body).json(),
    )
    first, second = (
        [{k: v for k, v in d.items() if k not in ("decision_id", "rule_notes")} for d in x] for x in (a, b)
    )
    # the probabilities shown are those under the action taken, so they move with it
    same = ("expected_values", "arm", "reason_codes")
    for x, y in zip(first, second, strict=True):
        if x["action"] == y["action"]:
            assert x == y
        else:
            # the day's capacity ledger: the first request (and the tests before it) may have booked
            # the last slot of its action; only an action with a daily capacity can be taken away
            assert x["action"] in CATALOGUE.daily_capacity(), (x["action"], y["action"])
            assert {k: x[k] for k in same} == {k: y[k] for k in same}
    assert {d["decision_id"] for d in a}.isdisjoint({d["decision_id"] for d in b})


def test_score_matches_the_batch_feature_path(service_client, sample_payloads, sample_cases, trained_run):
    """Serving payloads and the raw tables give the same probabilities (one feature code path)."""
    from features.build import build_features

    tables, cases = sample_cases
    n = 10
    r = service_client.post("/score", json={"cases": sample_payloads[:n]})
    assert r.status_code == 200, r.text
    served = pd.DataFrame(r.json())
    X = build_features(tables, cases.head(n), trained_run.cfg.features)
    direct = trained_run.bundle.score(X).to_frame()
    np.testing.assert_allclose(served["p_roll_forward"], direct["p_roll_forward"], rtol=1e-9)
    np.testing.assert_allclose(served["p_cure"], direct["p_cure"], rtol=1e-9)


def test_explain_contributions_add_up_to_the_margin(
    service_client, sample_payloads, sample_cases, trained_run
):
    from features.build import build_features

    tables, cases = sample_cases
    r = service_client.post("/explain", json={"cases": sample_payloads[:3]})
    assert r.status_code == 200, r.text
    X = build_features(tables, cases.head(3), trained_run.cfg.features)
    for i, e in enumerate(r.json()):
        assert set(e["contributions"]["roll_forward"]) == set(trained_run.bundle.feature_names)
        for target in ("roll_forward", "cure"):
            total = sum(e["contributions"][target].values()) + e["base_values"][target]
            assert total == pytest.approx(trained_run.bundle.margin(X.iloc[[i]], target)[0], abs=1e-6)
        ups = [
            x["contribution"]
            for x in e["reasons"]
            if x["target"] == "roll_forward" and x["direction"] == "up"
        ]
        assert ups == sorted(ups, reverse=True) and all(u > 0 for u in ups)


def test_explain_an_action_explains_its_roll_and_cure_probabilities(
    service_client, sample_payloads, sample_cases, trained_run
):
    """``action`` explains the action models' probabilities under it: contributions through the
    logistic give the very p_roll_forward_<a> and p_cure_<a> the policy valued the action with."""
    from features.build import build_features
    from rollcure.core.catalogue import ACTIONS

    tables, cases = sample_cases
    X = build_features(tables, cases.head(3), trained_run.cfg.features)
    pred = trained_run.bundle.policy.action_models.predict(X)
    bases = {}
    for action in ("reminder", "restructuring"):
        r = service_client.post("/explain", json={"cases": sample_payloads[:3], "action": action})
        assert r.status_code == 200, r.text
        for i, e in enumerate(r.json()):
            assert e["action"] == action
            for target, p in (("roll_forward", pred.roll), ("cure", pred.cure)):
                margin = sum(e["contributions"][target].values()) + e["base_values"][target]
                assert 1 / (1 + np.exp(-margin)) == pytest.approx(p[i, ACTIONS.index(action)], abs=1e-9)
            assert {x["target"] for x in e["reasons"]} <= {"roll_forward", "cure"} and e["reasons"]
        bases[action] = r.json()[0]["base_values"]
    assert bases["reminder"] != bases["restructuring"]  # the action's own effect sits in the base
    bad = service_client.post("/explain", json={"cases": sample_payloads[:1], "action": "teleport"})
    assert bad.status_code == 400 and "action" in bad.text and "teleport" in bad.text


def test_metadata_and_health(service_client, serving_setup, trained_run):
    meta = service_client.get("/metadata").json()
    assert meta["model_version"] == serving_setup.version and meta["alias"] == "champion"
    assert meta["features"] == trained_run.bundle.feature_names
    assert len(meta["config_hash"]) == 16
    assert service_client.get("/healthz").status_code == 200
    assert service_client.get("/readyz").status_code == 200


def test_openapi_documents_the_endpoints_with_examples(service_client):
    spec = service_client.get("/docs.json").json()
    for path in ("/recommend", "/score", "/explain", "/reload", "/metadata"):
        assert path in spec["paths"]
    body = spec["paths"]["/recommend"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["properties"]["cases"]["example"][0]["loan"]["loan_id"] == 1001
    assert "example" in spec["components"]["schemas"]["CaseDecision"]


def _mutated(payload: dict, path: tuple, value: object) -> dict:
    out = copy.deepcopy(payload)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is _DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


_DROP = object()


@pytest.mark.parametrize(
    ("path", "value", "status", "where"),
    [
        (("loan",), _DROP, 400, "loan"),
        (("borrower", "age"), "thirty", 400, "age"),
        (("loan", "product"), "yacht", 400, "product"),
        (("loan", "principal"), -100.0, 400, "principal"),
        (("cycles", 0, "paid_amount"), -1.0, 400, "paid_amount"),
        (("contacts",), "none", 400, "contacts"),
        (("as_of",), "2025-09-30T00:00:00", 422, "cycles"),  # as_of after the last cycle
        (("as_of",), "2099-01-31T00:00:00", 422, "as_of"),  # and after the server's clock
        (("as_of",), "not a date", 400, "as_of"),
        (("as_of",), "2025-06-30T00:00:00Z", 400, "time zone"),
        (("as_of",), 1751241600, 400, "time zone"),  # a number is a UTC Unix time
        (("loan", "loan_id"), 2**63, 400, "64-bit"),
        (("cycles", 0, "missed_instalments"), 2**63, 400, "missed_instalments"),
        (("loan", "origination_date"), "0001-01-01T00:00:00", 400, "origination_date"),
    ],
)
def test_bad_fields_are_4xx_naming_the_field(
    service_client, sample_payloads, path, value, status, where, caplog
):
    payload = _mutated(sample_payloads[0], path, value)
    with caplog.at_level(logging.INFO):
        r = service_client.post("/recommend", json={"cases": [payload]})
    assert r.status_code == status, r.text
    assert where in r.text
    loan_id = str(sample_payloads[0]["loan"]["loan_id"])
    assert loan_id not in caplog.text and "Traceback" not in caplog.text


def test_non_finite_numbers_are_400(service_client, sample_payloads):
    payload = copy.deepcopy(sample_payloads[0])
    payload["loan"]["principal"] = float("inf")
    body = json.dumps({"cases": [payload]})  # Python writes the non-standard token Infinity
    r = service_client.post("/score", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 400 and "principal" in r.text


def test_dates_out_of_order_are_rejected(service_client, sample_payloads):
    payload = copy.deepcopy(sample_payloads[0])
    payload["cycles"][1]["cycle_date"] = payload["cycles"][0]["cycle_date"]  # repeated date
    r = service_client.post("/recommend", json={"cases": [payload]})
    assert r.status_code == 400 and "cycle_date" in r.text


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"cases": [', 400),
        (b"null", 400),
        (b'{"cases": []}', 400),
        (b'{"cases": {}}', 400),
        (b"\xff\xfe", 400),
    ],
)
def test_malformed_bodies_are_400(service_client, body, status):
    r = service_client.post("/recommend", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status


def test_oversized_batch_is_413(service_client, sample_payloads):
    r = service_client.post("/score", json={"cases": sample_payloads[:11]})
    assert r.status_code == 413
    assert r.json()["detail"][0]["loc"] == ["cases"] and "limit is 10" in r.text


def test_unwritable_log_means_no_decision(service_client, sample_payloads, monkeypatch):
    from serving.decision_log import DecisionLog

    def broken(self, records):
        raise OSError("disk full")

    monkeypatch.setattr(DecisionLog, "append", broken)
    r = service_client.post("/recommend", json={"cases": sample_payloads[:1]})
    assert r.status_code == 503 and "decision_id" not in r.text


def test_token_is_required_when_set(service_client, sample_payloads, monkeypatch):
    c = service_client
    monkeypatch.setenv("ROLLCURE_API_TOKEN", "t0ken")
    for method, path in (
        ("post", "/recommend"),
        ("post", "/score"),
        ("get", "/metadata"),
        ("post", "/reload"),
    ):
        assert getattr(c, method)(path).status_code == 401
    assert c.get("/docs.json").status_code == 401
    assert c.get("/healthz").status_code == 200
    ok = c.post("/score", json={"cases": sample_payloads[:1]}, headers={"Authorization": "Bearer t0ken"})
    assert ok.status_code == 200
    wrong = c.post("/score", json={"cases": sample_payloads[:1]}, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_reload_switches_to_the_new_champion(service_client, serving_setup, sample_payloads, trained_run):
    from registry.store import client, promote, resolve_version, tracking

    c = service_client
    with use_registry(serving_setup):
        old = c.get("/metadata").json()["model_version"]
        same = c.post("/reload", json={}).json()
        assert same == {"previous_version": old, "model_version": old, "swapped": False}
        # A second version of the same bundle (no artifact written): what `rollcure train` + promote do.
        source = resolve_version(serving_setup.cfg, old).source
        with tracking(serving_setup.cfg):  # MLflow resolves a logged-model source in its global store
            created = client(serving_setup.cfg).create_model_version(
                "rollcure-bundle", source=source, run_id=trained_run.run_id
            )
        new = str(created.version)
        promote(serving_setup.cfg, new)
        try:
            swapped = c.post("/reload", json={}).json()
            assert swapped == {"previous_version": old, "model_version": new, "swapped": True}
            assert c.get("/metadata").json()["model_version"] == new
            r = c.post("/recommend", json={"cases": sample_payloads[:1]})
            assert r.json()[0]["model_version"] == new
        finally:
            promote(serving_setup.cfg, old)
            assert c.post("/reload", json={}).json()["model_version"] == old
