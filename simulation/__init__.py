"""The synthetic portfolio: a lending book whose causal truth is known.

Public API: :func:`simulate`, :func:`write_portfolio`, :func:`read_simulation_config`,
:func:`read_simulation_seed`, :class:`Portfolio`, :class:`SimulationConfig`, and for month-by-month
runs :class:`BookRun` and :func:`run_window`;
``simulation.oracle`` (true action values) and ``simulation.summary`` (portfolio summary).
"""

from rollcure.config.simulation import SimulationConfig
from simulation.simulate import (
    BookRun,
    Portfolio,
    read_simulation_config,
    read_simulation_seed,
    run_window,
    simulate,
    write_portfolio,
)

__all__ = [
    "BookRun",
    "Portfolio",
    "SimulationConfig",
    "read_simulation_config",
    "read_simulation_seed",
    "run_window",
    "simulate",
    "write_portfolio",
]
