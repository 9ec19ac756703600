"""No leakage: rows stamped after as_of never change a case's features.

A hypothesis property test appends arbitrary rows stamped after a cutoff to every table (new cycles,
contacts, the action decided at the cutoff itself, flags raised later, new loans and borrowers) and
checks that the features of every case at or before the cutoff are unchanged.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.build import build_features
from features.cases import overdue_cases
from features.schemas import STATUS_CODE_MAX, STATUS_CODE_MIN
from rollcure.config.features import FeatureConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.domain import BUCKETS, CHANNELS, FLAGS, OUTCOMES, PARTIES, PRODUCTS

CFG = FeatureConfig()
N_LOANS = 150
SEED = 11
DAY = pd.Timedelta(days=1)


@pytest.fixture(scope="module")
def book(sim_small):
    """A slice of the simulated book: the first loans that ever go overdue."""
    t = sim_small.tables
    overdue = overdue_cases(t["cycles"])["loan_id"].drop_duplicates().sort_values().to_numpy()[:N_LOANS]
    loans = t["loans"][t["loans"]["loan_id"].isin(overdue)].reset_index(drop=True)
    out = {
        "loans": loans,
        "borrowers": t["borrowers"][t["borrowers"]["borrower_id"].isin(loans["borrower_id"])],
    }
    for name in ("cycles", "contacts", "actions"):
        out[name] = t[name][t[name]["loan_id"].isin(overdue)].reset_index(drop=True)
    # lender status codes (optional column), some unrecorded, so the status counts are exercised
    rng = np.random.default_rng(SEED)
    codes = rng.integers(STATUS_CODE_MIN, STATUS_CODE_MAX + 1, len(out["cycles"]))
    out["cycles"]["status_code"] = pd.array(codes, dtype="Int64")
    out["cycles"].loc[rng.random(len(codes)) < 0.05, "status_code"] = pd.NA
    dates = np.sort(out["cycles"]["cycle_date"].unique())
    return out, dates[2:-1]


def _rows(draw, n, loan_ids, cutoff, min_offset_s):
    loans = draw(st.lists(st.sampled_from(loan_ids), min_size=n, max_size=n))
    offsets = draw(st.lists(st.integers(min_offset_s, 400 * 86_400), min_size=n, max_size=n))
    return np.asarray(loans, dtype=np.int64), cutoff + pd.to_timedelta(offsets, unit="s")


@st.composite
def appended(draw, loan_ids: np.ndarray, cutoff: pd.Timestamp):
    """Arbitrary rows stamped after ``cutoff`` (actions: at or after it) for every table."""
    ids = [*loan_ids.tolist(), 10**9 + 1]  # existing loans and one the book has never seen
    amounts = st.floats(0, 1e6, allow_nan=False)
    n = draw(st.integers(1, 12))
    loan, when = _rows(draw, n, ids, cutoff, 1)
    dpd = np.asarray(draw(st.lists(st.integers(0, 400), min_size=n, max_size=n)), dtype=np.int64)
    cycles = pd.DataFrame({
        "loan_id": loan, "cycle_date": when.astype("datetime64[ns]"),
        "due_amount": draw(st.lists(amounts, min_size=n, max_size=n)),
        "paid_amount": draw(st.lists(amounts, min_size=n, max_size=n)),
        "balance": draw(st.lists(amounts, min_size=n, max_size=n)),
        "arrears": draw(st.lists(amounts, min_size=n, max_size=n)),
        "dpd": dpd, "bucket": pd.array(draw(st.lists(st.sampled_from(BUCKETS), min_size=n, max_size=n)),
                                       dtype="str"),
        "missed_instalments": dpd // 30,
        "status_code": pd.array(draw(st.lists(st.none() | st.integers(STATUS_CODE_MIN, STATUS_CODE_MAX),
                                              min_size=n, max_size=n)), dtype="Int64"),
    })  # fmt: skip
    m = draw(st.integers(1, 15))
    loan, when = _rows(draw, m, ids, cutoff, 1)
    ptp_shift = draw(st.lists(st.integers(-60, 60), min_size=m, max_size=m))
    contacts = pd.DataFrame({
        "loan_id": loan, "ts": when.astype("datetime64[ns]"),
        "channel": pd.array(draw(st.lists(st.sampled_from(CHANNELS), min_size=m, max_size=m)), dtype="str"),
        "party": pd.array(draw(st.lists(st.sampled_from(PARTIES), min_size=m, max_size=m)), dtype="str"),
        "outcome": pd.array(draw(st.lists(st.sampled_from(OUTCOMES), min_size=m, max_size=m)), dtype="str"),
        "ptp_amount": draw(st.lists(amounts, min_size=m, max_size=m)),
        "ptp_date": (when + pd.to_timedelta(ptp_shift, unit="D")).astype("datetime64[ns]"),
    })  # fmt: skip
    k = draw(st.integers(1, 8))
    loan, when = _rows(draw, k, ids, cutoff, 0)  # offset 0: the action decided at as_of (treatment)
    actions = pd.DataFrame({
        "loan_id": loan, "decided_at": when.astype("datetime64[ns]"),
        "action": pd.array(draw(st.lists(st.sampled_from(ACTIONS), min_size=k, max_size=k)), dtype="str"),
        "cost": draw(st.lists(amounts, min_size=k, max_size=k)),
        "propensity": draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)),
    })  # fmt: skip
    flag = draw(st.sampled_from(FLAGS))
    flag_after = cutoff + draw(st.integers(1, 400)) * DAY
    product = draw(st.sampled_from(PRODUCTS))
    return cycles, contacts, actions, flag, flag_after, product


def _append(tables, extra, cutoff):
    cycles, contacts, actions, flag, flag_after, product = extra
    out = {k: v.copy() for k, v in tables.items()}
    out["cycles"] = pd.concat([out["cycles"], cycles], ignore_index=True)
    out["contacts"] = pd.concat([out["contacts"], contacts], ignore_index=True)
    out["actions"] = pd.concat([out["actions"], actions], ignore_index=True)
    loans = out["loans"]
    unflagged = loans["flag_date"].isna()
    loans.loc[unflagged, flag] = True  # raised after the cutoff
    loans.loc[unflagged, "flag_date"] = flag_after
    new_loan = loans.iloc[[0]].assign(
        loan_id=10**9 + 1, borrower_id=10**9 + 7, origination_date=flag_after, product=product
    )
    out["loans"] = pd.concat([loans, new_loan], ignore_index=True)
    out["borrowers"] = pd.concat(
        [out["borrowers"], out["borrowers"].iloc[[0]].assign(borrower_id=10**9 + 7)], ignore_index=True
    )
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_rows_after_as_of_change_no_feature(book, data):
    tables, cutoffs = book
    cutoff = pd.Timestamp(data.draw(st.sampled_from(list(cutoffs))))
    cases = overdue_cases(tables["cycles"])
    cases = cases[cases["as_of"] <= cutoff].reset_index(drop=True)
    before = build_features(tables, cases, CFG)
    assert before["paid_in_full_cycles_6"].notna().any()  # the status counts are exercised too
    extra = data.draw(appended(tables["loans"]["loan_id"].to_numpy(), cutoff))
    after = build_features(_append(tables, extra, cutoff), cases, CFG)
    pd.testing.assert_frame_equal(after, before, check_exact=True)


def test_the_property_test_would_catch_a_leak(book):
    """Sanity check of the harness: a contact stamped *at* as_of does change the features."""
    tables, cutoffs = book
    cutoff = pd.Timestamp(cutoffs[-1])
    cases = overdue_cases(tables["cycles"], as_of=cutoff)
    before = build_features(tables, cases, CFG)
    leak = tables["contacts"].iloc[:0].copy()
    row = pd.DataFrame({
        "loan_id": cases["loan_id"].iloc[:1].to_numpy(), "ts": [cutoff], "channel": ["call"],
        "party": ["debtor"], "outcome": ["dispute"], "ptp_amount": [np.nan], "ptp_date": [pd.NaT],
    })  # fmt: skip
    leak = pd.concat([leak, row.astype(leak.dtypes.to_dict())])
    after = build_features({**tables, "contacts": pd.concat([tables["contacts"], leak])}, cases, CFG)
    assert after["disputes_90d"].iloc[0] == before["disputes_90d"].iloc[0] + 1
