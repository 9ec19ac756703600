"""The oracle: what each action would truly have recovered from a case, known because we built the world.

A case state (a row of ``truth/case_states``) holds every variable the next months depend on. To
value action *a* the oracle replays the case with :func:`simulation.dynamics.month_step` (the
simulator's own step, not a copy): the first cycle under *a*, later cycles under the logging
policy, exactly as the simulator would have continued. The horizon is ``round(horizon_days / 30)``
whole cycles, the same cycles ``features.labels`` sums for the recovered-amount label.

* :func:`potential_outcomes` draws ONE future per case and applies it to every action (common
  random numbers: the same shocks, payment draws and later policy draws), so two policies are
  compared on the same luck.
* :func:`action_values` averages ``cfg.oracle_draws`` such futures: the expected recovered amount
  minus the action's cost, per action, and the best action.

Example::

    values = action_values(portfolio.truth["case_states"], cfg)
    values[["loan_id", "as_of", "value_reminder", "best_action"]]
"""

from __future__ import annotations

from dataclasses import fields

import numpy as np
import pandas as pd

from rollcure.config.simulation import SimulationConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.domain import cycles_in_horizon
from rollcure.core.errors import InputError
from simulation.dynamics import N_UNIFORMS, LoanState, bucket_now, month_step
from simulation.logging_policy import choose, propensities

_STATE_COLUMNS = tuple(f.name for f in fields(LoanState))
#: Rows (cases x actions x draws) replayed at once; bounds memory at a few hundred MB.
_CHUNK_ROWS = 400_000
_DEFAULT_ORACLE_SEED = 20_240_131


def horizon_cycles(as_of: pd.Series, horizon_days: int) -> np.ndarray:
    """Cycles in the horizon per case: ``round(horizon_days / 30)`` (at least one) whole cycles.

    Payments are stamped at month-end cycles, so the horizon is counted in whole cycles, the same
    window ``features.labels`` sums for the recovered-amount label (90 days = the next 3 cycles).
    """
    n = cycles_in_horizon(horizon_days)
    return np.full(len(as_of), n, dtype=np.int64)


def state_of_cases(case_states: pd.DataFrame) -> LoanState:
    """The dynamic state of each case (a row of truth/case_states) as struct of arrays."""
    missing = [c for c in ("loan_id", "as_of", *_STATE_COLUMNS) if c not in case_states.columns]
    if missing:
        raise InputError(f"case_states: missing columns {missing}")
    return LoanState(**{c: case_states[c].to_numpy().copy() for c in _STATE_COLUMNS})


def _replay(
    state: LoanState,
    first_action: np.ndarray,
    steps: np.ndarray,
    u: np.ndarray,
    u_pol: np.ndarray,
    cfg: SimulationConfig,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run each row forward ``steps`` cycles; returns (recovered, cured next cycle, rolled next cycle)."""
    n = len(state)
    recovered = np.zeros(n)
    alive = np.ones(n, dtype=bool)
    bucket0 = bucket_now(state)
    action = first_action.astype(np.int8)
    cure = roll = np.zeros(n, dtype=bool)
    for t in range(int(steps.max(initial=0))):  # loop over the horizon's months
        res = month_step(state, action, u[:, t], cfg)
        counted = alive & (t < steps)
        recovered += np.where(counted, res.paid, 0.0)
        if t == 0:
            cure = state.missed == 0
            roll = bucket_now(state) > bucket0
        alive &= ~(res.closed | res.written_off)
        overdue = alive & (state.missed > 0)
        action = np.zeros(n, dtype=np.int8)
        if overdue.any():
            rows = np.flatnonzero(overdue)
            p = propensities(state.take(rows), cfg)
            action[rows] = choose(p, u_pol[rows, t])
    return recovered, cure, roll


def _outcomes(
    case_states: pd.DataFrame, cfg: SimulationConfig, seed: int, draws: int, horizon_days: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays (cases, draws, actions) of recovered, cure, roll under common random numbers."""
    n, n_act = len(case_states), len(ACTIONS)
    steps_case = horizon_cycles(case_states["as_of"], horizon_days)
    max_steps = max(int(steps_case.max(initial=0)), 1)
    base = state_of_cases(case_states)
    # one stream per month of the horizon, so a shorter horizon replays the same first months
    streams = [np.random.default_rng([seed, t]) for t in range(max_steps)]
    u_all = np.stack([s.random((n, draws, N_UNIFORMS)) for s in streams], axis=2)
    pol_all = np.stack([s.random((n, draws)) for s in streams], axis=2)
    out = [np.zeros((n, draws, n_act)) for _ in range(3)]
    per_case = draws * n_act
    chunk = max(1, _CHUNK_ROWS // per_case)
    for lo in range(0, n, chunk):  # chunks bound memory; each chunk is vectorised
        hi = min(n, lo + chunk)
        m = hi - lo
        state = base.take(np.repeat(np.arange(lo, hi), per_case))
        u = np.repeat(u_all[lo:hi].reshape(m * draws, max_steps, N_UNIFORMS), n_act, axis=0)
        u_pol = np.repeat(pol_all[lo:hi].reshape(m * draws, max_steps), n_act, axis=0)
        first = np.tile(np.arange(n_act), m * draws)
        steps = np.repeat(steps_case[lo:hi], per_case)
        rec, cure, roll = _replay(state, first, steps, u, u_pol, cfg)
        for arr, res in zip(out, (rec, cure, roll), strict=True):
            arr[lo:hi] = res.reshape(m, draws, n_act)
    return out[0], out[1], out[2]


def potential_outcomes(
    case_states: pd.DataFrame, cfg: SimulationConfig, seed: int, horizon_days: int | None = None
) -> pd.DataFrame:
    """One realised future per case, shared by all actions: ``recovered_<a>``, ``cure_<a>``, ``roll_<a>``."""
    h = cfg.horizon_days if horizon_days is None else horizon_days
    rec, cure, roll = _outcomes(case_states, cfg, seed, 1, h)
    frame = case_states[["loan_id", "as_of"]].reset_index(drop=True).copy()
    for j, a in enumerate(ACTIONS):
        frame[f"recovered_{a}"] = rec[:, 0, j].round(2)
        frame[f"cure_{a}"] = cure[:, 0, j].astype(bool)
        frame[f"roll_{a}"] = roll[:, 0, j].astype(bool)
    return frame


def action_values(
    case_states: pd.DataFrame,
    cfg: SimulationConfig,
    horizon_days: int | None = None,
    seed: int = _DEFAULT_ORACLE_SEED,
) -> pd.DataFrame:
    """True expected net recovery per action over the horizon (``value_<a>``) and the ``best_action``.

    Also returns ``recovered_<a>`` (expected recovered amount), ``p_cure_<a>`` and ``p_roll_<a>``.
    ``best_action`` is the argmax over all actions; a backtest that restricts actions (eligibility,
    compliance) should mask the ``value_`` columns and take its own argmax.
    """
    h = cfg.horizon_days if horizon_days is None else horizon_days
    rec, cure, roll = _outcomes(case_states, cfg, seed, cfg.oracle_draws, h)
    costs = np.asarray(cfg.cost_vector())
    mean_rec = rec.mean(axis=1)
    values = mean_rec - costs[None, :]
    frame = case_states[["loan_id", "as_of"]].reset_index(drop=True).copy()
    for j, a in enumerate(ACTIONS):
        frame[f"value_{a}"] = values[:, j]
    for j, a in enumerate(ACTIONS):
        frame[f"recovered_{a}"] = mean_rec[:, j]
        frame[f"p_cure_{a}"] = cure.mean(axis=1)[:, j]
        frame[f"p_roll_{a}"] = roll.mean(axis=1)[:, j]
    frame["best_action"] = pd.Series(np.asarray(ACTIONS)[values.argmax(axis=1)], dtype="str")
    return frame
