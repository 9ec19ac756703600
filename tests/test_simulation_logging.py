"""The logging policy (propensities, eligibility) and the collectors' contact history."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rollcure.core.catalogue import ACTIONS
from rollcure.core.domain import bucket_index
from simulation.dynamics import FLAG_DECEASED, FLAG_FRAUD
from simulation.logging_policy import choose, eligibility, propensities
from simulation.oracle import state_of_cases

A_NONE, A_RESTRUCTURING, A_OUTSOURCING, A_LITIGATION = (
    ACTIONS.index(a) for a in ("none", "restructuring", "outsourcing", "litigation")
)


@pytest.fixture(scope="module")
def cases(sim_small):
    return sim_small.truth["case_states"]


def test_propensities_are_a_distribution_positive_exactly_on_eligible_actions(cases, sim_small):
    state = state_of_cases(cases)
    p = propensities(state, sim_small.config)
    elig = eligibility(state, sim_small.config)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p[elig] > 0).all()
    assert (p[~elig] == 0).all()
    assert (p[elig] >= sim_small.config.logging_policy.epsilon / len(ACTIONS) - 1e-12).all()


def test_recorded_propensity_is_the_probability_of_the_logged_action(cases, sim_small):
    p = propensities(state_of_cases(cases), sim_small.config)
    pick = pd.Categorical(cases["logged_action"], categories=list(ACTIONS)).codes
    np.testing.assert_allclose(p[np.arange(len(cases)), pick], cases["logged_propensity"])
    acts = sim_small.tables["actions"]
    assert (acts["propensity"] > 0).all() and (acts["propensity"] <= 1).all()
    merged = acts.merge(cases, left_on=["loan_id", "decided_at"], right_on=["loan_id", "as_of"])
    assert len(merged) == len(acts) == len(cases)
    assert (merged["action"] == merged["logged_action"]).all()


def test_the_ladder_escalates_with_the_bucket(sim_small):
    acts = sim_small.tables["actions"]
    cyc = sim_small.tables["cycles"]
    m = acts.merge(cyc, left_on=["loan_id", "decided_at"], right_on=["loan_id", "cycle_date"])
    b = bucket_index(m["dpd"])
    assert (m.loc[b < 2, "action"] != "outsourcing").all()
    assert (m.loc[b < 3, "action"] != "litigation").all()
    early, late = m[b == 1]["action"], m[b >= 4]["action"]
    assert (early == "reminder").mean() > (late == "reminder").mean() + 0.2
    assert (late.isin(["outsourcing", "litigation"])).mean() > 0.4


def test_flags_block_collection_and_only_count_from_their_date(cases, sim_small):
    state = state_of_cases(cases.head(3))
    state.flag[:] = [FLAG_DECEASED, FLAG_DECEASED, FLAG_FRAUD]
    state.flag_in[:] = [0, 5, 0]
    state.missed[:] = 4
    elig = eligibility(state, sim_small.config)
    assert elig[0].tolist() == [a == "none" for a in ACTIONS]  # deceased and in effect
    assert elig[1].all()  # flag not yet in effect
    assert elig[2, A_LITIGATION] and elig[2, A_OUTSOURCING]  # fraud suspicion may be pursued


def test_choose_never_picks_a_zero_probability_action():
    p = np.array([[0.5, 0.5, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1.0], [1.0, 0, 0, 0, 0, 0]])
    u = np.array([0.999999999, 0.0, 0.999999999])
    assert choose(p, u).tolist() == [1, 5, A_NONE]


def test_contacts_fall_between_the_decision_and_the_next_cycle_in_working_hours(sim_small):
    con = sim_small.tables["contacts"]
    acts = sim_small.tables["actions"][["loan_id", "decided_at"]]
    assert con["ts"].dt.hour.between(9, 19).all()
    m = pd.merge_asof(
        con.sort_values("ts"),
        acts.sort_values("decided_at"),
        left_on="ts",
        right_on="decided_at",
        by="loan_id",
        direction="backward",
    )
    assert m["decided_at"].notna().all()  # every contact follows a decision on that loan
    assert ((m["ts"] - m["decided_at"]) < pd.Timedelta(days=31)).all()
    assert (m["ts"] > m["decided_at"]).all()


def test_promises_carry_amount_and_date_and_their_keeping_reveals_willingness(sim_small):
    con, cyc = sim_small.tables["contacts"], sim_small.tables["cycles"]
    ptp = con[con["outcome"] == "promise_to_pay"]
    other = con[con["outcome"] != "promise_to_pay"]
    assert len(ptp) > 50
    assert ptp["ptp_amount"].gt(0).all() and ptp["ptp_date"].gt(ptp["ts"].dt.normalize()).all()
    assert other["ptp_amount"].isna().all() and other["ptp_date"].isna().all()
    nxt = cyc.assign(month=cyc["cycle_date"].dt.to_period("M"))
    ptp = ptp.assign(month=(ptp["ts"] + pd.offsets.MonthEnd(0)).dt.to_period("M"))
    m = ptp.merge(nxt, on=["loan_id", "month"])
    m["kept"] = m["paid_amount"] >= 0.5 * m["due_amount"]
    bm = sim_small.truth["borrower_months"]
    loans = sim_small.tables["loans"][["loan_id", "borrower_id"]]
    m = m.merge(loans, on="loan_id").merge(bm, on=["borrower_id", "cycle_date"])
    high = m["willingness"] > m["willingness"].median()
    assert m.loc[high, "kept"].mean() > m.loc[~high, "kept"].mean()
    rpc = con["outcome"].isin(["right_party_contact", "promise_to_pay", "refused", "dispute"])
    assert 0.2 < rpc.mean() < 0.9
