"""The one value definition: the identity on hand-built cases, recovery factors against a hand-solved
chain, value labels from a hand-built book, the logging policy's test slice, and the headroom the
synthetic world leaves a decision (the oracle over the DPD ladder)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rollcure.config.simulation import PaymentModel, SimulationConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.value import (
    CHARGED_OFF,
    CLOSED,
    N_STATES,
    RecoveryFactors,
    Valuation,
    ValueConfig,
    absorption_probabilities,
    horizon_value,
    recovery_factors,
    state_code,
)
from rollcure.core.value_history import estimate_valuation, observed_states, transition_counts


def _code(bucket: int, restructured: bool = False, secured: bool = False) -> int:
    return int(state_code(np.array([bucket]), np.array([restructured]), np.array([secured]))[0])


def _chain() -> np.ndarray:
    """M0 → closed; M1 → M0 .5, M2 .3, charge-off .2; M2 → M1 .2, M2 .3, charge-off .5 (×1000)."""
    c = np.zeros((N_STATES, N_STATES))
    m0, m1, m2 = _code(0), _code(1), _code(2)
    c[m0, CLOSED] = 1000
    c[m1, [m0, m2, CHARGED_OFF]] = [500, 300, 200]
    c[m2, [m1, m2, CHARGED_OFF]] = [200, 300, 500]
    return c


def test_absorption_probabilities_solve_the_hand_built_chain():
    # x1 = .2 + .3 x2, x2 = .5 + .2 x1 + .3 x2  =>  x1 = 0.453125, x2 = 0.84375
    p = absorption_probabilities(_chain())
    assert p[_code(0)] == pytest.approx(0.0, abs=1e-12)
    assert p[_code(1)] == pytest.approx(0.453125, abs=1e-9)
    assert p[_code(2)] == pytest.approx(0.84375, abs=1e-9)
    within_one = absorption_probabilities(_chain(), within=1)
    assert within_one[_code(1)] == pytest.approx(0.2) and within_one[_code(2)] == pytest.approx(0.5)
    within_two = absorption_probabilities(_chain(), within=2)
    assert within_two[_code(1)] == pytest.approx(0.2 + 0.3 * 0.5)


def test_recovery_factor_is_one_minus_chargeoff_probability_times_lgd():
    rf = recovery_factors(_chain(), lgd=np.array([0.8, 0.3]))
    assert rf.factor[_code(2)] == pytest.approx(1 - 0.8 * 0.84375)
    assert rf.factor[CLOSED] == 1.0 and rf.factor[CHARGED_OFF] == 0.0
    # a state seen fewer than min_transitions times borrows its bucket's chain pooled over the
    # restructured / secured cells: here M2 restructured, seen 3 times (all to M0)
    thin = _chain()
    thin[_code(2, restructured=True), _code(0)] = 3
    rf = recovery_factors(thin, lgd=1.0)
    # pooled M2: to M1 200, M2 300, charge-off 500, M0 3 (of 1003); M1 as before
    a = np.array([[1.0, -0.3], [-200 / 1003, 1 - 300 / 1003]])
    x1, x2 = np.linalg.solve(a, [0.2, 500 / 1003])
    assert rf.p_chargeoff[_code(2, restructured=True)] == pytest.approx(x2, abs=1e-9)
    assert rf.p_chargeoff[_code(2)] == pytest.approx(0.84375, abs=1e-9)  # well seen: its own row
    frame = rf.to_frame()
    assert len(frame) == N_STATES and frame["transitions"].sum() == thin.sum()


def test_horizon_value_discounts_cash_costs_and_the_terminal_balance():
    cfg = ValueConfig(horizon_cycles=2, annual_discount_rate=0.1)
    d = 1.1 ** (-1 / 12)
    v = horizon_value(
        np.array([[100.0, 50.0]]), np.array([[10.0, 5.0]]), np.array([1000.0]), np.array([0.8]), cfg
    )
    assert v[0] == pytest.approx(100 * d + 50 * d**2 - 10 - 5 * d + d**2 * 1000 * 0.8)


def _cannot_pay(n: int = 3) -> pd.DataFrame:
    """Disputed loans (the logging policy does nothing to them) of debtors who cannot pay."""
    from simulation.dynamics import FLAG_DISPUTED, NEVER_RESTRUCTURED

    return pd.DataFrame(
        {
            "loan_id": np.arange(n),
            "as_of": pd.Timestamp("2025-01-31"),
            "balance": 10_000.0,
            "arrears": 500.0,
            "instalment": 500.0,
            "monthly_rate": 0.01,
            "remaining": 24,
            "missed": 1,
            "due_day": 15,
            "income": 1.0,  # burden beyond any capacity: no full payment
            "ability_base": 0.0,
            "willingness": 0.0,
            "willingness_base": 0.0,
            "shock": False,
            "shock_onset": 0.0,
            "legal": 0,
            "collateral": 0.0,
            "secured": False,
            "micro": False,
            "flag": FLAG_DISPUTED,
            "flag_in": 0,
            "restructured_ago": NEVER_RESTRUCTURED,
        }
    )


def test_the_value_of_doing_nothing_for_a_loan_that_cannot_pay_is_its_rolled_state_discounted():
    from simulation.oracle import action_values

    # partial payments switched off: this debtor pays nothing whatever happens
    sim = SimulationConfig(payment=PaymentModel(partial_intercept=-200.0), oracle_draws=4)
    factors = recovery_factors(_chain(), lgd=1.0)
    factors = RecoveryFactors(
        factor=np.r_[np.linspace(1.0, 0.2, N_STATES - 2), 1.0, 0.0],
        p_chargeoff=factors.p_chargeoff,
        transitions=factors.transitions,
        lgd=factors.lgd,
    )
    valuation = Valuation(ValueConfig(horizon_cycles=3), factors)
    v = action_values(_cannot_pay(), sim, valuation)
    d = valuation.cfg.monthly_discount
    rolled = 10_000.0 * 1.01**3  # three cycles of interest, nothing paid
    expected = d**3 * rolled * factors.factor[_code(4)]  # missed 1 → 4: bucket M4
    np.testing.assert_allclose(v["value_none"], expected, rtol=1e-9)
    assert (v["cash_none"] == 0).all() and (v["p_roll_none"] == 1).all()
    # over a year the loan reaches the write-off count: nothing is left to value
    year = action_values(_cannot_pay(), sim, Valuation(ValueConfig(horizon_cycles=12), factors))
    np.testing.assert_allclose(year["value_none"], 0.0, atol=1e-9)
    # a reminder to it costs its price and changes nothing else
    cost = sim.action_costs["reminder"]
    np.testing.assert_allclose(v["value_reminder"], v["value_none"] - cost, atol=1e-9)


def _book() -> dict[str, pd.DataFrame]:
    """Three loans over five month ends: one repays in month 3, one is charged off after month 3,
    one is restructured at month 1 and stays."""
    months = pd.date_range("2025-01-31", periods=5, freq="ME")
    rows = []
    for k, m in enumerate(months):
        rows.append((1, m, 100.0, [1000, 600, 0][k] if k < 3 else None, [30, 0, 0][k] if k < 3 else None))
        rows.append((2, m, 0.0, [2000, 2100, 2200][k] if k < 3 else None, [30, 60, 90][k] if k < 3 else None))
        rows.append((3, m, 50.0, 3000.0 - 50 * k, [60, 0, 0, 0, 0][k]))
    cycles = pd.DataFrame(rows, columns=["loan_id", "cycle_date", "paid_amount", "balance", "dpd"]).dropna()
    loans = pd.DataFrame({"loan_id": [1, 2, 3], "product": ["card", "card", "mortgage"]})
    actions = pd.DataFrame(
        {
            "loan_id": [1, 2, 3],
            "decided_at": [months[0], months[0], months[0]],
            "action": ["reminder", "field_visit", "restructuring"],
            "cost": [1.0, 25.0, 10.0],
            "propensity": [0.5, 0.5, 0.5],
        }
    )
    return {"cycles": cycles, "loans": loans, "actions": actions}


def test_observed_states_mark_closure_chargeoff_and_restructuring():
    t = _book()
    cfg = ValueConfig(restructured_window=2)
    s = observed_states(t["cycles"], t["loans"], t["actions"], cfg).set_index(["loan_id", "month"])["state"]
    m0 = 2025 * 12 + 1
    assert s[(1, m0 + 2)] == CLOSED  # balance repaid
    assert s[(2, m0 + 2)] == CHARGED_OFF  # left the book with a balance before it ended
    assert s[(3, m0)] == _code(2, secured=True)
    assert s[(3, m0 + 1)] == _code(0, restructured=True, secured=True)  # decided at m0, in effect after
    assert s[(3, m0 + 2)] == _code(0, restructured=True, secured=True)
    assert s[(3, m0 + 3)] == _code(0, secured=True)  # the window of 2 cycles has passed
    counts = transition_counts(observed_states(t["cycles"], t["loans"], t["actions"], cfg))
    assert counts.sum() == 2 + 2 + 4 and counts[:, CHARGED_OFF].sum() == 1
    lgd_estimated = estimate_valuation(t["cycles"], t["loans"], t["actions"], cfg).factors.lgd
    assert lgd_estimated[0] == 1.0  # 2,200 written off after 2,100 the cycle before: capped at 1
    assert lgd_estimated[1] == 1.0  # no secured charge-off seen: assume the worst


def test_value_labels_on_a_hand_built_book_apply_the_one_definition():
    from features.value_labels import build_value_labels

    t = _book()
    cfg = ValueConfig(horizon_cycles=2, annual_discount_rate=0.12)
    valuation = estimate_valuation(t["cycles"], t["loans"], t["actions"], cfg)
    cases = pd.DataFrame(
        {"loan_id": [1, 2, 3, 3], "as_of": pd.to_datetime(["2025-01-31"] * 3 + ["2025-04-30"])}
    )
    labels, excluded = build_value_labels(t, cases, valuation)
    assert excluded == 1  # loan 3 at April: its second cycle lies past the book's end
    got = labels.set_index("loan_id")["value"]
    d = cfg.monthly_discount
    # loan 1: pays 100 and 100, closed at month 3: no balance left
    assert got[1] == pytest.approx(100 * d + 100 * d**2 - 1.0)
    # loan 2: charged off at month 3: its balance is lost
    assert got[2] == pytest.approx(-25.0)
    # loan 3: two payments of 50, then 2,900 valued at its restructured secured M0 factor
    f = valuation.factors.factor[_code(0, restructured=True, secured=True)]
    assert got[3] == pytest.approx(50 * d + 50 * d**2 - 10.0 + d**2 * 2900 * f)
    gross = labels.set_index("loan_id")["value_gross"]
    assert gross[2] == pytest.approx(0.0) and gross[1] == pytest.approx(got[1] + 1.0)


def test_the_test_slice_gives_every_eligible_action_its_share_and_nothing_else(sim_small):
    from simulation.logging_policy import eligibility, propensities
    from simulation.oracle import state_of_cases

    cs = sim_small.truth["case_states"]
    state = state_of_cases(cs)
    cfg = sim_small.config
    p = propensities(state, cfg)
    elig = eligibility(state, cfg)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (p[~elig] == 0).all()
    floor = cfg.logging_policy.test_slice + (1 - cfg.logging_policy.test_slice) * cfg.logging_policy.epsilon
    assert (p[elig] >= (floor / elig.sum(axis=1, keepdims=True).repeat(len(ACTIONS), 1)[elig]) - 1e-12).all()
    logged = pd.Categorical(cs["logged_action"], categories=list(ACTIONS)).codes
    assert elig[np.arange(len(cs)), logged].all()  # the logged action is always eligible
    # a test slice of everything is the uniform policy over eligible actions
    uniform = cfg.model_copy(
        update={"logging_policy": cfg.logging_policy.model_copy(update={"test_slice": 1.0})}
    )
    np.testing.assert_allclose(propensities(state, uniform), elig / elig.sum(axis=1, keepdims=True))


def test_the_valuation_and_the_oracle_are_deterministic(sim_small, valuation_small):
    from simulation.oracle import action_values

    t = sim_small.tables
    again = estimate_valuation(t["cycles"], t["loans"], t["actions"], ValueConfig())
    np.testing.assert_array_equal(again.factors.factor, valuation_small.factors.factor)
    cases = sim_small.truth["case_states"].head(50)
    pd.testing.assert_frame_equal(
        action_values(cases, sim_small.config, valuation_small),
        action_values(cases, sim_small.config, valuation_small),
    )


def _headroom(seed: int) -> float:
    """Oracle over DPD ladder on two held-out cycles of a 30k × 24 book, rules and capacities applied
    (the backtest's choosers for these two policies)."""
    from features.build import build_features
    from models.allocation import allocate
    from models.eligibility import eligibility
    from models.rules import load_rules
    from models.strategies import dpd_ladder
    from rollcure.config import RollcureConfig
    from simulation import simulate
    from simulation.oracle import action_values

    cfg = RollcureConfig()
    sim = SimulationConfig(accounts=30_000, months=24)
    book = simulate(sim, seed)
    t, cs = book.tables, book.truth["case_states"]
    days = np.sort(cs["as_of"].unique())[-3:-1]  # the held-out cycles (the last has no next cycle)
    start = pd.Timestamp(days[0])
    valuation = estimate_valuation(
        t["cycles"], t["loans"], t["actions"], cfg.value, start - pd.Timedelta(days=1)
    )
    cases = cs[cs["as_of"].isin(days)].reset_index(drop=True)
    X = build_features(t, cases[["loan_id", "as_of"]].copy(), cfg.features)
    el = eligibility(X, load_rules()).mask
    V = action_values(cases, sim, valuation)[[f"value_{a}" for a in ACTIONS]].to_numpy()
    caps = np.asarray(cfg.policy.cycle_capacity())
    oracle = ladder = 0.0
    for day in days:  # per cycle: capacities are per cycle
        r = np.flatnonzero(cases["as_of"].to_numpy() == day)
        oracle += V[r, allocate(V[r], el[r], caps)].sum()
        ladder += V[r, dpd_ladder(X.iloc[r], el[r], caps)].sum()
    return oracle / ladder - 1


@pytest.mark.parametrize("seed", [21, 22])
def test_decisions_matter_as_much_as_field_evidence_says(seed):
    """Deployed optimisers beat incumbent collection policies by about 8% of collections (Miller et
    al. 2012; Abe et al. 2010); the oracle bounds any policy, so it must beat the ladder by 8-20%."""
    assert 0.08 <= _headroom(seed) <= 0.20


def test_one_step_look_ahead_prefers_the_action_that_keeps_the_loan_out_of_a_worse_state():
    """Two M2 loans of 5,000: a reminder brings 200 now but the loan rolls to M3; a restructuring
    brings 50 and re-ages it (M0, restructured). One cycle ahead, valued with known recovery factors
    (M3 0.63, M0 restructured 0.91), the restructuring is worth more: the answer is known by hand."""
    from features.value_labels import build_value_labels

    months = pd.to_datetime(["2025-01-31", "2025-02-28", "2025-03-31"])
    cycles = pd.DataFrame(
        {
            "loan_id": [1, 1, 1, 2, 2, 2],
            "cycle_date": list(months) * 2,
            "paid_amount": [0.0, 200.0, 0.0, 0.0, 50.0, 0.0],
            "balance": [5000.0, 4875.0, 4900.0, 5000.0, 5025.0, 5050.0],
            "dpd": [45, 75, 105, 45, 0, 0],
        }
    )
    tables = {
        "cycles": cycles,
        "loans": pd.DataFrame({"loan_id": [1, 2], "product": ["card", "card"]}),
        "actions": pd.DataFrame(
            {
                "loan_id": [1, 2],
                "decided_at": [months[0], months[0]],
                "action": ["reminder", "restructuring"],
                "cost": [1.0, 10.0],
                "propensity": [0.5, 0.5],
            }
        ),
    }
    factor = np.full(N_STATES, 0.5)
    factor[_code(3)] = 0.63
    factor[_code(0, restructured=True)] = 0.91
    factor[CLOSED], factor[CHARGED_OFF] = 1.0, 0.0
    blank = np.zeros(N_STATES)
    rf = RecoveryFactors(factor=factor, p_chargeoff=blank[:-2], transitions=blank, lgd=np.ones(2))
    cfg = ValueConfig(horizon_cycles=1)
    cases = pd.DataFrame({"loan_id": [1, 2], "as_of": months[0]})
    labels, excluded = build_value_labels(tables, cases, Valuation(cfg, rf))
    assert excluded == 0
    v = labels.set_index("loan_id")["value"]
    d = cfg.monthly_discount
    assert v[1] == pytest.approx(d * 200 - 1 + d * 4875 * 0.63)
    assert v[2] == pytest.approx(d * 50 - 10 + d * 5025 * 0.91)
    assert v[2] > v[1]  # the cash now does not pay for the worse state
