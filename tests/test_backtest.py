"""Strategy backtest against the simulator's truth: acceptance on the default book, JSON, CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cli.main import run
from rollcure.core.catalogue import ACTIONS
from training.backtest import METRICS, POLICIES


def test_acceptance_rollcure_beats_the_ladder(backtest_result):
    """On the value every stage uses (``rollcure.core.value``), rollcure is ahead of the DPD ladder in
    expectation and in the realised future shared by all strategies (common random numbers); the
    oracle is the best any policy can do in expectation, and random is worse than rollcure."""
    p = backtest_result.policies.set_index("policy")
    assert p.loc["rollcure", "expected_net_value"] > p.loc["dpd_ladder", "expected_net_value"]
    assert p.loc["rollcure", "realised_value"] > p.loc["dpd_ladder", "realised_value"]
    assert (p["regret"] >= -1e-6).all() and p.loc["oracle", "regret"] == 0
    assert p.loc["random", "regret"] > p.loc["rollcure", "regret"]


def test_the_oracle_beats_the_ladder_by_what_field_evidence_allows(backtest_result):
    """The value issue's world: the oracle's value exceeds the ladder's by 8-20% on held-out cases,
    with eligibility and capacities applied (Miller et al. 2012: deployed optimisers +8%)."""
    p = backtest_result.policies.set_index("policy")["expected_net_value"]
    assert 0.08 <= p["oracle"] / p["dpd_ladder"] - 1 <= 0.20


def test_rollcure_closes_a_fifth_of_the_ladders_regret(backtest_result):
    p = backtest_result.policies.set_index("policy")
    assert p.loc["rollcure", "regret"] <= 0.8 * p.loc["dpd_ladder", "regret"]


def test_metrics_are_consistent(backtest_result):
    p = backtest_result.policies
    assert list(p["policy"]) == list(POLICIES)
    assert p[["recovery_rate", "cure_rate", "roll_rate"]].apply(lambda s: s.between(0, 1)).all().all()
    assert (p["cost"] >= 0).all() and (p["cases"] == backtest_result.facts["cases"]).all()


def test_the_recovery_factors_are_reported_with_their_counts(backtest_result):
    f = pd.DataFrame(backtest_result.facts["recovery_factors"]).set_index("state")
    assert f["transitions"].sum() > 10_000
    assert f.loc["M0 unsecured", "recovery_factor"] > f.loc["M3 unsecured", "recovery_factor"]
    assert f.loc["M3 unsecured", "recovery_factor"] > f.loc["M7+ unsecured", "recovery_factor"]
    # re-aged is not as good as never late
    assert f.loc["M0 restructured unsecured", "recovery_factor"] < f.loc["M0 unsecured", "recovery_factor"]
    assert f["recovery_factor"].between(0, 1).all()


def test_the_facts_say_how_the_off_policy_models_were_fitted(backtest_result, trained_run):
    folds = trained_run.cfg.training.ope_folds
    assert folds >= 2  # the default: each case valued by models fitted without its loan
    assert backtest_result.facts["off_policy_folds"] == folds


def test_the_mix_against_the_oracle_is_reported_by_quadrant(backtest_result):
    c = backtest_result.confusion
    assert c["cases"].sum() == backtest_result.facts["cases"]
    quadrants = {f"{a} & {w}" for a in ("able", "unable") for w in ("willing", "unwilling")}
    assert set(c["quadrant"]) <= quadrants
    assert set(c["oracle"]) | set(c["rollcure"]) <= set(ACTIONS)
    clear = backtest_result.facts["clear_cases"]
    assert 0 < clear["cases"] <= backtest_result.facts["cases"]
    assert 0 <= clear["ladder_picks_the_best"] <= 1 and 0 <= clear["rollcure_picks_the_best"] <= 1
    # the oracle policy picks each case's best unless capacity took it: it beats both
    others = max(clear["rollcure_picks_the_best"], clear["ladder_picks_the_best"])
    assert clear["oracle_picks_the_best"] >= others


def test_off_policy_estimates_sit_beside_the_truth(backtest_result):
    o = backtest_result.off_policy.set_index("policy")
    assert set(o.index) == set(POLICIES)
    for k in ("ips", "snips", "dr"):
        assert ((o[f"{k}_low"] <= o[k]) & (o[k] <= o[f"{k}_high"])).all(), k
        np.testing.assert_allclose(o[f"{k}_error"], (o[k] - o["truth"]) / o["truth"].abs())
    assert (o["logged_cases"] > 1000).all()


def test_doubly_robust_estimates_are_within_ten_percent_and_cover_the_truth(backtest_result):
    o = backtest_result.off_policy.set_index("policy")
    assert (o["dr_error"].abs() <= 0.10).all(), o["dr_error"].round(3).to_dict()
    assert o["dr_covers"].all()


def test_doubly_robust_is_the_tighter_estimator(backtest_result):
    o = backtest_result.off_policy.set_index("policy")
    assert ((o["dr_high"] - o["dr_low"]) < (o["ips_high"] - o["ips_low"])).mean() >= 0.6


@pytest.mark.xfail(
    strict=True,
    reason="unmet: on the default book's 3,475 logged cases with a whole horizon, IPS errs by -23% to "
    "+4% (SNIPS -16% to +3%) with intervals 35-75% of the value wide, and DR's interval is 51% "
    "wide for random (errors within 7.9%, models cross-fitted by loan); on 30k x 24 (9,945 cases, "
    "measured before cross-fitting) DR met every bar (errors within 6.3%, widths 13-16%) but IPS "
    "still erred by up to 16% with widths 25-35%; docs/value.md",
)
def test_every_estimator_meets_the_strategists_bar(backtest_result):
    o = backtest_result.off_policy.set_index("policy")
    for k in ("ips", "snips", "dr"):
        assert (o[f"{k}_error"].abs() <= 0.10).all(), k
        assert o[f"{k}_covers"].all(), k
        assert (o[f"{k}_width"] < 0.30).all(), k


def test_forecast_conserves_cases_and_arms_are_reported(backtest_result):
    f = backtest_result.forecast.set_index("bucket")
    buckets = f.drop(index="overdue_balance")
    n = backtest_result.facts["cases"]
    for col in ("now", "forecast", "markov", "actual"):
        assert abs(buckets[col].sum() - n) < 1e-6 * n
    k = backtest_result.kpis
    assert set(k["source"]) == {"rollcure_backtest", "logged"} and set(k["by"]) == {"action", "bucket"}
    for (source, by), part in k.groupby(["source", "by"]):
        assert part["recovery_rate"].dropna().between(0, 2).all(), (source, by)
    arms = backtest_result.arms.set_index("arm")
    assert "champion" in arms.index and arms["cases"].sum() == n


def test_cli_backtest_writes_the_issue_json(policy_bundle_dir, sim_default_dir, tmp_path):
    out = tmp_path / "bt.json"
    plot = tmp_path / "bt.png"
    rc = run(
        [
            "backtest",
            "--data",
            str(sim_default_dir),
            "--bundle",
            str(policy_bundle_dir),
            "--json-out",
            str(out),
            "--plot",
            str(plot),
        ]
    )
    assert rc == 0
    doc = json.loads(out.read_text())
    assert set(doc["policies"]) == set(POLICIES)
    for name in POLICIES:
        assert set(doc["policies"][name]) == set(METRICS)
    assert doc["policies"]["oracle"]["regret"] == 0
    assert doc["expected_net_value"]["dpd_ladder"] < doc["expected_net_value"]["rollcure"]
    assert plot.stat().st_size > 1000


def test_cli_backtest_without_truth_exits_2(policy_bundle_dir, tmp_path, capsys):
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "unrelated.parquet")
    rc = run(["backtest", "--data", str(tmp_path), "--bundle", str(policy_bundle_dir)])
    assert rc == 2
    assert "error:" in capsys.readouterr().err
