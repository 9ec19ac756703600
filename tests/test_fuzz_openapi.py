"""Issue 16's fuzz bar: requests generated from the OpenAPI document and from the declared ranges,
in-process: 0 answers 5xx, and 0 accepted cases that break a declared invariant.

Two generators. schemathesis reads the corrected OpenAPI document (``serving.openapi``) and sends
schema-conforming and schema-violating requests to every operation (it refused BentoML's own
document). Its cases are large nested objects and slow to generate (~0.3 s each here), so it sends
a few hundred; the invariant generator sends the rest: real cases with fields moved across their
declared ranges and into impossible combinations, so that many are accepted. Every accepted case
is then checked against the invariants restated here (independently of ``features.payload_rules``,
so a rule dropped there fails here). Derandomised: CI sees the same requests every run.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import warnings
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

N_SCHEMA_PER_OPERATION = 40  # x 5 operations x 2 modes = 400 requests
N_INVARIANT = 1700
_SETTINGS = dict(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
#: How far ahead of the server's clock an as_of may lie (``ServingConfig.as_of_ahead_hours``).
AHEAD = dt.timedelta(hours=24)


def _when(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def broken_invariants(cases: list[dict], now: dt.datetime) -> list[str]:
    """The declared invariants an accepted request must satisfy, restated from the issue."""
    broken = []
    seen, borrowers, loans = set(), {}, {}
    for i, c in enumerate(cases):
        loan, borrower = c["loan"], c["borrower"]
        as_of, origination = _when(c["as_of"]), _when(loan["origination_date"])
        key = (loan["loan_id"], as_of)
        if key in seen:
            broken.append(f"{i}: duplicate loan and as_of")
        seen.add(key)
        if borrowers.setdefault(borrower["borrower_id"], borrower) != borrower:
            broken.append(f"{i}: one borrower, two records")
        if loans.setdefault(loan["loan_id"], loan) != loan:
            broken.append(f"{i}: one loan, two records")
        if as_of > now + AHEAD or as_of < origination or origination.year < 1900:
            broken.append(f"{i}: as_of {as_of} / origination {origination}")
        if loan["collateral_type"] == "none" and loan["collateral_value"] > 0:
            broken.append(f"{i}: collateral value without collateral")
        if not 0 < loan["principal"] <= 1e8:
            broken.append(f"{i}: principal {loan['principal']}")
        for flag in ("has_guarantor", "disputed", "deceased", "bankrupt", "fraud_suspected"):
            if flag in loan and not isinstance(loan[flag], bool):
                broken.append(f"{i}: {flag} not a boolean")
        for cy in c["cycles"]:
            d, m = cy["dpd"], cy["missed_instalments"]
            if not (0 <= d <= 10_000 and 0 <= m <= 600):
                broken.append(f"{i}: dpd {d} / missed {m} out of range")
            if (d == 0) != (m == 0) or (m > 0 and d <= (m - 1) * 28):
                broken.append(f"{i}: dpd {d} with {m} missed instalments")
            if cy["arrears"] > cy["balance"] + 0.01:
                broken.append(f"{i}: arrears above balance")
            if any(not 0 <= cy[k] <= 1e8 for k in ("due_amount", "paid_amount", "balance", "arrears")):
                broken.append(f"{i}: amount out of range")
            if _when(cy["cycle_date"]) > as_of or _when(cy["cycle_date"]) < origination:
                broken.append(f"{i}: cycle outside the loan's life up to as_of")
    return broken


# --- schemathesis, from the OpenAPI document --------------------------------------------------


def test_schemathesis_from_the_openapi_document_never_5xx(service_client):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import schemathesis
        from schemathesis.generation.modes import GenerationMode

    spec = service_client.get("/docs.json").json()
    schema = schemathesis.openapi.from_dict(spec)
    statuses: Counter = Counter()
    operations = [("/recommend", "POST"), ("/score", "POST"), ("/explain", "POST"), ("/reload", "POST")]
    operations.append(("/metadata", "GET"))

    def check(path: str, method: str, case) -> None:
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        kwargs: dict = {"headers": headers, "params": case.query or None}
        if method == "POST" and case.body is not None and not isinstance(case.body, bytes):
            kwargs["content"] = json.dumps(case.body, default=str).encode()
            headers.setdefault("content-type", case.media_type or "application/json")
        r = service_client.request(method, path, **kwargs)
        statuses[r.status_code] += 1
        assert r.status_code < 500, (path, str(case.body)[:300], r.text[:300])
        if r.status_code == 200 and path in ("/recommend", "/score", "/explain"):
            assert broken_invariants(case.body["cases"], dt.datetime.now()) == []

    def fuzz(path: str, method: str, mode: GenerationMode) -> None:
        @settings(max_examples=N_SCHEMA_PER_OPERATION, **_SETTINGS)
        @given(schema[path][method].as_strategy(generation_mode=mode))
        def run(case) -> None:
            check(path, method, case)

        run()

    for path, method in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(path, method, mode)
    assert sum(statuses.values()) >= 10 * N_SCHEMA_PER_OPERATION * 0.9
    assert statuses[400] > 0


# --- the invariant generator, from real cases and the declared ranges --------------------------

_EDGE_INTS = [0, 1, 27, 28, 29, 30, 31, 59, 61, 600, 601, 10_000, 10_001, 2**31, 2**62]
_EDGE_FLOATS = [0.0, 0.005, 1.0, 210.0, 1e6, 1e8, 1e8 + 1, 1e9, 5e6, 1e300]
_MOVES = ["dpd", "missed", "arrears", "paid", "collateral", "principal", "dates", "bool", "keep", "keep"]
_EDGE_DATES = ["1899-12-31T00:00:00", "1900-01-01T00:00:00", "1970-01-01T00:00:00", "2261-06-30T00:00:00"]


@st.composite
def moved_request(draw, payloads: list[dict]) -> tuple[str, list[dict]]:
    """One to three real cases with fields moved across their ranges or set against each other."""
    n = draw(st.integers(1, 3))
    cases = [copy.deepcopy(draw(st.sampled_from(payloads))) for _ in range(n)]
    for case in cases:
        cycle = draw(st.sampled_from(case["cycles"]))
        move = draw(st.sampled_from(_MOVES))
        if move == "dpd":
            cycle["dpd"] = draw(st.sampled_from(_EDGE_INTS))
            cycle.pop("bucket", None)
        elif move == "missed":
            cycle["missed_instalments"] = draw(st.sampled_from(_EDGE_INTS))
            cycle.pop("bucket", None)
        elif move == "arrears":
            cycle["arrears"] = cycle["balance"] + draw(st.sampled_from([-1.0, 0.0, 0.005, 0.02, 500.0]))
        elif move == "paid":
            cycle["paid_amount"] = draw(st.sampled_from(_EDGE_FLOATS))
        elif move == "collateral":
            case["loan"]["collateral_type"] = draw(st.sampled_from(["none", "property", "vehicle"]))
            case["loan"]["collateral_value"] = draw(st.sampled_from(_EDGE_FLOATS))
        elif move == "principal":
            case["loan"]["principal"] = draw(st.sampled_from(_EDGE_FLOATS))
        elif move == "dates":
            field = draw(st.sampled_from(["as_of", "origination_date"]))
            target = case if field == "as_of" else case["loan"]
            target[field] = draw(st.sampled_from([*_EDGE_DATES, case["cycles"][0]["cycle_date"]]))
        elif move == "bool":
            case["borrower"]["phone_verified"] = draw(st.sampled_from([True, False, "yes", 1, 0, "true"]))
    if n > 1 and draw(st.booleans()):  # the same loan or borrower again, maybe described otherwise
        twin = copy.deepcopy(cases[0])
        twin["cycles"][-1]["dpd"], twin["cycles"][-1]["missed_instalments"] = 0, 0
        twin["cycles"][-1].pop("bucket", None)
        cases[1] = twin if draw(st.booleans()) else {**cases[1], "borrower": cases[0]["borrower"]}
    return draw(st.sampled_from(["/score", "/score", "/recommend"])), cases


def test_invariant_fuzz_accepts_nothing_impossible(service_client, sample_payloads):
    statuses: Counter = Counter()

    @settings(max_examples=N_INVARIANT, **_SETTINGS)
    @given(moved_request(sample_payloads[:10]))
    def run(request: tuple[str, list[dict]]) -> None:
        endpoint, cases = request
        r = service_client.post(endpoint, json={"cases": cases})
        statuses[r.status_code] += 1
        assert r.status_code < 500, (endpoint, json.dumps(cases)[:400], r.text[:300])
        if r.status_code == 200:
            assert broken_invariants(cases, dt.datetime.now()) == [], r.text[:200]
            assert len(r.json()) == len(cases)
        else:
            assert r.json()["detail"][0]["loc"], r.text[:300]  # a 4xx names the field

    run()
    assert sum(statuses.values()) >= N_INVARIANT
    assert statuses[200] >= N_INVARIANT // 10 and statuses[400] >= N_INVARIANT // 10, statuses
