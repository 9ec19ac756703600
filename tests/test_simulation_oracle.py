"""The oracle against the simulator's own outcomes, common random numbers, and the horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rollcure.core.catalogue import ACTIONS, Effect
from rollcure.core.errors import InputError
from rollcure.core.value import Valuation, ValueConfig
from simulation import SimulationConfig
from simulation.oracle import action_values, potential_outcomes

Z_MAX = 4.0


@pytest.fixture(scope="module")
def scored(sim_default, valuation_default):
    """Cases whose whole value horizon lies in the data: the value the book recorded (the label)
    beside the oracle's expected value of the logged action, and the realised and predicted cure."""
    from features.value_labels import build_value_labels

    cfg = sim_default.config
    cs = sim_default.truth["case_states"]
    cyc = sim_default.tables["cycles"]
    labels, _ = build_value_labels(sim_default.tables, cs[["loan_id", "as_of"]], valuation_default)
    cs = cs.merge(labels, on=["loan_id", "as_of"])
    cs = cs.sample(n=min(4000, len(cs)), random_state=1).reset_index(drop=True)
    values = action_values(cs, cfg, valuation_default)
    m = cs[["loan_id", "as_of"]].merge(cyc[["loan_id", "cycle_date", "dpd"]], on="loan_id")
    nxt = m[m["cycle_date"] > m["as_of"]].sort_values("cycle_date").groupby(["loan_id", "as_of"]).first()
    out = cs[["loan_id", "as_of", "logged_action", "value"]].rename(columns={"value": "real_value"})
    out = out.join((nxt["dpd"] == 0).rename("real_cure"), on=["loan_id", "as_of"])
    pick = pd.Categorical(out["logged_action"], categories=list(ACTIONS)).codes
    rows = np.arange(len(out))
    out["oracle_value"] = values[[f"value_{a}" for a in ACTIONS]].to_numpy()[rows, pick]
    out["oracle_cure"] = values[[f"p_cure_{a}" for a in ACTIONS]].to_numpy()[rows, pick]
    return out


def _z(diff: pd.Series) -> float:
    return float(diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff))))


def test_oracle_value_matches_the_value_the_book_recorded_for_the_logged_actions(scored):
    """One value definition: the labels' value of what happened and the oracle's expectation of the
    same action agree in mean, overall and per action (z-test on paired differences)."""
    assert abs(_z(scored["real_value"] - scored["oracle_value"])) < Z_MAX
    for action, grp in scored.groupby("logged_action"):
        if len(grp) >= 200:
            assert abs(_z(grp["real_value"] - grp["oracle_value"])) < Z_MAX, action


def test_oracle_cure_probability_matches_the_simulated_next_cycle(scored):
    has_next = scored["real_cure"].notna()
    diff = scored.loc[has_next, "real_cure"].astype(float) - scored.loc[has_next, "oracle_cure"]
    assert abs(_z(diff)) < Z_MAX
    assert abs(diff.mean()) < 0.03


@pytest.fixture(scope="module")
def few_cases(sim_small):
    return sim_small.truth["case_states"].head(300).reset_index(drop=True)


def test_best_action_is_the_argmax_of_the_values(few_cases, sim_small, valuation_small):
    v = action_values(few_cases, sim_small.config, valuation_small)
    best = np.asarray(ACTIONS)[v[[f"value_{a}" for a in ACTIONS]].to_numpy().argmax(axis=1)]
    assert (v["best_action"].to_numpy() == best).all()
    assert str(v["best_action"].dtype) == "str"
    assert (v[["loan_id", "as_of"]].to_numpy() == few_cases[["loan_id", "as_of"]].to_numpy()).all()


def test_an_action_that_does_nothing_is_worth_none_minus_its_cost(few_cases, sim_small, valuation_small):
    """With the reminder's effect switched off, its value is exactly "none"'s less its cost today
    (common random numbers: the same futures follow)."""
    effects = dict(sim_small.config.effects)
    effects["reminder"] = effects["reminder"].model_copy(update={"gain": Effect()})
    cfg = sim_small.config.model_copy(update={"effects": effects})
    v = action_values(few_cases, cfg, valuation_small)
    np.testing.assert_allclose(v["value_reminder"], v["value_none"] - cfg.action_costs["reminder"], atol=1e-6)


def test_potential_outcomes_use_common_random_numbers(few_cases, sim_small, valuation_small):
    """With the reminder's effect switched off, reminder and none must realise identical futures."""
    effects = dict(sim_small.config.effects)
    effects["reminder"] = effects["reminder"].model_copy(update={"gain": Effect()})
    cfg = sim_small.config.model_copy(update={"effects": effects})
    po = potential_outcomes(few_cases, cfg, valuation_small, seed=3)
    assert (po["cash_reminder"] == po["cash_none"]).all()
    assert (po["cure_reminder"] == po["cure_none"]).all()
    again = potential_outcomes(few_cases, cfg, valuation_small, seed=3)
    pd.testing.assert_frame_equal(po, again)
    other = potential_outcomes(few_cases, cfg, valuation_small, seed=4)
    assert not po["cash_none"].equals(other["cash_none"])
    assert not (po["cash_field_visit"] == po["cash_none"]).all()


def test_a_shorter_horizon_never_collects_more_cash(few_cases, sim_small, valuation_small):
    def at(h: int) -> Valuation:
        return Valuation(ValueConfig(horizon_cycles=h), valuation_small.factors)

    long = action_values(few_cases, sim_small.config, at(3))
    short = action_values(few_cases, sim_small.config, at(1))
    assert (short["cash_none"] <= long["cash_none"] + 1e-6).all()
    assert (short["cash_none"] < long["cash_none"] - 1e-6).any()


def test_case_states_without_state_columns_are_rejected(valuation_small):
    with pytest.raises(InputError, match="case_states: missing columns"):
        action_values(
            pd.DataFrame({"loan_id": [1], "as_of": [pd.Timestamp("2024-01-31")]}),
            SimulationConfig(),
            valuation_small,
        )


def test_oracle_on_a_written_portfolio_equals_the_oracle_in_memory(
    sim_default, sim_default_dir, valuation_default
):
    from rollcure.core.io import read_truth
    from simulation import read_simulation_config

    on_disk = read_truth(sim_default_dir)["case_states"].head(200)
    cfg = read_simulation_config(sim_default_dir)
    assert cfg == sim_default.config
    in_memory = sim_default.truth["case_states"].head(200)
    pd.testing.assert_frame_equal(
        action_values(on_disk, cfg, valuation_default),
        action_values(in_memory, sim_default.config, valuation_default),
    )
