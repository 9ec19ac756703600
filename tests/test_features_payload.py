"""Train = serve: a case sent as a serving payload gets exactly the features training computed."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.build import build_features
from features.cases import overdue_cases
from features.payload import CasePayload, payloads_to_tables
from features.payload_from_tables import payloads_from_tables
from features.schemas import STATUS_CODE_MAX, STATUS_CODE_MIN
from rollcure.config.features import FeatureConfig
from rollcure.core.errors import InputError

CFG = FeatureConfig()
N_CASES = 1_000
SEED = 3


@pytest.fixture(scope="module")
def thousand_cases(sim_default):
    cases = overdue_cases(sim_default.tables["cycles"])
    assert len(cases) >= N_CASES
    pick = np.random.default_rng(SEED).choice(len(cases), N_CASES, replace=False)
    return cases.iloc[np.sort(pick)].reset_index(drop=True)


def test_thousand_cases_identical_both_ways(sim_default, thousand_cases):
    trained = build_features(sim_default.tables, thousand_cases, CFG)
    # through JSON, as a client would send them
    payloads = [
        CasePayload.model_validate_json(p.model_dump_json())
        for p in payloads_from_tables(sim_default.tables, thousand_cases)
    ]
    tables, cases = payloads_to_tables(payloads)
    served = build_features(tables, cases, CFG)
    pd.testing.assert_frame_equal(served, trained, check_exact=True)
    assert trained["contact_attempts_90d"].sum() > 0 and trained["actions_365d"].sum() > 0


def test_status_codes_identical_both_ways(sim_default, thousand_cases):
    """A book with the optional status_code (some unrecorded): served features equal trained ones."""
    cycles = sim_default.tables["cycles"]
    rng = np.random.default_rng(SEED)
    codes = pd.array(rng.integers(STATUS_CODE_MIN, STATUS_CODE_MAX + 1, len(cycles)), dtype="Int64")
    codes[rng.random(len(cycles)) < 0.02] = pd.NA
    book = {**sim_default.tables, "cycles": cycles.assign(status_code=codes)}
    cases = thousand_cases.iloc[:200]
    trained = build_features(book, cases, CFG)
    sent = payloads_from_tables(book, cases)
    payloads = [CasePayload.model_validate_json(p.model_dump_json()) for p in sent]
    served = build_features(*payloads_to_tables(payloads), CFG)
    pd.testing.assert_frame_equal(served, trained, check_exact=True)
    counts = trained["paid_in_full_cycles_6"]
    assert counts.notna().any() and counts.isna().any()


def test_one_case_at_a_time_matches_the_batch(sim_default, thousand_cases):
    trained = build_features(sim_default.tables, thousand_cases.iloc[:20], CFG)
    payloads = payloads_from_tables(sim_default.tables, thousand_cases.iloc[:20])
    singles = pd.concat([build_features(*payloads_to_tables([p]), CFG) for p in payloads], ignore_index=True)
    pd.testing.assert_frame_equal(singles, trained, check_exact=True)


def test_payload_carries_only_the_windows(sim_default, thousand_cases):
    p = payloads_from_tables(sim_default.tables, thousand_cases.iloc[:50])
    for payload in p:
        assert 1 <= len(payload.cycles) <= CFG.payload_cycles
        assert payload.cycles[-1].cycle_date == payload.as_of
        assert all(c.ts <= payload.as_of for c in payload.contacts or [])
        assert all(a.decided_at < payload.as_of for a in payload.actions or [])


def test_book_without_history_serves_nan(tiny_tables):
    book = {k: v for k, v in tiny_tables.items() if k not in ("contacts", "actions")}
    cases = overdue_cases(book["cycles"])
    (payload, *_) = payloads_from_tables(book, cases)
    assert payload.contacts is None and payload.actions is None
    X = build_features(*payloads_to_tables([payload]), CFG)
    assert np.isnan(X["contact_attempts_90d"].iloc[0]) and np.isnan(X["actions_365d"].iloc[0])


@pytest.fixture()
def payload(tiny_tables):
    return payloads_from_tables(tiny_tables, overdue_cases(tiny_tables["cycles"]).iloc[[1]])[0]


@pytest.mark.parametrize(
    "path, value, field",
    [
        (("loan", "product"), "pawn", "loan.product"),
        (("borrower", "bureau_score"), 1200, "borrower.bureau_score"),
        (("cycles", 0, "dpd"), -1, "cycles.0.dpd"),
        (("cycles", 0, "status_code"), 10, "cycles.0.status_code"),
        (("contacts", 0, "outcome"), "maybe", "contacts.0.outcome"),
        (("actions", 0, "action"), "jail", "actions.0.action"),
    ],
)
def test_bad_payload_names_the_field(payload, path, value, field):
    raw = payload.model_dump(mode="json")
    node = raw
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ValidationError) as info:
        CasePayload.model_validate(raw)
    assert field in {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}


def test_bucket_must_match_dpd(payload):
    raw = payload.model_dump(mode="json")
    raw["cycles"][0]["bucket"] = "M5"
    with pytest.raises(ValidationError, match="does not match dpd"):
        CasePayload.model_validate(raw)


def test_payload_without_cycle_at_as_of_is_rejected(payload):
    raw = payload.model_dump(mode="json")
    raw["cycles"] = raw["cycles"][:-1]
    with pytest.raises(InputError, match="cycles: no cycle row at as_of"):
        build_features(*payloads_to_tables([CasePayload.model_validate(raw)]), CFG)


def test_mixed_history_in_a_batch_is_rejected(payload):
    without = payload.model_copy(update={"contacts": None})
    with pytest.raises(InputError, match="payload.contacts"):
        payloads_to_tables([payload, without])


def _plain_tables(payloads: list[CasePayload]) -> dict[str, pd.DataFrame]:
    """Borrowers, loans and cycles the obvious way (records -> DataFrame -> contract dtypes ->
    drop_duplicates), to check the block-built tables against."""
    from features.schemas import TABLE_DTYPES
    from rollcure.core.domain import bucket_of

    borrowers = [p.borrower.model_dump() for p in payloads]
    loans = [{**p.loan.model_dump(), "borrower_id": p.borrower.borrower_id} for p in payloads]
    cycles = [
        {"loan_id": p.loan.loan_id, **c.model_dump(), "bucket": c.bucket or bucket_of([c.dpd])[0]}
        for p in payloads
        for c in p.cycles
    ]
    keys = {"borrowers": ["borrower_id"], "loans": ["loan_id"], "cycles": ["loan_id", "cycle_date"]}
    out = {}
    for name, records in (("borrowers", borrowers), ("loans", loans), ("cycles", cycles)):
        dtypes = TABLE_DTYPES[name]
        frame = pd.DataFrame(records)[list(dtypes)].astype(dtypes)
        out[name] = frame.drop_duplicates(keys[name], keep="last").reset_index(drop=True)
    return out


def test_tables_match_plain_pandas_with_repeated_loans(sim_default, thousand_cases):
    """Several as_of dates of the same loans (repeated borrowers, loans and overlapping cycles)."""
    cases = overdue_cases(sim_default.tables["cycles"])
    repeated = cases[cases["loan_id"].isin(cases["loan_id"].value_counts().index[:5])]
    payloads = payloads_from_tables(sim_default.tables, repeated.reset_index(drop=True))
    payloads += payloads_from_tables(sim_default.tables, thousand_cases.iloc[:3])
    tables, served_cases = payloads_to_tables(payloads)
    for name, expected in _plain_tables(payloads).items():
        pd.testing.assert_frame_equal(tables[name], expected, check_exact=True)
    expected_cases = pd.DataFrame(
        {
            "loan_id": [p.loan.loan_id for p in payloads],
            "as_of": pd.to_datetime([p.as_of for p in payloads]).astype("datetime64[ns]"),
        }
    ).astype({"loan_id": "int64"})
    pd.testing.assert_frame_equal(served_cases, expected_cases, check_exact=True)
