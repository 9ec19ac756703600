"""The cross-field rules of a case (``features.payload_rules``), the ranges declared once in
``features.schemas``, and the failed-authentication limit, without a model."""

from __future__ import annotations

import copy

import pytest
from fixtures_serving import TestClient
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from features.payload import CasePayload
from features.payload_rules import case_problems, request_problems
from features.schemas import MAX_AMOUNT, MAX_DPD, SCHEMAS, TableValidationError, validate_tables
from rollcure.core.domain import dpd_matches_missed
from serving.auth import AUTH_WINDOW_S, BearerAuthMiddleware
from serving.examples import EXAMPLE_CASE


def _case(**changes: object) -> dict:
    out = copy.deepcopy(EXAMPLE_CASE)
    for path, value in changes.items():
        node = out
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[int(k)] if k.lstrip("-").isdigit() else node[k]
        node[keys[-1]] = value
    return out


def test_the_example_case_breaks_no_rule():
    assert list(case_problems(CasePayload.model_validate(EXAMPLE_CASE))) == []


@pytest.mark.parametrize(
    ("dpd", "missed", "ok"),
    [
        (0, 0, True),
        (0, 1, False),
        (5, 0, False),
        (25, 1, True),
        (57, 2, True),
        (20, 2, False),
        (400, 3, True),
    ],
)
def test_dpd_matches_missed(dpd, missed, ok):
    assert bool(dpd_matches_missed(dpd, missed)) is ok


def test_the_ranges_are_the_tables_ranges():
    """One declaration: the pandera schema and the request model refuse the same amount."""

    def upper(table: str, column: str) -> float:
        (bound,) = [
            c.statistics["max_value"]
            for c in SCHEMAS[table].columns[column].checks
            if c.name == "less_than_or_equal_to"
        ]
        return bound

    assert upper("cycles", "balance") == MAX_AMOUNT and upper("loans", "collateral_value") == MAX_AMOUNT
    assert upper("cycles", "dpd") == MAX_DPD
    with pytest.raises(ValidationError, match="balance"):
        CasePayload.model_validate(_case(cycles__0__balance=MAX_AMOUNT * 10))


def test_each_cross_field_rule_names_its_field():
    last = len(EXAMPLE_CASE["cycles"]) - 1
    cases = {
        "loan.collateral_value": _case(loan__collateral_value=5e6),
        "as_of": _case(as_of="2020-01-31T00:00:00"),
        f"cycles.{last}.arrears": _case(**{f"cycles__{last}__arrears": 1e7}),
    }
    for where, raw in cases.items():
        with pytest.raises(ValidationError, match=where.replace(".", r"\.")):
            CasePayload.model_validate(raw)


def test_request_problems_find_duplicates_and_disagreeing_borrowers():
    a = CasePayload.model_validate(EXAMPLE_CASE)
    b = a.model_copy(deep=True)
    assert [p for p, _ in request_problems([a, b])] == ["1.loan.loan_id"]
    c = a.model_copy(update={"loan": a.loan.model_copy(update={"loan_id": 2})}, deep=True)
    c = c.model_copy(update={"borrower": a.borrower.model_copy(update={"age": 70})})
    assert [p for p, _ in request_problems([a, c])] == ["1.borrower"]


def test_tables_are_held_to_the_same_rules(sim_small):
    tables = {k: v.copy() for k, v in sim_small.tables.items()}
    cycles = tables["cycles"]
    row = cycles.index[cycles["missed_instalments"] > 0][0]
    cycles.loc[row, ["dpd", "bucket"]] = (0, "M0")
    loans = tables["loans"]
    loans.loc[loans.index[loans["collateral_type"] == "none"][0], "collateral_value"] = 5e6
    with pytest.raises(TableValidationError) as err:
        validate_tables(tables)
    assert "cycles.dpd" in str(err.value) and "loans.collateral_value" in str(err.value)


def test_failed_authentications_are_rate_limited():
    now = [1000.0]

    async def ok(_request):
        return PlainTextResponse("ok")

    app = Starlette(routes=[Route("/score", ok, methods=["POST"])])
    app.add_middleware(BearerAuthMiddleware, token="right", failures_per_minute=3, clock=lambda: now[0])
    c = TestClient(app)
    wrong, right = {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer right"}
    assert [c.post("/score", headers=wrong).status_code for _ in range(3)] == [401, 401, 401]
    limited = c.post("/score", headers=right)
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    now[0] += AUTH_WINDOW_S + 1
    assert c.post("/score", headers=right).status_code == 200
    assert c.post("/score", headers=wrong).status_code == 401
