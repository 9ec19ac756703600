"""Segmentation of the overdue book: both views, conservation of cases and balance, CLI files."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cli.main import run
from models.policy import decide
from training.segment import QUADRANTS, ability_proxy, assign_segments, segment_book, willingness_proxy


@pytest.fixture(scope="module")
def segments(policy_bundle, latest_book):
    d = decide(policy_bundle, latest_book, seed=2, explain=False).to_frame()
    return segment_book(policy_bundle, latest_book, d), d


def test_views_conserve_cases_and_balance(segments, latest_book):
    tables, _ = segments
    n, bal = len(latest_book), latest_book["balance"].sum()
    for name in ("ability_willingness", "risk_balance"):
        t = tables[name]
        assert t["cases"].sum() == n
        assert t["balance"].sum() == pytest.approx(bal)
    mix = tables["ability_willingness"].filter(like="mix_")
    np.testing.assert_allclose(mix.sum(axis=1)[tables["ability_willingness"]["cases"] > 0], 1.0)
    assert set(tables["ability_willingness"]["quadrant"].astype(str)) == set(QUADRANTS)


def test_quadrants_follow_the_proxies():
    X = pd.DataFrame(
        {
            "monthly_income": [5000.0, 5000.0, 500.0, 500.0],
            "other_debt": [0.0, 0.0, 0.0, 0.0],
            "instalment": [200.0, 200.0, 200.0, 200.0],
            "paid_to_due_6": [1.0, 0.0, 1.0, 0.0],
            "ptp_kept_ratio_90d": [1.0, 0.0, 1.0, np.nan],
            "rpc_rate_90d": [0.9, 0.1, 0.9, 0.1],
            "balance": [100.0, 200.0, 300.0, 400.0],
        }
    )
    seg = assign_segments(X, np.array([0.1, 0.5, 0.7, 0.9]))
    assert seg["quadrant"].astype(str).tolist() == [
        "able_willing",
        "able_unwilling",
        "unable_willing",
        "unable_unwilling",
    ]
    assert seg["risk_band"].astype(str).tolist() == ["low", "mid", "high", "high"]
    assert ability_proxy(X)[0] == pytest.approx(25.0)
    assert willingness_proxy(X)[3] == pytest.approx(0.05)


def test_willing_segments_cure_more(segments):
    tables, _ = segments
    q = tables["ability_willingness"].set_index("quadrant")
    assert q.loc["able_willing", "p_cure"] > q.loc["unable_unwilling", "p_cure"]


def test_cli_segment_writes_tables_and_plots(policy_bundle_dir, sim_default_dir, tmp_path):
    out = tmp_path / "seg"
    rc = run(
        ["segment", "--data", str(sim_default_dir), "--bundle", str(policy_bundle_dir), "--out", str(out)]
    )
    assert rc == 0
    for name in ("ability_willingness", "risk_balance", "cases"):
        assert (out / f"{name}.csv").is_file() and (out / f"{name}.parquet").is_file()
    assert len(list(out.glob("*.png"))) == 2
    assert pd.read_parquet(out / "risk_balance.parquet")["cases"].sum() > 0


def test_cli_segment_bad_date_exits_2(policy_bundle_dir, sim_default_dir, capsys):
    rc = run(
        ["segment", "--data", str(sim_default_dir), "--bundle", str(policy_bundle_dir), "--as-of", "soon"]
    )
    assert rc == 2
    assert "--as-of" in capsys.readouterr().err
