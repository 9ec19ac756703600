"""Labels: roll-forward, cure, next bucket and recovered amount; unobserved outcomes excluded."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.cases import overdue_cases
from features.dataset import build_dataset
from features.labels import build_labels, horizon_end
from rollcure.config.features import FeatureConfig
from rollcure.core.domain import bucket_index


def test_labels_by_hand(tiny_tables):
    cases = overdue_cases(tiny_tables["cycles"])
    labels, excluded = build_labels(tiny_tables["cycles"], cases, horizon_days=90)
    # 31 Mar: April is M2 (roll), recovered Apr+May+Jun = 300; 30 Apr needs July (unseen);
    # 30 Jun has no next cycle
    assert excluded == 2
    row = labels.iloc[0]
    assert (row["loan_id"], row["as_of"]) == (10, pd.Timestamp("2024-03-31"))
    assert (row["roll_forward"], row["cure"], row["next_bucket"]) == (True, False, "M2")
    assert row["recovered_amount"] == pytest.approx(300.0)


def test_shorter_horizon_labels_more_cases(tiny_tables):
    labels, excluded = build_labels(tiny_tables["cycles"], overdue_cases(tiny_tables["cycles"]), 30)
    assert excluded == 1
    cured = labels.set_index("as_of").loc[pd.Timestamp("2024-04-30")]
    assert (cured["cure"], cured["roll_forward"], cured["next_bucket"]) == (True, False, "M0")
    assert cured["recovered_amount"] == pytest.approx(300.0)


def test_horizon_is_whole_cycles():
    ends = horizon_end(pd.to_datetime(["2024-01-31", "2024-11-30"]).to_numpy(), 90)
    assert list(pd.to_datetime(ends)) == [pd.Timestamp("2024-04-30"), pd.Timestamp("2025-02-28")]


def test_simulated_labels_follow_the_domain(sim_small, sim_small_cases):
    cycles = sim_small.tables["cycles"]
    labels, excluded = build_labels(cycles, sim_small_cases, FeatureConfig().horizon_days)
    assert len(labels) + excluded == len(sim_small_cases) and excluded > 0 and len(labels) > 100
    # the next cycle, found independently with a groupby shift
    c = cycles.sort_values(["loan_id", "cycle_date"])
    c = c.assign(next_dpd=c.groupby("loan_id")["dpd"].shift(-1)).rename(columns={"cycle_date": "as_of"})
    merged = labels.merge(c[["loan_id", "as_of", "dpd", "next_dpd"]], on=["loan_id", "as_of"])
    assert len(merged) == len(labels) and merged["next_dpd"].notna().all()
    now, nxt = bucket_index(merged["dpd"]), bucket_index(merged["next_dpd"].astype(int))
    assert (merged["roll_forward"].to_numpy() == (nxt > now)).all()
    assert (merged["cure"].to_numpy() == (merged["next_dpd"] == 0).to_numpy()).all()
    assert (merged["next_bucket"].cat.codes.to_numpy() == nxt).all()
    assert labels["roll_forward"].any() and labels["cure"].any()
    assert (labels["recovered_amount"] >= 0).all()
    # the last cycles of the book cannot see their horizon: no label may come from them
    assert (pd.to_datetime(labels["as_of"]) < cycles["cycle_date"].max()).all()


def test_exactly_the_unobserved_cases_are_excluded(sim_small, sim_small_cases):
    """Found independently: a case is labelled iff the loan has a row at the next month end and the
    90-day window ends inside the book; every other case is excluded, never labelled 0."""
    cycles = sim_small.tables["cycles"]
    labels, excluded = build_labels(cycles, sim_small_cases, 90)
    cases = sim_small_cases.assign(nxt=sim_small_cases["as_of"] + pd.offsets.MonthEnd(1))
    rows = cycles[["loan_id", "cycle_date"]].rename(columns={"cycle_date": "nxt"}).assign(has_next=True)
    cases = cases.merge(rows, on=["loan_id", "nxt"], how="left")
    ends = pd.to_datetime(horizon_end(cases["as_of"].to_numpy(dtype="datetime64[ns]"), 90))
    seen = np.asarray(ends <= cycles["cycle_date"].max())
    has_next = cases["has_next"].fillna(False).astype(bool).to_numpy()
    observable = has_next & seen
    expected = cases.loc[observable, ["loan_id", "as_of"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(labels[["loan_id", "as_of"]].reset_index(drop=True), expected)
    assert excluded == (~observable).sum() > 0


def test_dataset_rows_align(sim_small):
    ds = build_dataset(sim_small.tables, FeatureConfig())
    assert len(ds.X) == len(ds.labels) == len(ds.cases)
    assert (ds.X[["loan_id", "as_of"]].to_numpy() == ds.labels[["loan_id", "as_of"]].to_numpy()).all()
    assert ds.excluded == len(overdue_cases(sim_small.tables["cycles"])) - len(ds.cases)
    assert 0.05 < ds.labels["roll_forward"].mean() < 0.8 and 0.05 < ds.labels["cure"].mean() < 0.9


def test_a_gap_in_the_book_is_not_a_next_cycle(tiny_tables):
    """Loan 10 without its April row: the March case's next row is May (cured), two cycles on.
    Labelling it would call a two-step M1 -> M2 -> M0 path a one-cycle cure; it is excluded."""
    cycles = tiny_tables["cycles"]
    cycles = cycles[~((cycles["loan_id"] == 10) & (cycles["cycle_date"] == "2024-04-30"))]
    cases = pd.DataFrame({"loan_id": [10], "as_of": pd.to_datetime(["2024-03-31"])})
    labels, excluded = build_labels(cycles, cases, horizon_days=30)
    assert (len(labels), excluded) == (0, 1)
    full, excluded_full = build_labels(tiny_tables["cycles"], cases, horizon_days=30)
    assert (len(full), excluded_full) == (1, 0) and bool(full["roll_forward"].iloc[0])
