"""The oracle against the simulator's own outcomes, common random numbers, and the horizon."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rollcure.core.catalogue import ACTIONS, Effect
from rollcure.core.errors import InputError
from simulation import SimulationConfig
from simulation.oracle import action_values, horizon_cycles, potential_outcomes

Z_MAX = 4.0


@pytest.fixture(scope="module")
def scored(sim_default):
    """Cases whose whole horizon lies in the data, with the realised and the oracle's outcome."""
    cfg = sim_default.config
    cs = sim_default.truth["case_states"]
    cyc = sim_default.tables["cycles"]
    n_cycles = round(cfg.horizon_days / 30)
    end = cs["as_of"] + pd.offsets.MonthEnd(n_cycles)
    cs = cs[end <= cyc["cycle_date"].max()].sample(n=4000, random_state=1).reset_index(drop=True)
    values = action_values(cs, cfg)
    m = cs[["loan_id", "as_of"]].merge(cyc[["loan_id", "cycle_date", "paid_amount", "dpd"]], on="loan_id")
    in_h = (m["cycle_date"] > m["as_of"]) & (m["cycle_date"] <= m["as_of"] + pd.offsets.MonthEnd(n_cycles))
    real = m[in_h].groupby(["loan_id", "as_of"])["paid_amount"].sum().rename("real_recovered")
    nxt = m[m["cycle_date"] > m["as_of"]].sort_values("cycle_date").groupby(["loan_id", "as_of"]).first()
    out = cs[["loan_id", "as_of", "logged_action"]].join(real, on=["loan_id", "as_of"])
    out = out.join((nxt["dpd"] == 0).rename("real_cure"), on=["loan_id", "as_of"])
    out["real_recovered"] = out["real_recovered"].fillna(0.0)
    pick = pd.Categorical(out["logged_action"], categories=list(ACTIONS)).codes
    rows = np.arange(len(out))
    out["oracle_recovered"] = values[[f"recovered_{a}" for a in ACTIONS]].to_numpy()[rows, pick]
    out["oracle_cure"] = values[[f"p_cure_{a}" for a in ACTIONS]].to_numpy()[rows, pick]
    return out


def _z(diff: pd.Series) -> float:
    return float(diff.mean() / (diff.std(ddof=1) / np.sqrt(len(diff))))


def test_oracle_recovery_matches_the_simulated_outcomes_of_the_logged_actions(scored):
    assert abs(_z(scored["real_recovered"] - scored["oracle_recovered"])) < Z_MAX
    for action, grp in scored.groupby("logged_action"):
        if len(grp) >= 200:
            assert abs(_z(grp["real_recovered"] - grp["oracle_recovered"])) < Z_MAX, action


def test_oracle_cure_probability_matches_the_simulated_next_cycle(scored):
    has_next = scored["real_cure"].notna()
    diff = scored.loc[has_next, "real_cure"].astype(float) - scored.loc[has_next, "oracle_cure"]
    assert abs(_z(diff)) < Z_MAX
    assert abs(diff.mean()) < 0.03


@pytest.fixture(scope="module")
def few_cases(sim_small):
    return sim_small.truth["case_states"].head(300).reset_index(drop=True)


def test_values_are_expected_recovery_minus_cost_and_best_is_their_argmax(few_cases, sim_small):
    cfg = sim_small.config
    v = action_values(few_cases, cfg)
    for a in ACTIONS:
        np.testing.assert_allclose(v[f"value_{a}"], v[f"recovered_{a}"] - cfg.action_costs[a])
    best = np.asarray(ACTIONS)[v[[f"value_{a}" for a in ACTIONS]].to_numpy().argmax(axis=1)]
    assert (v["best_action"].to_numpy() == best).all()
    assert str(v["best_action"].dtype) == "str"
    assert (v[["loan_id", "as_of"]].to_numpy() == few_cases[["loan_id", "as_of"]].to_numpy()).all()


def test_potential_outcomes_use_common_random_numbers(few_cases, sim_small):
    """With the reminder's effect switched off, reminder and none must realise identical futures."""
    effects = dict(sim_small.config.effects)
    effects["reminder"] = effects["reminder"].model_copy(update={"gain": Effect()})
    cfg = sim_small.config.model_copy(update={"effects": effects})
    po = potential_outcomes(few_cases, cfg, seed=3)
    assert (po["recovered_reminder"] == po["recovered_none"]).all()
    assert (po["cure_reminder"] == po["cure_none"]).all()
    again = potential_outcomes(few_cases, cfg, seed=3)
    pd.testing.assert_frame_equal(po, again)
    other = potential_outcomes(few_cases, cfg, seed=4)
    assert not po["recovered_none"].equals(other["recovered_none"])
    assert not (po["recovered_field_visit"] == po["recovered_none"]).all()


def test_horizon_is_whole_cycles_as_the_labels_count_them():
    as_of = pd.Series(pd.to_datetime(["2024-01-31", "2024-02-29", "2024-11-30"]))
    assert horizon_cycles(as_of, 90).tolist() == [3, 3, 3]
    assert horizon_cycles(as_of, 30).tolist() == [1, 1, 1]
    assert horizon_cycles(as_of, 10).tolist() == [1, 1, 1]
    assert horizon_cycles(as_of, 180).tolist() == [6, 6, 6]


def test_shorter_horizon_never_recovers_more(few_cases, sim_small):
    long = action_values(few_cases, sim_small.config, horizon_days=90)
    short = action_values(few_cases, sim_small.config, horizon_days=30)
    assert (short["recovered_none"] <= long["recovered_none"] + 1e-6).all()


def test_case_states_without_state_columns_are_rejected():
    with pytest.raises(InputError, match="case_states: missing columns"):
        action_values(
            pd.DataFrame({"loan_id": [1], "as_of": [pd.Timestamp("2024-01-31")]}), SimulationConfig()
        )


def test_oracle_on_a_written_portfolio_equals_the_oracle_in_memory(sim_default, sim_default_dir):
    from rollcure.core.io import read_truth
    from simulation import read_simulation_config

    on_disk = read_truth(sim_default_dir)["case_states"].head(200)
    cfg = read_simulation_config(sim_default_dir)
    assert cfg == sim_default.config
    in_memory = sim_default.truth["case_states"].head(200)
    pd.testing.assert_frame_equal(action_values(on_disk, cfg), action_values(in_memory, sim_default.config))


@pytest.mark.parametrize("horizon_days", [1, 30, 44, 46, 90, 180, 365])
def test_oracle_horizon_is_the_label_window(horizon_days):
    """The oracle's cycles and the recovered-amount label's window are declared in two stages;
    they must count the same number of month ends after as_of."""
    from features.labels import horizon_end

    as_of = pd.Series(pd.to_datetime(["2024-01-31", "2024-02-29", "2024-11-30"]))
    ends = pd.to_datetime(horizon_end(as_of.to_numpy(dtype="datetime64[ns]"), horizon_days))
    months = (ends.to_period("M") - as_of.dt.to_period("M")).map(lambda d: d.n)
    assert horizon_cycles(as_of, horizon_days).tolist() == list(months)
