"""Fuzzing the HTTP API in-process: at least 2,000 generated requests, never a 5xx.

Two generators. The structural one breaks requests the way clients do (dropped or extra fields,
wrong JSON types, unknown enum values, negative or huge numbers, impossible dates, empty and
oversized batches, bytes that are not JSON) and mostly exercises validation. The semantic one
keeps every field well-typed but makes the case odd (histories out of order, events after the
as-of date, zero balances, flags without dates, extreme amounts), so requests reach the feature
and model code. Derandomised, so CI sees the same requests every run.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pathspec.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:_bentoml_sdk.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:_bentoml_impl.*"),
]

N_STRUCTURAL = 1800
N_SEMANTIC = 200
ENDPOINTS = ("/recommend", "/score", "/explain")
_SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "2025-02-30", "0001-01-01T00:00:00", "9999-12-31T23:59:59", "M9", "yacht", "NaN"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _paths(node: object, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path into a JSON document (dict keys and list positions)."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _set(doc: object, path: tuple, value: object, drop: bool = False) -> None:
    node = doc
    for key in path[:-1]:
        node = node[key]
    if drop:
        del node[path[-1]]
    else:
        node[path[-1]] = value


@st.composite
def structural_requests(draw, payloads: list[dict]) -> tuple[str, bytes]:
    endpoint = draw(st.sampled_from(ENDPOINTS))
    kind = draw(st.sampled_from(["mutate", "mutate", "mutate", "raw", "batch", "envelope", "tokens"]))
    if kind == "raw":
        return endpoint, draw(st.binary(max_size=64))
    if kind == "tokens":  # JSON extensions Python emits: NaN, Infinity
        case = copy.deepcopy(payloads[0])
        case["loan"][draw(st.sampled_from(["principal", "instalment", "collateral_value"]))] = draw(
            st.sampled_from([float("nan"), float("inf"), float("-inf")])
        )
        return endpoint, json.dumps({"cases": [case]}).encode()
    if kind == "envelope":
        return endpoint, json.dumps(
            {draw(st.sampled_from(["cases", "case", ""])): draw(json_values)}
        ).encode()
    if kind == "batch":
        n = draw(st.sampled_from([0, 11, 12]))  # empty or over the limit of 10
        return endpoint, json.dumps({"cases": [payloads[0]] * n}).encode()
    case = copy.deepcopy(draw(st.sampled_from(payloads)))
    for _ in range(draw(st.integers(1, 3))):
        paths = list(_paths(case))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["drop", "replace", "negate"]))
        try:
            if action == "drop":
                _set(case, path, None, drop=True)
            elif action == "negate":
                _set(case, path, -abs(draw(st.floats(min_value=0.001, max_value=1e12))))
            else:
                _set(case, path, draw(json_values))
        except (KeyError, IndexError, TypeError):
            continue  # the path vanished under an earlier mutation
    if draw(st.booleans()):
        case[draw(st.sampled_from(["extra", "loan_id", "as_of"]))] = draw(json_scalars)
    return endpoint, json.dumps({"cases": [case]}).encode()


def _shift_date(value: str, days: int) -> str:
    import pandas as pd

    return (pd.Timestamp(value) + pd.Timedelta(days=days)).isoformat()


@st.composite
def odd_case(draw, payloads: list[dict]) -> dict:
    """A well-typed case with an odd but possible (or subtly impossible) history."""
    case = copy.deepcopy(draw(st.sampled_from(payloads)))
    trick = draw(
        st.sampled_from(
            [
                "reverse_cycles",
                "shift_as_of",
                "future_contact",
                "ptp_before_contact",
                "flag_without_date",
                "flag_before_origination",
                "origination_after_as_of",
                "zero_money",
                "huge_money",
                "drop_history",
                "single_cycle",
                "future_action",
                "mismatched_bucket",
            ]
        )
    )
    days = draw(st.integers(-400, 400))
    money = draw(st.floats(min_value=0, max_value=1e15, allow_nan=False))
    cycles, loan = case["cycles"], case["loan"]
    if trick == "reverse_cycles":
        cycles.reverse()
    elif trick == "shift_as_of":
        case["as_of"] = _shift_date(case["as_of"], days)
    elif trick == "future_contact":
        case["contacts"] = (case["contacts"] or []) + [
            {"ts": _shift_date(case["as_of"], abs(days) + 1), "channel": "call", "party": "debtor",
             "outcome": "promise_to_pay", "ptp_amount": money, "ptp_date": _shift_date(case["as_of"], 5)}
        ]  # fmt: skip
    elif trick == "ptp_before_contact":
        case["contacts"] = (case["contacts"] or []) + [
            {"ts": case["as_of"], "channel": "visit", "party": "family", "outcome": "promise_to_pay",
             "ptp_amount": money, "ptp_date": _shift_date(case["as_of"], -abs(days) - 1)}
        ]  # fmt: skip
    elif trick == "flag_without_date":
        loan[draw(st.sampled_from(["disputed", "deceased", "bankrupt", "fraud_suspected"]))] = True
        loan["flag_date"] = None
    elif trick == "flag_before_origination":
        loan["fraud_suspected"] = True
        loan["flag_date"] = _shift_date(loan["origination_date"], -abs(days) - 1)
    elif trick == "origination_after_as_of":
        loan["origination_date"] = _shift_date(case["as_of"], abs(days) + 1)
    elif trick == "zero_money":
        for c in cycles:
            c.update(due_amount=0.0, paid_amount=0.0, balance=0.0, arrears=0.0)
        loan["instalment"] = 0.0
        case["borrower"]["monthly_income"] = 0.0
    elif trick == "huge_money":
        for c in cycles:
            c.update(due_amount=money, balance=money, arrears=money)
        loan["principal"] = max(money, 1.0)
    elif trick == "drop_history":
        case["contacts"], case["actions"] = None, None
    elif trick == "single_cycle":
        case["cycles"] = cycles[-1:]
    elif trick == "future_action":
        case["actions"] = (case["actions"] or []) + [
            {"decided_at": _shift_date(case["as_of"], abs(days)), "action": "litigation", "cost": money}
        ]
    elif trick == "mismatched_bucket":
        cycles[-1]["bucket"] = "M0"
    return case


def test_structural_fuzz_never_5xx(service_client, sample_payloads):
    statuses: list[int] = []

    @settings(max_examples=N_STRUCTURAL, **_SETTINGS)
    @given(structural_requests(sample_payloads[:8]))
    def run(request: tuple[str, bytes]) -> None:
        endpoint, body = request
        r = service_client.post(endpoint, content=body, headers={"content-type": "application/json"})
        statuses.append(r.status_code)
        assert r.status_code < 500, (endpoint, body[:300], r.text[:300])
        if r.status_code >= 400:
            assert "error" in r.text  # a message, never an empty 4xx

    run()
    assert len(statuses) >= N_STRUCTURAL
    assert sum(400 <= s < 500 for s in statuses) > N_STRUCTURAL // 2  # it really did send bad input


def test_semantic_fuzz_never_5xx(service_client, sample_payloads):
    statuses: list[int] = []

    @settings(max_examples=N_SEMANTIC, **_SETTINGS)
    @given(st.lists(odd_case(sample_payloads[:8]), min_size=1, max_size=4), st.sampled_from(ENDPOINTS))
    def run(cases: list[dict], endpoint: str) -> None:
        r = service_client.post(endpoint, json={"cases": cases})
        statuses.append(r.status_code)
        assert r.status_code < 500, (endpoint, json.dumps(cases)[:500], r.text[:300])

    run()
    assert len(statuses) >= N_SEMANTIC
    assert any(s == 200 for s in statuses) and any(400 <= s < 500 for s in statuses)
