"""Unit tests of the simulator: table contracts, determinism, DPD/bucket/arrears consistency."""

from __future__ import annotations

import pandas as pd
import pytest

from features.schemas import TABLE_DTYPES
from rollcure.core.catalogue import ACTIONS
from rollcure.core.domain import BUCKETS, CHANNELS, OUTCOMES, PARTIES, PRODUCTS, bucket_of
from simulation import SimulationConfig, simulate

#: The contract (docs/interfaces.md) as `validate_tables` enforces it.
DTYPES = TABLE_DTYPES


@pytest.mark.parametrize("table", list(DTYPES))
def test_tables_have_the_documented_columns_and_dtypes(sim_small, table):
    frame = sim_small.tables[table]
    assert len(frame) > 0
    assert {c: str(t) for c, t in frame.dtypes.items()} == DTYPES[table]


def test_vocabularies_come_from_the_domain(sim_small):
    t = sim_small.tables
    assert set(t["loans"]["product"]) <= set(PRODUCTS)
    assert set(t["cycles"]["bucket"]) <= set(BUCKETS)
    assert set(t["actions"]["action"]) <= set(ACTIONS)
    assert set(t["contacts"]["channel"]) <= set(CHANNELS)
    assert set(t["contacts"]["party"]) <= set(PARTIES)
    assert set(t["contacts"]["outcome"]) <= set(OUTCOMES)


def test_keys_are_unique_and_reference_each_other(sim_small):
    t = sim_small.tables
    assert t["borrowers"]["borrower_id"].is_unique
    assert t["loans"]["loan_id"].is_unique
    assert not t["cycles"].duplicated(["loan_id", "cycle_date"]).any()
    assert not t["actions"].duplicated(["loan_id", "decided_at"]).any()
    assert t["loans"]["borrower_id"].isin(t["borrowers"]["borrower_id"]).all()
    for name in ("cycles", "contacts", "actions"):
        assert t[name]["loan_id"].isin(t["loans"]["loan_id"]).all(), name


def test_two_runs_with_one_seed_are_identical_and_another_seed_differs():
    cfg = SimulationConfig(accounts=300, months=4)
    a, b, c = simulate(cfg, seed=5), simulate(cfg, seed=5), simulate(cfg, seed=6)
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
    for name in a.truth:
        pd.testing.assert_frame_equal(a.truth[name], b.truth[name])
    assert not a.tables["cycles"]["paid_amount"].equals(c.tables["cycles"]["paid_amount"])


def test_dpd_bucket_arrears_and_missed_instalments_agree(sim_small):
    cyc = sim_small.tables["cycles"]
    assert (cyc["bucket"].to_numpy() == bucket_of(cyc["dpd"])).all()
    assert ((cyc["dpd"] > 0) == (cyc["arrears"] > 0)).all()
    assert ((cyc["missed_instalments"] > 0) == (cyc["dpd"] > 0)).all()
    assert (cyc["arrears"] <= cyc["balance"] + 0.01).all()
    assert (cyc[["due_amount", "paid_amount", "balance", "arrears"]] >= 0).all().all()


def test_dpd_grows_at_most_one_cycle_per_month_and_resets_only_when_arrears_clear(sim_small):
    cyc = sim_small.tables["cycles"].sort_values(["loan_id", "cycle_date"])
    prev = cyc.groupby("loan_id")[["dpd", "missed_instalments"]].shift(1)
    has_prev = prev["dpd"].notna()
    step = (cyc["dpd"] - prev["dpd"])[has_prev]
    assert step.max() == 30
    missed_step = (cyc["missed_instalments"] - prev["missed_instalments"])[has_prev]
    assert missed_step.max() == 1
    zero_paid = has_prev & (cyc["paid_amount"] == 0) & (prev["dpd"] > 0)
    assert ((cyc["dpd"] - prev["dpd"])[zero_paid] == 30).all()


def test_flags_are_rare_single_and_dated_inside_the_window(sim_default):
    loans, cyc = sim_default.tables["loans"], sim_default.tables["cycles"]
    flags = loans[["disputed", "deceased", "bankrupt", "fraud_suspected"]]
    flagged = flags.any(axis=1)
    assert (flags.sum(axis=1) <= 1).all()
    assert 0 < flagged.mean() < 0.03
    assert loans.loc[flagged, "flag_date"].notna().all() and loans.loc[~flagged, "flag_date"].isna().all()
    assert loans.loc[flagged, "flag_date"].between(cyc["cycle_date"].min(), cyc["cycle_date"].max()).all()
    span = cyc.groupby("loan_id")["cycle_date"].agg(["min", "max"])
    dated = loans.loc[flagged].join(span, on="loan_id")
    assert dated["flag_date"].between(dated["min"], dated["max"]).all()  # flagged while in the book


def test_every_loan_starts_after_its_origination_and_leaves_only_when_repaid_or_charged_off(sim_default):
    cyc = sim_default.tables["cycles"].merge(sim_default.tables["loans"], on="loan_id")
    assert (cyc["cycle_date"] > cyc["origination_date"]).all()
    last = cyc.sort_values("cycle_date").groupby("loan_id").tail(1)
    gone = last[last["cycle_date"] < cyc["cycle_date"].max()]
    repaid = gone["balance"] == 0
    charged_off = gone["missed_instalments"] >= sim_default.config.writeoff_after_missed
    sold = gone["collateral_type"] != "none"  # collateral sold after a court ruling, shortfall charged off
    assert (repaid | charged_off | sold).all()
    assert repaid.mean() > 0.8


def test_truth_tables_cover_every_cycle_and_case(sim_small):
    bm, cs = sim_small.truth["borrower_months"], sim_small.truth["case_states"]
    assert len(bm) == len(sim_small.tables["cycles"])
    assert bm[["ability", "willingness"]].stack().between(0, 1).all()
    assert (cs["missed"] > 0).all()


def test_every_overdue_cycle_is_a_case_unless_it_is_charged_off(sim_default):
    cs, cyc = sim_default.truth["case_states"], sim_default.tables["cycles"]
    overdue = cyc[cyc["dpd"] > 0].merge(
        cs[["loan_id", "as_of"]],
        left_on=["loan_id", "cycle_date"],
        right_on=["loan_id", "as_of"],
        how="left",
        indicator=True,
    )
    assert len(cs) == (overdue["_merge"] == "both").sum()
    no_case = overdue[overdue["_merge"] == "left_only"]
    assert (no_case["missed_instalments"] >= sim_default.config.writeoff_after_missed).all()


@pytest.mark.parametrize("seed", [-1, 1.5, "7"])
def test_a_bad_seed_is_an_input_error(seed):
    from rollcure.core.errors import InputError

    with pytest.raises(InputError, match="seed"):
        simulate(SimulationConfig(accounts=10, months=3), seed=seed)


def test_progress_is_reported_once_per_month_including_burn_in():
    calls = []
    cfg = SimulationConfig(accounts=50, months=3, burn_in_months=2)
    simulate(cfg, seed=1, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(k, 5) for k in range(1, 6)]


def _effects_with(**changes: dict) -> dict:
    """The catalogue's effects as config data, with some actions' fields changed."""
    from rollcure.core.catalogue import CATALOGUE

    effects = {a.name: a.simulation.model_dump() for a in CATALOGUE.actions}
    for name, update in changes.items():
        effects[name].update(update)
    return effects


@pytest.mark.parametrize(
    ("section", "match"),
    [
        ({"latent": {"flag_rates": {"hacked": 0.01}}}, r"unknown flags \['hacked'\] \(allowed: disputed"),
        ({"latent": {"flag_rates": {"deceased": 0.2}}}, r"flag rates must be in \[0, 0.1\]"),
        ({"latent": {"shock_onset": {"boss": 0.1}}}, r"unknown employments \['boss'\] \(allowed: salaried"),
        ({"latent": {"shock_onset": {"retired": 1.5}}}, r"probabilities must be in \[0, 1\]"),
        (
            {"effects": _effects_with(reminder={"logging_weights": {"M9": 1.0}})},
            r"unknown bucket\(s\) \['M9'\]",
        ),
        ({"effects": {"none": {}}}, r"needs exactly the catalogue's actions, in order"),
        ({"product_mix": {"card": -1.0}}, r"weights must be >= 0"),
    ],
)
def test_bad_world_parameters_are_rejected_naming_the_allowed_values(section, match):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=match):
        SimulationConfig.model_validate(section)
