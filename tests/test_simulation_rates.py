"""Model-behaviour checks of the synthetic world: aggregates look like a real book, latents leak only
partly into observables, and action effects are heterogeneous the way the effect table says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from simulation.dynamics import effective_latents
from simulation.oracle import action_values, state_of_cases
from simulation.summary import transition_matrix


@pytest.fixture(scope="module")
def transitions(sim_default):
    return transition_matrix(sim_default.tables["cycles"])


def test_overdue_share_of_active_accounts_is_3_to_12_percent_every_cycle(sim_default):
    cyc = sim_default.tables["cycles"]
    share = (cyc["dpd"] > 0).groupby(cyc["cycle_date"]).mean()
    assert share.between(0.03, 0.12).all(), share.round(3).to_dict()


def test_m1_roll_and_cure_rates_are_in_the_industry_range(transitions):
    assert 0.20 <= transitions.loc["M1", "M2"] <= 0.45
    assert 0.20 <= transitions.loc["M1", "roll_rate"] <= 0.45
    assert 0.35 <= transitions.loc["M1", "cure_rate"] <= 0.70


def test_cure_falls_and_roll_rises_with_the_bucket(transitions):
    cure = transitions.loc[["M1", "M2", "M3", "M4", "M5", "M6"], "cure_rate"].to_numpy()
    roll = transitions.loc[["M1", "M2", "M3", "M4", "M5", "M6"], "roll_rate"].to_numpy()
    assert (np.diff(cure) < 0.01).all(), cure  # monotone up to sampling noise of one point
    assert (np.diff(roll) > -0.03).all(), roll  # roughly monotone
    assert roll[-1] > roll[0] + 0.15
    assert cure[0] > cure[-1] + 0.3


def test_observables_correlate_with_latents_without_revealing_them(sim_default):
    bm = sim_default.truth["borrower_months"]
    first = bm[bm["cycle_date"] == bm["cycle_date"].min()]
    b = sim_default.tables["borrowers"].merge(first, on="borrower_id")
    for col, latent in (
        ("bureau_score", "ability"),
        ("monthly_income", "ability"),
        ("bureau_score", "willingness"),
    ):
        rho = b[col].corr(b[latent], method="spearman")
        assert 0.15 < rho < 0.85, (col, latent, rho)
    assert (
        b["phone_verified"].groupby(b["willingness"] > b["willingness"].median()).mean().diff().iloc[-1] > 0
    )


def test_shocks_persist_several_months_and_recover(sim_default):
    bm = sim_default.truth["borrower_months"].sort_values(["borrower_id", "cycle_date"])
    prev = bm.groupby("borrower_id")["shock"].shift(1)
    in_shock = prev.astype("boolean") == True  # noqa: E712 - nullable comparison
    stay = bm.loc[in_shock.fillna(False), "shock"].mean()
    assert 0.6 < stay < 0.95  # mean duration 1 / (1 - stay): roughly 2.5 to 20 months
    assert 0.005 < bm["shock"].mean() < 0.2


@pytest.fixture(scope="module")
def oracle_sample(sim_default, valuation_default):
    cs = sim_default.truth["case_states"]
    sample = cs.sample(n=min(3000, len(cs)), random_state=0).reset_index(drop=True)
    values = action_values(sample, sim_default.config, valuation_default)
    ability, will = effective_latents(state_of_cases(sample), sim_default.config)
    return sample, values, ability, will


def _uplift(values: pd.DataFrame, action: str, column: str = "p_cure") -> pd.Series:
    return values[f"{column}_{action}"] - values[f"{column}_none"]


def test_reminder_works_best_on_the_able_and_willing_and_its_effect_is_small(oracle_sample):
    """Reminders to debtors already in arrears move payment by a few points at most (field
    experiments on 32,000 debtors: Saulitis 2023), and only where the debtor can and will pay."""
    _, v, a, w = oracle_sample
    up = _uplift(v, "reminder")
    target = up[(a > 0.6) & (w > 0.7)].mean()
    assert target > up[(a < 0.3) & (w < 0.5)].mean() + 0.01
    assert 0.01 < target < 0.06


def test_field_visit_works_on_able_unwilling_and_hurts_willing_unable(oracle_sample):
    _, v, a, w = oracle_sample
    up = _uplift(v, "field_visit")
    target, harmed = (a > 0.5) & (w < 0.5), (a < 0.3) & (w > 0.7)
    assert up[target].mean() > 0.08
    assert up[target].mean() > up[harmed].mean() + 0.08
    assert (v["value_field_visit"] - v["value_none"])[harmed].mean() < 0  # pressing the unable loses value


def test_restructuring_cures_the_willing_unable_more_than_the_able(oracle_sample):
    _, v, a, w = oracle_sample
    up = _uplift(v, "restructuring")
    assert up[(a < 0.3) & (w > 0.6)].mean() > up[(a > 0.6) & (w > 0.6)].mean() + 0.1


def test_litigation_pays_off_on_large_balances_only(oracle_sample):
    cs, v, a, w = oracle_sample
    gain = v["value_litigation"] - v["value_none"]
    large = cs["balance"] > cs["balance"].quantile(0.9)
    small = cs["balance"] < cs["balance"].quantile(0.5)
    assert gain[large].mean() > 0
    assert gain[small].mean() < 0
    assert (v.loc[small, "best_action"] == "litigation").mean() < 0.02


def test_every_action_is_the_best_somewhere(oracle_sample):
    _, v, _, _ = oracle_sample
    shares = v["best_action"].value_counts(normalize=True)
    assert set(shares.index) >= {"none", "reminder", "restructuring", "field_visit", "litigation"}
    assert shares.max() < 0.7
