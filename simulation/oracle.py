"""The oracle: what each action is truly worth in a case, known because we built the world.

A case state (a row of ``truth/case_states``) holds every variable the next months depend on. To
value action *a* the oracle replays the case with :func:`simulation.dynamics.month_step` (the
simulator's own step, not a copy): the first cycle under *a*, later cycles under the logging
policy, exactly as the simulator would have continued, for the valuation's horizon; the value is
``rollcure.core.value.horizon_value`` of that future (discounted cash − costs + the terminal
state's recovery factor × balance), the same function the labels apply to the recorded book.

* :func:`potential_outcomes` draws ONE future per case and applies it to every action (common
  random numbers: the same shocks, payment draws and later policy draws), so two policies are
  compared on the same luck.
* :func:`action_values` averages ``cfg.oracle_draws`` such futures: the expected value per
  action, and the best action.

Example::

    # rollcure.core.value_history: recovery factors from the book's own tables
    valuation = estimate_valuation(tables["cycles"], tables["loans"], tables["actions"], ValueConfig())
    values = action_values(portfolio.truth["case_states"], cfg, valuation)
    values[["loan_id", "as_of", "value_reminder", "best_action"]]
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from rollcure.config.simulation import SimulationConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.errors import InputError
from rollcure.core.value import Valuation
from simulation.dynamics import N_UNIFORMS, LoanState, bucket_now, month_step
from simulation.logging_policy import choose, propensities

_STATE_COLUMNS = tuple(f.name for f in fields(LoanState))
#: Row-months (cases x actions x draws x horizon) replayed at once; bounds memory at a few hundred MB.
_CHUNK_ROWS = 4_000_000
_DEFAULT_ORACLE_SEED = 20_240_131


def state_of_cases(case_states: pd.DataFrame) -> LoanState:
    """The dynamic state of each case (a row of truth/case_states) as struct of arrays."""
    missing = [c for c in ("loan_id", "as_of", *_STATE_COLUMNS) if c not in case_states.columns]
    if missing:
        raise InputError(f"case_states: missing columns {missing}")
    return LoanState(**{c: case_states[c].to_numpy().copy() for c in _STATE_COLUMNS})


@dataclass
class _Futures:
    """Per replayed row: the value, the cash within the horizon, cure and roll at the next cycle."""

    value: np.ndarray
    cash: np.ndarray
    cure: np.ndarray
    roll: np.ndarray


def _replay(
    state: LoanState,
    first_action: np.ndarray,
    u: np.ndarray,
    u_pol: np.ndarray,
    cfg: SimulationConfig,
    valuation: Valuation,
) -> _Futures:
    """Run each row forward the valuation's horizon and value it (``rollcure.core.value``)."""
    n, h = len(state), valuation.horizon
    costs = np.asarray(cfg.cost_vector())
    cash, spent = np.zeros((n, h)), np.zeros((n, h))
    alive = np.ones(n, dtype=bool)
    written_off = np.zeros(n, dtype=bool)
    off_balance = np.zeros(n)
    bucket0 = bucket_now(state)
    action = first_action.astype(np.int8)
    cure = roll = np.zeros(n, dtype=bool)
    for t in range(h):  # loop over the horizon's months
        spent[:, t] = np.where(alive, costs[action], 0.0)
        res = month_step(state, action, u[:, t], cfg)
        cash[:, t] = np.where(alive, res.paid, 0.0)
        if t == 0:
            cure = state.missed == 0
            roll = bucket_now(state) > bucket0
        newly_off = alive & res.written_off
        off_balance = np.where(newly_off, state.balance, off_balance)
        written_off |= newly_off
        alive &= ~(res.closed | res.written_off)
        overdue = alive & (state.missed > 0)
        action = np.zeros(n, dtype=np.int8)
        if overdue.any():
            rows = np.flatnonzero(overdue)
            p = propensities(state.take(rows), cfg)
            action[rows] = choose(p, u_pol[rows, t])
    live_factor = valuation.terminal_factor(bucket_now(state), state.restructured_ago, state.secured)
    terminal_balance = np.where(alive, state.balance, np.where(written_off, off_balance, 0.0))
    terminal_factor = np.where(written_off, valuation.chargeoff_factor, live_factor)
    value = valuation.value(cash, spent, terminal_balance, terminal_factor)
    return _Futures(value, cash.sum(axis=1), cure, roll)


def _outcomes(
    case_states: pd.DataFrame, cfg: SimulationConfig, valuation: Valuation, seed: int, draws: int
) -> _Futures:
    """Arrays (cases, draws, actions) of the futures under common random numbers."""
    n, n_act = len(case_states), len(ACTIONS)
    steps = valuation.horizon
    base = state_of_cases(case_states)
    # one stream per month of the horizon, so a shorter horizon replays the same first months
    streams = [np.random.default_rng([seed, t]) for t in range(steps)]
    u_all = np.stack([s.random((n, draws, N_UNIFORMS)) for s in streams], axis=2)
    pol_all = np.stack([s.random((n, draws)) for s in streams], axis=2)
    out = _Futures(*(np.zeros((n, draws, n_act)) for _ in range(4)))
    per_case = draws * n_act
    chunk = max(1, _CHUNK_ROWS // (per_case * steps))
    for lo in range(0, n, chunk):  # chunks bound memory; each chunk is vectorised
        hi = min(n, lo + chunk)
        m = hi - lo
        state = base.take(np.repeat(np.arange(lo, hi), per_case))
        u = np.repeat(u_all[lo:hi].reshape(m * draws, steps, N_UNIFORMS), n_act, axis=0)
        u_pol = np.repeat(pol_all[lo:hi].reshape(m * draws, steps), n_act, axis=0)
        first = np.tile(np.arange(n_act), m * draws)
        res = _replay(state, first, u, u_pol, cfg, valuation)
        for f in fields(_Futures):
            getattr(out, f.name)[lo:hi] = getattr(res, f.name).reshape(m, draws, n_act)
    return out


def potential_outcomes(
    case_states: pd.DataFrame, cfg: SimulationConfig, valuation: Valuation, seed: int
) -> pd.DataFrame:
    """One realised future per case, shared by all actions: ``value_<a>``, ``cash_<a>``, ``cure_<a>``,
    ``roll_<a>`` (value as in ``rollcure.core.value``, the action's own cost included)."""
    f = _outcomes(case_states, cfg, valuation, seed, 1)
    frame = case_states[["loan_id", "as_of"]].reset_index(drop=True).copy()
    for j, a in enumerate(ACTIONS):
        frame[f"value_{a}"] = f.value[:, 0, j]
        frame[f"cash_{a}"] = f.cash[:, 0, j].round(2)
        frame[f"cure_{a}"] = f.cure[:, 0, j].astype(bool)
        frame[f"roll_{a}"] = f.roll[:, 0, j].astype(bool)
    return frame


def action_values(
    case_states: pd.DataFrame,
    cfg: SimulationConfig,
    valuation: Valuation,
    seed: int = _DEFAULT_ORACLE_SEED,
) -> pd.DataFrame:
    """True expected value per action (``value_<a>``, ``rollcure.core.value``) and the ``best_action``.

    Also returns ``cash_<a>`` (expected cash within the horizon), ``p_cure_<a>`` and ``p_roll_<a>``.
    ``best_action`` is the argmax over all actions; a backtest that restricts actions (eligibility,
    compliance) should mask the ``value_`` columns and take its own argmax.
    """
    f = _outcomes(case_states, cfg, valuation, seed, cfg.oracle_draws)
    values = f.value.mean(axis=1)
    frame = case_states[["loan_id", "as_of"]].reset_index(drop=True).copy()
    for j, a in enumerate(ACTIONS):
        frame[f"value_{a}"] = values[:, j]
    for j, a in enumerate(ACTIONS):
        frame[f"cash_{a}"] = f.cash.mean(axis=1)[:, j]
        frame[f"p_cure_{a}"] = f.cure.mean(axis=1)[:, j]
        frame[f"p_roll_{a}"] = f.roll.mean(axis=1)[:, j]
    frame["best_action"] = pd.Series(np.asarray(ACTIONS)[values.argmax(axis=1)], dtype="str")
    return frame
