"""Unit tests of the month step on arbitrary states: the bookkeeping holds whatever the action."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rollcure.core.catalogue import ACTIONS
from simulation import SimulationConfig
from simulation.dynamics import (
    N_UNIFORMS,
    LoanState,
    annuity,
    bucket_now,
    dpd_of,
    month_step,
)

CFG = SimulationConfig()
RESTR = CFG.effects["restructuring"].mechanism
COURT = CFG.effects["litigation"].mechanism
A_NONE, A_RESTRUCTURING, A_OUTSOURCING, A_LITIGATION, A_SETTLEMENT = (
    ACTIONS.index(a) for a in ("none", "restructuring", "outsourcing", "litigation", "settlement")
)
SETTLE = CFG.effects["settlement"].mechanism


def random_state(rng: np.random.Generator, n: int) -> LoanState:
    instalment = rng.uniform(20, 3000, n)
    missed = rng.integers(0, 12, n)
    arrears = np.where(missed > 0, instalment * (missed - rng.uniform(0, 0.9, n)), 0.0)
    return LoanState(
        balance=arrears + rng.uniform(0, 50 * instalment),
        arrears=arrears,
        instalment=instalment,
        monthly_rate=rng.uniform(0, 0.03, n),
        remaining=rng.integers(-3, 60, n),
        missed=missed,
        due_day=rng.integers(1, 29, n),
        income=rng.uniform(500, 20000, n),
        ability_base=rng.random(n),
        willingness=rng.random(n),
        willingness_base=rng.random(n),
        shock=rng.random(n) < 0.2,
        shock_onset=rng.uniform(0, 0.05, n),
        legal=rng.integers(0, 3, n),
        collateral=np.where(rng.random(n) < 0.3, rng.uniform(0, 1e6, n), 0.0),
        secured=rng.random(n) < 0.3,
        micro=rng.random(n) < 0.2,
        flag=rng.integers(0, 5, n),
        flag_in=rng.integers(-2, 5, n),
        restructured_ago=rng.integers(0, 30, n),
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), action=st.integers(0, len(ACTIONS) - 1))
def test_bookkeeping_invariants_hold_for_any_state_and_action(seed, action):
    rng = np.random.default_rng(seed)
    s = random_state(rng, 400)
    before_missed, before_balance = s.missed.copy(), s.balance.copy()
    res = month_step(s, np.full(400, action), rng.random((400, N_UNIFORMS)), CFG)
    assert (res.paid >= 0).all() and (res.paid <= before_balance * (1 + 0.03) + 1e-6).all()
    assert (s.balance >= 0).all() and (s.arrears >= 0).all() and (s.arrears <= s.balance + 1e-9).all()
    assert ((s.missed > 0) == (s.arrears > 0)).all()
    assert (s.missed <= before_missed + 1).all()
    assert ((res.paid == 0) & (before_missed > 0) <= (s.missed == before_missed + 1)).all()
    dpd = dpd_of(s.missed, s.due_day)
    assert ((dpd > 0) == (s.missed > 0)).all()
    assert (res.closed == (s.balance == 0)).all()
    assert not (res.closed & res.written_off).any()
    assert ((0 <= s.willingness) & (s.willingness <= 1)).all()


def _settling_state(legal: int, n: int = 3000) -> LoanState:
    s = random_state(np.random.default_rng(4), n)
    s.missed = np.maximum(s.missed, 2)
    s.arrears = np.maximum(s.arrears, s.instalment * 1.5)
    s.balance = s.arrears + 20 * s.instalment
    s.monthly_rate = np.full(n, 0.02)
    s.legal, s.flag, s.shock = np.full(n, legal), np.zeros(n, dtype=int), np.zeros(n, dtype=bool)
    s.ability_base = np.full(n, 0.9)
    return s


def test_settlement_waives_part_of_the_interest_only_when_the_rest_is_paid_in_full():
    s = _settling_state(legal=0)
    accrued = s.balance * (1 + s.monthly_rate)
    waiver = SETTLE.waiver_share * np.minimum(s.balance * s.monthly_rate * s.missed, s.arrears)
    res = month_step(
        s,
        np.full(len(accrued), A_SETTLEMENT),
        np.random.default_rng(5).random((len(accrued), N_UNIFORMS)),
        CFG,
    )
    full = np.isclose(res.paid, res.due - waiver)
    assert full.any() and (~full).any()
    np.testing.assert_allclose(s.balance[full], (accrued - res.paid - waiver)[full], atol=1e-6)
    assert (s.arrears[full] == 0).all()  # cured, the waived rest is gone
    np.testing.assert_allclose(s.balance[~full], (accrued - res.paid)[~full], atol=1e-6)  # no waiver


def test_no_waiver_where_the_court_collects_in_the_same_cycle():
    s = _settling_state(legal=1)
    accrued = s.balance * (1 + s.monthly_rate)
    res = month_step(
        s,
        np.full(len(accrued), A_SETTLEMENT),
        np.random.default_rng(6).random((len(accrued), N_UNIFORMS)),
        CFG,
    )
    enforced = res.paid >= res.due - 1e-9
    assert enforced.mean() > 0.5
    np.testing.assert_allclose(s.balance[enforced], np.maximum(accrued - res.paid, 0)[enforced], atol=1e-6)


def test_restructuring_lowers_the_instalment_and_paying_it_re_ages_the_loan():
    rng = np.random.default_rng(0)
    s = random_state(rng, 2000)
    s.remaining[:] = 24
    s.legal[:] = 0
    s.balance = s.instalment / annuity(np.ones(2000), s.monthly_rate, 24) + s.arrears  # on schedule
    old = s.instalment.copy()
    res = month_step(s, np.full(2000, A_RESTRUCTURING), rng.random((2000, N_UNIFORMS)), CFG)
    assert (s.instalment <= RESTR.max_instalment_share * old + 1e-6).all()
    assert (s.remaining > 24).all()
    paid_in_full = res.paid >= s.instalment - 0.01
    assert (s.arrears[paid_in_full & ~res.closed] == 0).all()


def test_litigation_is_slow_the_court_rules_after_the_lag():
    rng = np.random.default_rng(1)
    s = random_state(rng, 1000)
    s.legal[:] = 0
    month_step(s, np.full(1000, A_LITIGATION), rng.random((1000, N_UNIFORMS)), CFG)
    assert (s.legal == COURT.lag_cycles).all()
    month_step(s, np.full(1000, A_NONE), rng.random((1000, N_UNIFORMS)), CFG)
    assert (s.legal == COURT.lag_cycles - 1).all()


def test_annuity_repays_the_principal():
    principal, rate, n = np.array([1000.0, 5000.0]), np.array([0.01, 0.0]), np.array([12, 10])
    inst = annuity(principal, rate, n)
    balance = principal.copy()
    for _ in range(12):  # loop over months
        balance = np.maximum(balance * (1 + rate) - inst, 0)
    np.testing.assert_allclose(balance, 0, atol=1e-6)


def test_a_collateral_sale_comes_long_after_the_ruling_and_closes_or_charges_off():
    rng = np.random.default_rng(2)
    n = 2000
    s = random_state(rng, n)
    s.legal[:] = 1  # the court rules this cycle
    s.collateral[:] = 1e9
    s.ability_base[:] = 0.0  # nobody can be made to pay: a sale is ordered with probability s
    s.flag[:] = 0
    month_step(s, np.full(n, A_NONE), rng.random((n, N_UNIFORMS)), CFG)
    ordered = s.legal == -COURT.sale_lag_cycles
    assert abs(ordered.mean() - COURT.collateral_sale) < 0.05
    for _ in range(COURT.sale_lag_cycles - 1):  # loop over months
        month_step(s, np.full(n, A_NONE), rng.random((n, N_UNIFORMS)), CFG)
    assert (s.legal[ordered] == -1).all()
    res = month_step(s, np.full(n, A_NONE), rng.random((n, N_UNIFORMS)), CFG)
    assert res.closed[ordered].all()  # collateral worth more than the balance repays it
    assert (s.legal == 0).all()


def test_bucket_of_a_state_is_the_domain_bucket_of_its_dpd():
    """Every due day and missed count: the bucket the policy and the effects use is min(missed, 7),
    the bucket of the DPD written to the cycles."""
    missed, due_day = (a.ravel() for a in np.meshgrid(np.arange(25), np.arange(1, 29)))
    state = random_state(np.random.default_rng(0), missed.size)
    state.missed, state.due_day = missed, due_day
    assert (bucket_now(state) == np.minimum(missed, 7)).all()
