"""Portfolio summary: the figures the demo prints."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from rollcure.core.domain import BUCKETS, TIERS
from simulation.summary import portfolio_summary, render_summary, transition_matrix


def test_summary_has_the_five_parts_and_they_add_up(sim_small):
    s = portfolio_summary(sim_small.tables)
    assert set(s) == {"overview", "accounts", "overdue_by_bucket", "tiers", "transitions"}
    cyc = sim_small.tables["cycles"]
    last = cyc[cyc["cycle_date"] == cyc["cycle_date"].max()]
    assert s["accounts"]["accounts"].sum() == len(last)
    assert s["overdue_by_bucket"]["bucket"].tolist() == list(BUCKETS)
    assert s["overdue_by_bucket"]["accounts"].sum() == len(last)
    np.testing.assert_allclose(s["overdue_by_bucket"]["balance"].sum(), last["balance"].sum())
    assert s["tiers"]["tier"].tolist() == list(TIERS)
    assert s["tiers"]["by_dpd"].sum() == s["tiers"]["by_missed_instalments"].sum() == len(last)


def test_transition_rows_are_shares_and_rates_match_the_matrix(sim_small):
    t = transition_matrix(sim_small.tables["cycles"])
    shares = t[list(BUCKETS)].to_numpy()
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    np.testing.assert_allclose(t["cure_rate"], t["M0"])
    np.testing.assert_allclose(
        t.loc["M1", "roll_rate"], t.loc["M1", ["M2", "M3", "M4", "M5", "M6", "M7+"]].sum()
    )
    assert t.loc["M1", ["M3", "M4"]].sum() == 0  # one cycle moves at most one bucket forward


def test_render_prints_every_table(sim_small):
    console = Console(record=True, width=160)
    render_summary(portfolio_summary(sim_small.tables), console)
    text = console.export_text()
    for title in ("Portfolio", "Accounts by product", "Balance by bucket", "Five-tier", "Bucket transitions"):
        assert title in text
    assert "special_mention" in text and "M7+" in text


def test_transitions_skip_a_month_missing_from_the_book(tiny_tables):
    """Loan 10 without its April row: March (M1) -> May (M0) is two cycles, not a one-cycle cure."""
    cycles = tiny_tables["cycles"]
    gap = cycles[~((cycles["loan_id"] == 10) & (cycles["cycle_date"] == "2024-04-30"))]
    full, holed = transition_matrix(cycles), transition_matrix(gap)
    assert (full.loc["M1", "cases"], full.loc["M1", "roll_rate"]) == (1, 1.0)  # March -> April M2
    assert holed.loc["M1", "cases"] == 0  # June has no next cycle either
