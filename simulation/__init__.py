"""The synthetic portfolio: a lending book whose causal truth is known.

Public API: :func:`simulate`, :func:`write_portfolio`, :func:`read_simulation_config`,
:class:`Portfolio`, :class:`SimulationConfig`;
``simulation.oracle`` (true action values) and ``simulation.summary`` (portfolio summary).
"""

from rollcure.config.simulation import SimulationConfig
from simulation.simulate import Portfolio, read_simulation_config, simulate, write_portfolio

__all__ = ["Portfolio", "SimulationConfig", "read_simulation_config", "simulate", "write_portfolio"]
