"""Issue 16: what cannot be true is refused with a 4xx naming the field, never scored or logged.

Each case here was answered 200 (and logged) or 500 before: two cases of one loan taking each
other's data, impossible values, unknown top-level fields, multipart bodies, oversized bodies, a
``{"force": 0}`` reload, and client errors logged at ERROR with the keys the client chose.
"""

from __future__ import annotations

import copy
import json
import logging
import sqlite3

import pytest

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pathspec.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:_bentoml_sdk.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:_bentoml_impl.*"),
]

_DROP = object()


def _set(doc: dict, path: tuple, value: object) -> dict:
    out = copy.deepcopy(doc)
    node = out
    for key in path[:-1]:
        node = node[key]
    if value is _DROP:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


def _logged(client) -> int:
    with sqlite3.connect(client.log_path) as con:
        return int(con.execute("select count(*) from decisions").fetchone()[0])


def _last_cycle(case: dict, **values: object) -> dict:
    out = copy.deepcopy(case)
    out["cycles"][-1].update(values)
    out["cycles"][-1].pop("bucket", None)
    return out


def test_two_cases_of_one_loan_that_disagree_are_refused(service_client, sample_payloads):
    """Defect 1: a 60-dpd case sent with a current case of the same loan id took its data."""
    late = sample_payloads[0]
    twin = _last_cycle(late, dpd=0, missed_instalments=0, arrears=0.0)  # the same loan, current
    before = _logged(service_client)
    r = service_client.post("/recommend", json={"cases": [late, twin]})
    assert r.status_code == 400, r.text
    assert "cases.1.loan.loan_id" in r.text and "appears twice" in r.text
    assert _logged(service_client) == before


def test_one_borrower_described_two_ways_is_refused(service_client, sample_payloads):
    a, b = copy.deepcopy(sample_payloads[0]), copy.deepcopy(sample_payloads[1])
    b["borrower"] = dict(a["borrower"], age=a["borrower"]["age"] + 7)
    r = service_client.post("/score", json={"cases": [a, b]})
    assert r.status_code == 400 and "cases.1.borrower" in r.text, r.text


def test_same_loan_at_two_dates_is_one_history_and_still_served(service_client, sample_payloads):
    """The declared meaning of a repeated loan id: one loan's history at several as-of dates."""
    # a case that was overdue a cycle earlier too, so both dates are cases
    case = next(p for p in sample_payloads if len(p["cycles"]) > 1 and p["cycles"][-2]["dpd"] > 0)
    earlier = copy.deepcopy(case)
    earlier["cycles"] = earlier["cycles"][:-1]
    earlier["as_of"] = earlier["cycles"][-1]["cycle_date"]
    r = service_client.post("/score", json={"cases": [earlier, case]})
    assert r.status_code == 200, r.text
    answers = r.json()
    assert [a["loan_id"] for a in answers] == [case["loan"]["loan_id"]] * 2
    assert answers[0]["as_of"] != answers[1]["as_of"]


@pytest.mark.parametrize(
    ("mutate", "status", "where"),
    [
        (lambda c: _last_cycle(c, dpd=2**62), 400, "dpd"),
        (lambda c: _set(c, ("as_of",), "2261-06-30T00:00:00"), 422, "as_of"),
        (lambda c: _set(c, ("as_of",), "1990-01-31T00:00:00"), 400, "as_of"),  # before origination
        (lambda c: _set(c, ("loan", "origination_date"), "1700-01-01T00:00:00"), 400, "origination_date"),
        (lambda c: _last_cycle(c, dpd=0, missed_instalments=40), 400, "dpd"),
        (lambda c: _last_cycle(c, arrears=c["cycles"][-1]["balance"] + 500.0), 400, "arrears"),
        (lambda c: _last_cycle(c, paid_amount=1e9), 400, "paid_amount"),
        (
            lambda c: _set(_set(c, ("loan", "collateral_type"), "none"), ("loan", "collateral_value"), 5e6),
            400,
            "collateral_value",
        ),
        (lambda c: _set(c, ("borrower", "phone_verified"), "yes"), 400, "phone_verified"),
        (lambda c: _set(c, ("loan", "has_guarantor"), 1), 400, "has_guarantor"),
        (lambda c: _set(c, ("loan", "principal"), 1e300), 400, "principal"),
        (lambda c: _set(c, ("borrower", "monthly_income"), 1e12), 400, "monthly_income"),
    ],
)
@pytest.mark.parametrize("endpoint", ["/recommend", "/score"])
def test_impossible_input_is_refused_naming_the_field(
    service_client, sample_payloads, mutate, status, where, endpoint
):
    """Defect 2: each of these was scored, answered 200 and logged."""
    before = _logged(service_client)
    r = service_client.post(endpoint, json={"cases": [mutate(sample_payloads[0])]})
    assert r.status_code == status, r.text
    assert where in r.text
    assert _logged(service_client) == before


def test_unknown_top_level_field_is_400_naming_it(service_client, sample_payloads):
    r = service_client.post("/score", json={"cases": sample_payloads[:1], "priority": "high"})
    assert r.status_code == 400, r.text
    assert r.json()["detail"][0]["loc"] == ["priority"]


@pytest.mark.parametrize("endpoint", ["/recommend", "/score", "/explain", "/reload"])
@pytest.mark.parametrize(
    "content_type", ["multipart/form-data; boundary=xyz", "text/plain", "application/x-www-form-urlencoded"]
)
def test_other_media_types_are_415(service_client, endpoint, content_type):
    """Defect 3: any multipart POST answered 500."""
    body = b'--xyz\r\nContent-Disposition: form-data; name="cases"\r\n\r\n[]\r\n--xyz--\r\n'
    r = service_client.post(endpoint, content=body, headers={"content-type": content_type})
    assert r.status_code == 415, r.text
    assert r.json()["detail"][0]["loc"] == ["header", "content-type"]


def test_multipart_with_files_is_415(service_client):
    r = service_client.post("/recommend", files={"cases": ("c.json", b"[]", "application/json")})
    assert r.status_code == 415


def test_body_over_the_limit_is_413_before_parsing(service_client, sample_payloads):
    """Defect 7: a 20 MB body was parsed whole before its 413; now it is cut off at the limit."""
    from rollcure.config.serving import ServingConfig

    limit = ServingConfig().max_body_bytes
    case = json.dumps(sample_payloads[0]).encode()
    body = b'{"cases": [' + b",".join([case] * (20_000_000 // len(case))) + b"]}"
    assert len(body) > limit
    r = service_client.post("/recommend", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and "max_body_bytes" in r.text

    def chunks():  # no Content-Length: counted as it arrives
        for i in range(0, len(body), 1 << 20):
            yield body[i : i + (1 << 20)]

    r = service_client.post("/score", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize("force", [0, 1, "yes", "true", None])
def test_reload_force_must_be_a_json_boolean(service_client, force):
    r = service_client.post("/reload", json={"force": force})
    assert r.status_code == 400 and "force" in r.text, r.text


def test_reload_refuses_unknown_fields(service_client):
    r = service_client.post("/reload", json={"force": False, "alias": "x"})
    assert r.status_code == 400


def test_client_errors_are_logged_at_info_with_paths_but_not_client_keys(
    service_client, sample_payloads, caplog
):
    """Defect 9: every client 400 was logged at ERROR, with the JSON keys the client sent."""
    secret_key = "Jane Doe +44 7700 900123"
    bad = _set(sample_payloads[0], ("borrower", secret_key), 1)
    bad = _set(bad, ("loan", "principal"), -5.0)
    with caplog.at_level(logging.DEBUG):
        r = service_client.post("/score", json={"cases": [bad]})
    assert r.status_code == 400
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    assert secret_key not in text and "-5.0" not in text
    rejected = [rec for rec in caplog.records if "ValidationError" in rec.getMessage()]
    assert rejected and all(rec.levelno == logging.INFO for rec in rejected)
    assert "cases.0.loan.principal" in rejected[0].getMessage()
    assert "cases.0.borrower.<extra>" in rejected[0].getMessage()


def test_openapi_is_3_1_with_every_status_and_the_bearer_scheme(service_client):
    """Defect 9: 3.0.2 declared with 3.1 nullables, ``detail`` a string, statuses and auth missing."""
    spec = service_client.get("/docs.json").json()
    assert spec["openapi"] == "3.1.0"
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "ROLLCURE_API_TOKEN",
    }
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
    recommend = spec["paths"]["/recommend"]["post"]["responses"]
    assert {"200", "400", "401", "413", "415", "422", "429", "503"} <= set(recommend)
    assert "409" in spec["paths"]["/reload"]["post"]["responses"]
    for name in ("Error", "InvalidArgument"):
        assert spec["components"]["schemas"][name]["properties"]["detail"]["type"] == "array"
    body = spec["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False  # unknown top-level fields are refused
    force = spec["paths"]["/reload"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert force["properties"]["force"]["type"] == "boolean"
