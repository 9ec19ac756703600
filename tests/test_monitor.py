"""Ongoing monitoring (`rollcure monitor`): alerts on a drifting book, silence on a stable one, arm
intervals against the oracle's truth, and the statistics' own arithmetic."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fixtures_monitoring import MONITOR_SALT

from cli.main import run
from rollcure.core.catalogue import ACTIONS


def _monitor(book, bundle_dir, out, monkeypatch, *extra: str) -> tuple[int, dict]:
    monkeypatch.setenv("ROLLCURE_ID_SALT", MONITOR_SALT)
    json_out = out / "m.json"
    argv = [
        "monitor",
        "--data",
        str(book.data_dir),
        "--bundle",
        str(bundle_dir),
        "--decisions",
        book.decisions,
    ]
    code = run([*argv, "--out", str(out), "--json-out", str(json_out), *extra])
    return code, json.loads(json_out.read_text()) if json_out.exists() else {}


def test_drift_book_pages_psi_and_calibration_in_the_drift_cycle(
    monitor_books, tmp_path, monkeypatch, capsys
):
    code, report = _monitor(monitor_books.drift, monitor_books.bundle_dir, tmp_path, monkeypatch)
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert code == 3
    assert line.startswith("ALERT ") and "psi" in line and "calibration_in_the_large" in line
    drift = str(monitor_books.drift_cycle.date())
    first = {}
    for a in report["alerts"]:
        first.setdefault(a["name"], a["cycle"])
    assert first["psi"] == drift
    assert first["calibration_in_the_large"] == drift
    # nothing fires on a cohort whose outcome was over before the wave: before drift - 1 cycle
    before = str((monitor_books.drift_cycle - pd.offsets.MonthEnd(1)).date())
    assert all(a["cycle"] >= before for a in report["alerts"])
    assert (tmp_path / "monitoring.html").stat().st_size > 50_000


def test_stable_book_pages_nothing_over_six_cycles(monitor_books, tmp_path, monkeypatch, capsys):
    code, report = _monitor(monitor_books.stable, monitor_books.bundle_dir, tmp_path, monkeypatch)
    assert capsys.readouterr().out.strip().splitlines()[-1] == "monitor: no alert"
    assert code == 0 and report["alerts"] == []
    forward = pd.to_datetime(monitor_books.stable.forward_states["as_of"]).unique()
    assert len(forward) == 6 and {str(d.date()) for d in forward} <= set(report["facts"]["cycles"])
    labelled = [m for m in report["metrics"] if m["cases"] >= monitor_books.cfg.monitoring.min_cases]
    assert len({m["cycle"] for m in labelled}) >= 6  # six cycles judged on outcomes, not skipped


def _oracle_values(book, cases, valuation) -> np.ndarray:
    from simulation.oracle import action_values

    states = cases[["loan_id", "as_of"]].merge(book.forward_states, on=["loan_id", "as_of"], how="left")
    assert states["balance"].notna().all()
    values = action_values(states, book.sim_cfg, valuation)
    return values[[f"value_{a}" for a in ACTIONS]].to_numpy()


def test_arm_intervals_cover_the_oracles_difference(monitor_books, stable_monitor):
    from training.monitoring.arms import strategy_choices

    data, result = stable_monitor
    book = monitor_books.stable
    c = data.cases[data.cases["logged"] & data.cases["realised_value"].notna()].reset_index(drop=True)
    V = _oracle_values(book, c, data.valuation)
    taken = V[np.arange(len(c)), pd.Categorical(c["taken_action"], categories=list(ACTIONS)).codes]
    arm = c["arm"].to_numpy()
    truth = taken[arm == "champion"].mean() - taken[arm == "challenger"].mean()
    d = result.arm_difference
    assert d.low <= truth <= d.high, (truth, d)
    # off-policy on the exploration slice: both strategies on the same cases
    logged = data.cases[data.cases["logged"]].reset_index(drop=True)
    keep = ((logged["arm"] == "explore") & logged["realised_value"].notna()).to_numpy()
    choices = strategy_choices(monitor_books.bundle, logged, monitor_books.cfg.seed)
    Ve = _oracle_values(book, logged[keep], data.valuation)
    rows = np.arange(int(keep.sum()))
    ope_truth = (Ve[rows, choices["champion"][keep]] - Ve[rows, choices["challenger"][keep]]).mean()
    o = result.off_policy_difference
    assert o.low <= ope_truth <= o.high, (ope_truth, o)
    assert set(result.arms["arm"]) == {"champion", "challenger", "explore"}
    assert (result.arms["cases"] > 0).all()


def test_feature_psi_pages_only_when_configured(monitor_books, stable_monitor):
    from training.drift import psi_table
    from training.monitoring.alerts import psi_alerts

    data, result = stable_monitor
    assert not any(a.name == "feature_psi" for a in result.alerts)
    mcfg = monitor_books.cfg.monitoring.model_copy(update={"feature_psi_alert": 0.25})
    paged = psi_alerts(result.psi, mcfg)
    shifted = result.psi[(result.psi["kind"] == "feature") & (result.psi["psi"] > 0.25)]
    assert {a.cycle for a in paged if a.name == "feature_psi"} == {
        str(pd.Timestamp(d).date()) for d in shifted["cycle"].unique()
    }
    # the per-cycle PSI is the validation report's PSI of that cycle against the same sample
    day = data.cycles[-1]
    cols = [*data.features, "p_roll_forward", "p_cure"]
    direct = psi_table(data.reference[cols], data.cases.loc[data.cases["as_of"] == day, cols])
    ours = result.psi[result.psi["cycle"] == day].set_index("variable")["psi"]
    assert np.allclose(ours.loc[direct["variable"]].to_numpy(), direct["psi"].to_numpy())


def test_bad_input_exits_2_naming_the_option(monitor_books, tmp_path, monkeypatch, capsys):
    code, _ = _monitor(
        monitor_books.stable, monitor_books.bundle_dir, tmp_path, monkeypatch, "--since", "2025-02-30"
    )
    assert code == 2 and "--since" in capsys.readouterr().err
    code, _ = _monitor(
        monitor_books.stable, monitor_books.bundle_dir, tmp_path, monkeypatch, "--since", "2031-01-31"
    )
    assert code == 2 and "--since: no cycle after the champion's training" in capsys.readouterr().err
    monkeypatch.delenv("ROLLCURE_ID_SALT")
    argv = [
        "monitor",
        "--data",
        str(monitor_books.stable.data_dir),
        "--bundle",
        str(monitor_books.bundle_dir),
    ]
    code = run([*argv, "--decisions", monitor_books.stable.decisions, "--out", str(tmp_path)])
    assert code == 2 and "ROLLCURE_ID_SALT" in capsys.readouterr().err


def test_monitoring_config_names_the_broken_field():
    from rollcure.config import load_config
    from rollcure.core.errors import InputError

    with pytest.raises(InputError, match="monitoring"):
        load_config(None, monitoring={"calibration_slope_low": 1.5, "calibration_slope_high": 1.2})
    with pytest.raises(InputError, match="monitoring.psi_alert"):
        load_config(None, monitoring={"psi_alert": -1})


def test_shock_wave_changes_the_book_from_its_month_only():
    from simulation import SimulationConfig, simulate

    base = SimulationConfig(accounts=3_000, months=6)
    wave = base.model_copy(update={"drift": base.drift.model_copy(update={"from_month": 3})})
    a, b = (simulate(c, seed=5).tables["cycles"] for c in (base, wave))
    start = pd.Timestamp(base.start_date)
    cut = (start.to_period("M") + 3).to_timestamp(how="end").normalize()
    before = [c[c["cycle_date"] < cut].reset_index(drop=True) for c in (a, b)]
    pd.testing.assert_frame_equal(*before)
    overdue = lambda c: int((c.loc[c["cycle_date"] == cut, "dpd"] > 0).sum())  # noqa: E731
    assert overdue(b) > 1.3 * overdue(a)


def test_intervals_agree_with_the_plain_statistics():
    from sklearn.linear_model import LogisticRegression

    from models.metrics import auc
    from training.monitoring.intervals import auc_interval, calibration_fit, ratio_interval

    rng = np.random.default_rng(3)
    p = rng.uniform(0.02, 0.9, 1500)
    y = (rng.random(1500) < 1 / (1 + np.exp(-1.6 * np.log(p / (1 - p))))).astype(float)  # too timid a score
    a, b = calibration_fit(y, p, np.ones((1, len(y))))
    ref = LogisticRegression(C=1e12).fit(np.log(p / (1 - p))[:, None], y)
    assert b[0] == pytest.approx(ref.coef_[0, 0], rel=1e-4) and b[0] > 1.3
    assert a[0] == pytest.approx(ref.intercept_[0], abs=1e-3)  # lbfgs stops short of Newton
    i = auc_interval(y, p, 200, 0.95, 1)
    assert i.value == pytest.approx(auc(y, p)) and i.low < i.value < i.high
    ties = np.repeat([0.2, 0.4, 0.6], 50)
    assert auc_interval(np.tile([0.0, 1.0], 75), ties, 50, 0.95, 1).value == pytest.approx(
        auc(np.tile([0.0, 1.0], 75), ties)
    )
    oe = ratio_interval(y, p, 200, 0.95, 1)
    assert oe.value == pytest.approx(y.sum() / p.sum()) and oe.low < oe.value < oe.high


def test_demo_step_serves_the_latest_cycle_and_monitors_one_cycle_on(monitor_books, tmp_path, monkeypatch):
    from cli.commands.monitor import forward_and_monitor
    from serving.decision_log import DecisionLog

    monkeypatch.setenv("ROLLCURE_ID_SALT", MONITOR_SALT)
    cfg = monitor_books.cfg.model_copy(update={"data_dir": tmp_path})
    out = tmp_path / "monitoring"
    result = forward_and_monitor(cfg, monitor_books.stable.data_dir, monitor_books.bundle, "1", out)
    sim = monitor_books.stable.sim_cfg
    start = pd.Timestamp(sim.start_date).to_period("M")
    latest, forward = ((start + k).to_timestamp(how="end").normalize() for k in (sim.months - 1, sim.months))
    assert result.facts["cycles"][-1] == str(forward.date())
    log = DecisionLog.open(f"sqlite:///{tmp_path / 'decisions.sqlite'}")
    as_of = {row["as_of"] for chunk in log.iter_chunks() for row in chunk}
    log.close()
    assert as_of == {str(latest.date()), str(forward.date())}
    # the latest cycle's decisions met their outcomes one cycle on: every arm has realised values
    assert (result.arms["cases"] > 0).all() and result.facts["logged_cases"] > 0
    assert (out / "monitoring.html").is_file() and (out / "monitoring.json").is_file()


def test_log_reader_names_what_is_wrong(tmp_path):
    from rollcure.core.errors import InputError
    from training.monitoring.log_reader import read_decision_log

    partial = tmp_path / "partial.parquet"
    pd.DataFrame({"case_hash": ["a"], "as_of": ["2025-01-31"]}).to_parquet(partial)
    with pytest.raises(InputError, match=r"--decisions: the decision log lacks column\(s\) \['decided_at'"):
        read_decision_log(partial)
    with pytest.raises(InputError, match="--decisions: file not found"):
        read_decision_log(tmp_path / "missing.parquet")
    with pytest.raises(InputError, match="--decisions: not a database URL"):
        read_decision_log("not a url")
    with pytest.raises(InputError, match="no 'decisions' table"):
        read_decision_log(f"sqlite:///{tmp_path / 'empty.sqlite'}")


def test_monitored_cycles_start_after_training_or_at_since():
    from training.monitoring.data import monitored_cycles

    cycles = pd.DataFrame({"cycle_date": pd.date_range("2025-01-31", periods=6, freq="ME").repeat(2)})
    trained = pd.Timestamp("2025-03-31")
    assert [str(d.date()) for d in monitored_cycles(cycles, trained, None)] == [
        "2025-04-30",
        "2025-05-31",
        "2025-06-30",
    ]
    assert [str(d.date()) for d in monitored_cycles(cycles, trained, pd.Timestamp("2025-06-01"))] == [
        "2025-06-30"
    ]
    # a --since before training still starts after it: cycles the champion saw are not monitored
    assert len(monitored_cycles(cycles, trained, pd.Timestamp("2024-01-01"))) == 3
