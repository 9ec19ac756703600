"""Fixtures of the simulation stage (session-scoped, visible to every test file).

``sim_small``: a 2,000-account x 12-month portfolio (seed 11) for unit tests.
``sim_default_dir``: the default demo portfolio (``SimulationConfig()`` sizes, seed 7) written once
per session with ``simulation.write_portfolio``; other stages train on it in acceptance tests.
"""

from __future__ import annotations

import pytest

SMALL_SEED = 11
DEFAULT_SEED = 7


@pytest.fixture(scope="session")
def sim_small():
    from simulation import SimulationConfig, simulate

    return simulate(SimulationConfig(accounts=2_000, months=12), seed=SMALL_SEED)


@pytest.fixture(scope="session")
def sim_default():
    from simulation import SimulationConfig, simulate

    return simulate(SimulationConfig(), seed=DEFAULT_SEED)


@pytest.fixture(scope="session")
def sim_default_dir(sim_default, tmp_path_factory):
    from simulation import write_portfolio

    out = tmp_path_factory.mktemp("sim_default")
    write_portfolio(sim_default, out)
    return out


def book_valuation(portfolio):
    """The value definition with recovery factors estimated from a simulated book's own tables."""
    from rollcure.core.value import ValueConfig
    from rollcure.core.value_history import estimate_valuation

    t = portfolio.tables
    return estimate_valuation(t["cycles"], t["loans"], t["actions"], ValueConfig())


@pytest.fixture(scope="session")
def valuation_small(sim_small):
    return book_valuation(sim_small)


@pytest.fixture(scope="session")
def valuation_default(sim_default):
    return book_valuation(sim_default)
