"""Run the synthetic book month by month and collect the five raw tables plus the latent truth.

Vectorised over loans; the only Python loop is over months. A burn-in of ``burn_in_months`` cycles
runs before the window so the delinquency mix has settled when the first written cycle starts.
Each month: advance every live loan with :func:`simulation.dynamics.month_step` under the action
decided at the previous cycle end, write the cycle rows, generate the collectors' contacts that
followed last month's decisions, then let the logging policy decide for every overdue case.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from rollcure.domain import ACTIONS, BUCKETS, FLAGS, bucket_index
from rollcure.errors import InputError
from rollcure.io import TRUTH_DIR, write_tables, write_truth
from simulation.config import SimulationConfig
from simulation.contacts import contacts_after_decisions, empty_contacts
from simulation.dynamics import N_UNIFORMS, LoanState, dpd_of, effective_latents, month_step
from simulation.logging_policy import choose, propensities
from simulation.population import build_population

Progress = Callable[[int, int], None]
CONFIG_FILE = "simulation_config.json"


@dataclass
class Portfolio:
    """The five raw tables (``tables``) and the simulator's latent truth (``truth``)."""

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    config: SimulationConfig = field(repr=False, default_factory=SimulationConfig)


class _Columns:
    """Append-only column store: a list of arrays per column, concatenated once at the end."""

    def __init__(self) -> None:
        self._cols: dict[str, list[np.ndarray]] = {}

    def add(self, **cols: np.ndarray) -> None:
        for k, v in cols.items():
            self._cols.setdefault(k, []).append(np.asarray(v))

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({k: np.concatenate(v) for k, v in self._cols.items()})


def _str(values: np.ndarray, vocab: tuple[str, ...]) -> pd.Series:
    return pd.Series(pd.Categorical.from_codes(values, categories=list(vocab))).astype("str")


def _month_end(first: pd.Timestamp, k: int) -> np.datetime64:
    stamp = (pd.Timestamp(first).to_period("M") + k).to_timestamp(how="end").normalize()
    return np.datetime64(stamp.to_datetime64(), "ns")


def simulate(cfg: SimulationConfig, seed: int, progress: Progress | None = None) -> Portfolio:
    """Simulate ``cfg.accounts`` loans over ``cfg.months`` cycles, deterministically for ``seed``.

    ``progress(done, total)`` is called after every simulated month (burn-in included).
    """
    if not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed: must be an integer >= 0, got {seed!r}")
    ss = np.random.SeedSequence(seed)
    rng_pop, rng_dyn, rng_pol, rng_con = (np.random.default_rng(s) for s in ss.spawn(4))
    pop = build_population(cfg, rng_pop)
    state, n = pop.state, cfg.accounts
    loan_ids = pop.loans["loan_id"].to_numpy()
    borrower_ids = pop.loans["borrower_id"].to_numpy()
    phone_ok = pop.borrowers["phone_verified"].to_numpy()
    address_ok = pop.borrowers["address_verified"].to_numpy()
    open_ = np.ones(n, dtype=bool)
    pending = np.zeros(n, dtype=np.int8)
    costs = np.asarray(cfg.cost_vector())
    window0, total = cfg.burn_in_months, cfg.burn_in_months + cfg.months
    first = pd.Timestamp(cfg.start_date)
    cycles, actions, cases, bmonths, contacts = _Columns(), _Columns(), _Columns(), _Columns(), []
    prev_decision: tuple[np.ndarray, np.ndarray] | None = None  # (loan idx, action) decided last cycle

    for k in range(total):
        live = open_ & (pop.origination_step < k)
        idx = np.flatnonzero(live)
        sub = state.take(idx)
        act = pending[idx]
        res = month_step(sub, act, rng_dyn.random((len(idx), N_UNIFORMS)), cfg)
        state.put(idx, sub)
        state.flag_in[~live] -= 1
        in_window = k >= window0
        date = _month_end(first, k - window0)
        if in_window:
            ability, will = effective_latents(sub, cfg)
            cycles.add(
                loan_id=loan_ids[idx],
                cycle_date=np.full(len(idx), date),
                due_amount=res.due.round(2),
                paid_amount=res.paid.round(2),
                balance=sub.balance.round(2),
                arrears=sub.arrears.round(2),
                dpd=dpd_of(sub.missed, sub.due_day),
                missed_instalments=sub.missed,
            )
            bmonths.add(
                borrower_id=borrower_ids[idx],
                cycle_date=np.full(len(idx), date),
                ability=ability,
                willingness=will,
                shock=sub.shock,
            )
            if prev_decision is not None:
                d_idx, d_act = prev_decision
                pos = np.searchsorted(idx, d_idx)  # every decided loan was live this cycle
                contacts.append(
                    contacts_after_decisions(
                        loan_ids[d_idx],
                        _month_end(first, k - window0 - 1),
                        date,
                        d_act,
                        ability[pos],
                        will[pos],
                        phone_ok[d_idx],
                        address_ok[d_idx],
                        res.paid[pos],
                        res.due[pos],
                        state.flag[d_idx] * (state.flag_in[d_idx] <= 0),
                        rng_con,
                    )
                )
        open_[idx[res.closed | res.written_off]] = False
        pending[:] = 0
        overdue = (sub.missed > 0) & ~res.closed & ~res.written_off
        o_idx = idx[overdue]
        o_state = sub.take(np.flatnonzero(overdue))
        p = propensities(o_state, cfg)
        chosen = choose(p, rng_pol.random(len(o_idx)))
        pending[o_idx] = chosen
        prev_decision = (o_idx, chosen) if in_window and k < total - 1 else None
        if in_window:
            prop = p[np.arange(len(o_idx)), chosen]
            actions.add(
                loan_id=loan_ids[o_idx],
                decided_at=np.full(len(o_idx), date),
                action=chosen,
                cost=costs[chosen],
                propensity=prop,
            )
            snap = {f.name: getattr(o_state, f.name) for f in fields(LoanState)}
            cases.add(
                loan_id=loan_ids[o_idx],
                as_of=np.full(len(o_idx), date),
                logged_action=chosen,
                logged_propensity=prop,
                **snap,
            )
        if progress is not None:
            progress(k + 1, total)

    return _assemble(pop, cycles, actions, cases, bmonths, contacts, cfg)


def _assemble(
    pop,
    cycles: _Columns,
    actions: _Columns,
    cases: _Columns,
    bmonths: _Columns,
    contacts: list[pd.DataFrame],
    cfg: SimulationConfig,
) -> Portfolio:
    cyc = cycles.frame()
    cyc["bucket"] = _str(bucket_index(cyc["dpd"].to_numpy()), BUCKETS)
    cyc = cyc[
        [
            "loan_id",
            "cycle_date",
            "due_amount",
            "paid_amount",
            "balance",
            "arrears",
            "dpd",
            "bucket",
            "missed_instalments",
        ]
    ].sort_values(["loan_id", "cycle_date"], ignore_index=True)
    act = actions.frame()
    act["action"] = _str(act["action"].to_numpy(), ACTIONS)
    act = act.sort_values(["loan_id", "decided_at"], ignore_index=True)
    con = pd.concat(contacts, ignore_index=True) if contacts else empty_contacts()
    con = con.sort_values(["loan_id", "ts"], ignore_index=True)
    seen = np.isin(pop.loans["loan_id"].to_numpy(), cyc["loan_id"].unique())
    loans = pop.loans[seen].reset_index(drop=True)
    # a flag dated after the loan left the book (repaid or charged off) never happened
    last_cycle = loans["loan_id"].map(cyc.groupby("loan_id")["cycle_date"].max())
    void = (loans["flag_date"] > last_cycle).to_numpy()
    loans.loc[void, list(FLAGS)] = False
    loans.loc[void, "flag_date"] = pd.NaT
    borrowers = pop.borrowers[pop.borrowers["borrower_id"].isin(loans["borrower_id"])].reset_index(drop=True)
    case_states = cases.frame()
    case_states["logged_action"] = _str(case_states["logged_action"].to_numpy(), ACTIONS)
    tables = {"borrowers": borrowers, "loans": loans, "cycles": cyc, "contacts": con, "actions": act}
    truth = {"borrower_months": bmonths.frame(), "case_states": case_states}
    return Portfolio(tables=tables, truth=truth, config=cfg)


def write_portfolio(portfolio: Portfolio, out_dir: Path | str) -> None:
    """Write the five tables as Parquet and the truth under ``out_dir/truth/``.

    The simulation config goes next to the truth (``truth/simulation_config.json``) so the oracle
    and backtests can replay the same world from the folder alone.
    """
    out = Path(out_dir)
    write_tables(portfolio.tables, out)
    write_truth(portfolio.truth, out)
    (out / TRUTH_DIR / CONFIG_FILE).write_text(portfolio.config.model_dump_json(indent=2))


def read_simulation_config(data_dir: Path | str) -> SimulationConfig:
    """The config a written portfolio was simulated with (for the oracle on data read from disk)."""
    path = Path(data_dir) / TRUTH_DIR / CONFIG_FILE
    if not path.is_file():
        raise InputError(f"--data: no simulation config in {path.parent} (expected {CONFIG_FILE})")
    return SimulationConfig.model_validate_json(path.read_text())
