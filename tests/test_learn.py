"""The learning loop on a small live book: decide, play the month, refit; deterministic; the CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from rollcure.config import RollcureConfig
from rollcure.core.catalogue import ACTIONS
from simulation import SimulationConfig, run_window

SIM = SimulationConfig(accounts=3000, months=14)


def _cfg() -> RollcureConfig:
    return RollcureConfig(seed=3, simulation=SIM, model={"lightgbm": {"num_threads": 1}})


@pytest.fixture(scope="module")
def learnt():
    from training.learn import run_learning

    return run_learning(_cfg(), run_window(SIM, 5), cycles=2)


def test_each_live_cycle_is_scored_against_the_oracle(learnt):
    f = learnt.cycles
    assert list(f["cycle"]) == [1, 2]
    assert pd.to_datetime(f["as_of"]).is_monotonic_increasing
    assert (f["regret"] >= -1e-6).all() and (f["oracle_value"] >= f["value"] - 1e-6).all()
    mix = f[[f"mix_{a}" for a in ACTIONS]].sum(axis=1)
    assert (mix == f["cases"]).all()
    # the second refit saw one more cycle of logs than the first
    assert f["training_cases"].iloc[1] > f["training_cases"].iloc[0]


def test_the_book_goes_on_with_rollcures_decisions_logged_deterministically(learnt):
    """The live months are written like the history (cycles, and actions with their propensities),
    and the same seed gives the same first cycle."""
    from training.learn import run_learning

    run = run_window(SIM, 5)
    before = run.portfolio().tables
    again = run_learning(_cfg(), run, cycles=1)
    pd.testing.assert_frame_equal(again.cycles, learnt.cycles.iloc[:1])
    after = run.portfolio().tables
    new = after["actions"][after["actions"]["decided_at"] > before["actions"]["decided_at"].max()]
    assert len(new) == learnt.cycles["cases"].iloc[0]
    assert new["propensity"].between(0, 1, inclusive="right").all()
    assert after["cycles"]["cycle_date"].max() > before["cycles"]["cycle_date"].max()


def test_cli_learn_continues_a_written_book_and_refuses_a_foreign_one(tmp_path, capsys):
    from cli.main import run

    book = tmp_path / "book"
    assert run(["simulate", "--accounts", "3000", "--months", "14", "--seed", "5", "--out", str(book)]) == 0
    out = tmp_path / "learn.json"
    plot = tmp_path / "learn.png"
    argv = ["learn", "--data", str(book), "--cycles", "1", "--json-out", str(out), "--plot", str(plot)]
    assert run(argv) == 0
    doc = json.loads(out.read_text())
    assert len(doc["cycles"]) == 1 and doc["facts"]["seed"] == 5
    assert plot.stat().st_size > 1000
    # a folder whose tables are not the book its config and seed make is refused
    cycles = pd.read_parquet(book / "cycles.parquet")
    cycles["paid_amount"] = np.where(cycles.index == 0, cycles["paid_amount"] + 1, cycles["paid_amount"])
    cycles.to_parquet(book / "cycles.parquet")
    capsys.readouterr()
    assert run(["learn", "--data", str(book), "--cycles", "1"]) == 2
    assert "not the book its simulation config and seed make" in capsys.readouterr().err
