"""Run the synthetic book month by month and collect the five raw tables plus the latent truth.

:class:`BookRun` is the month loop (resumable, with a pluggable decider); :func:`simulate` runs it
over the configured window under the logging policy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd

from rollcure.config.simulation import SimulationConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.domain import BUCKETS, FLAGS, bucket_index
from rollcure.core.errors import InputError
from rollcure.core.io import TRUTH_DIR, write_tables, write_truth
from simulation.contacts import contacts_after_decisions, empty_contacts
from simulation.dynamics import N_UNIFORMS, LoanState, StepResult, dpd_of, effective_latents, month_step
from simulation.logging_policy import choose, propensities
from simulation.population import Population, build_population

Progress = Callable[[int, int], None]
CONFIG_FILE = "simulation_config.json"
SEED_FILE = "simulation_seed.json"
#: Stream key of the drift scenario's draws (the live months use 1 and 2).
_DRIFT_STREAM = 3
_CYCLE_COLUMNS = (
    "loan_id",
    "cycle_date",
    "due_amount",
    "paid_amount",
    "balance",
    "arrears",
    "dpd",
    "bucket",
    "missed_instalments",
)


@dataclass
class Portfolio:
    """The five raw tables (``tables``) and the simulator's latent truth (``truth``)."""

    tables: dict[str, pd.DataFrame]
    truth: dict[str, pd.DataFrame]
    config: SimulationConfig = field(repr=False, default_factory=SimulationConfig)
    #: the seed it was simulated with (None: unknown), so a learning loop can continue the book
    seed: int | None = None


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


#: Who decides for the overdue cases of a cycle: (loan positions, their states, the cycle date) ->
#: (action index per case, the probability the decider gave it). Default: the logging policy.
Decider = Callable[[np.ndarray, LoanState, np.datetime64], tuple[np.ndarray, np.ndarray]]


class BookRun:
    """The book month by month, resumable: ``simulate`` runs it to the end of its window under the
    logging policy; a learning loop (``training.learn``) goes on from there with decisions of its
    own, one month at a time, reading the tables so far with :meth:`portfolio`.

    Vectorised over loans; the only Python loop is over months. A burn-in of ``burn_in_months``
    cycles runs before the window so the delinquency mix has settled when the first written cycle
    starts. Each month: advance every live loan with :func:`simulation.dynamics.month_step` under
    the action decided at the previous cycle end, write the cycle rows, generate the collectors'
    contacts that followed last month's decisions, then let the decider decide for every overdue
    case. Months past the configured window draw from streams keyed by (seed, month), so how far a
    run goes never changes the months before.
    """

    def __init__(self, cfg: SimulationConfig, seed: int) -> None:
        if not isinstance(seed, int | np.integer) or seed < 0:
            raise InputError(f"seed: must be an integer >= 0, got {seed!r}")
        self.cfg, self.seed = cfg, int(seed)
        ss = np.random.SeedSequence(seed)
        rng_pop, self._rng_dyn, self._rng_pol, rng_con = (np.random.default_rng(s) for s in ss.spawn(4))
        self.pop = build_population(cfg, rng_pop)
        self.state = self.pop.state
        self._rec = _Recorder(self.pop, cfg, rng_con)
        self._rec.seed = self.seed
        self._open = np.ones(cfg.accounts, dtype=bool)
        self._pending = np.zeros(cfg.accounts, dtype=np.int8)  # action decided at the last cycle end
        self.k = 0  # months run, burn-in included

    @property
    def window_end(self) -> int:
        return self.cfg.burn_in_months + self.cfg.months

    def _streams(self) -> tuple[np.random.Generator, np.random.Generator]:
        """The dynamics' and the logging policy's random streams for the current month."""
        if self.k < self.window_end:
            return self._rng_dyn, self._rng_pol
        live = np.random.default_rng([self.seed, self.k, 1]), np.random.default_rng([self.seed, self.k, 2])
        return live

    def logging_decider(self, rng: np.random.Generator) -> Decider:
        def decide(idx: np.ndarray, state: LoanState, date: np.datetime64) -> tuple[np.ndarray, np.ndarray]:
            p = propensities(state, self.cfg)
            chosen = choose(p, rng.random(len(idx)))
            return chosen, p[np.arange(len(idx)), chosen]

        return decide

    def month(self, decider: Decider | None = None) -> None:
        """Run one month; ``decider`` (default: the logging policy) decides at its cycle end."""
        k, cfg, state = self.k, self.cfg, self.state
        rng_dyn, rng_pol = self._streams()
        live = self._open & (self.pop.origination_step < k)
        idx = np.flatnonzero(live)
        sub = state.take(idx)
        self._drift(sub)
        res = month_step(sub, self._pending[idx], rng_dyn.random((len(idx), N_UNIFORMS)), cfg)
        state.put(idx, sub)
        state.flag_in[~live] -= 1  # flags keep their calendar date for loans not yet in the book
        window0 = cfg.burn_in_months
        in_window = k >= window0
        if in_window:
            self._rec.cycle(k - window0, idx, sub, res)
        self._open[idx[res.closed | res.written_off]] = False
        overdue = (sub.missed > 0) & ~res.closed & ~res.written_off
        o_idx, o_state = idx[overdue], sub.take(np.flatnonzero(overdue))
        decide = decider or self.logging_decider(rng_pol)
        date = _month_end(self._rec.first, k - window0)
        chosen, propensity = decide(o_idx, o_state, date)
        chosen = np.asarray(chosen, dtype=np.int8)
        self._pending[:] = 0
        self._pending[o_idx] = chosen
        if in_window:
            self._rec.decisions(k - window0, o_idx, o_state, chosen, np.asarray(propensity))
        self.k += 1

    def _drift(self, sub: LoanState) -> None:
        """The configured shock wave, on its month only: a share of the live loans' borrowers lose
        income and ability for good and start an income shock (draws from a stream keyed by (seed,
        month), so the months before are unchanged)."""
        drift = self.cfg.drift
        if drift.from_month is None or self.k != self.cfg.burn_in_months + drift.from_month:
            return
        u = np.random.default_rng([self.seed, self.k, _DRIFT_STREAM]).random(len(sub.shock))
        hit = u < drift.income_shock_share
        sub.shock = sub.shock | hit
        sub.income = np.where(hit, sub.income * drift.income_factor, sub.income)
        sub.ability_base = np.where(hit, sub.ability_base * drift.income_factor, sub.ability_base)

    def loan_ids(self, idx: np.ndarray) -> np.ndarray:
        return self._rec.loan_ids[idx]

    def portfolio(self) -> Portfolio:
        """The tables and the truth written so far."""
        return self._rec.portfolio()


def simulate(cfg: SimulationConfig, seed: int, progress: Progress | None = None) -> Portfolio:
    """Simulate ``cfg.accounts`` loans over ``cfg.months`` cycles, deterministically for ``seed``.

    ``progress(done, total)`` is called after every simulated month (burn-in included).
    """
    run = run_window(cfg, seed, progress)
    return run.portfolio()


def run_window(cfg: SimulationConfig, seed: int, progress: Progress | None = None) -> BookRun:
    """A :class:`BookRun` taken to the end of its window under the logging policy."""
    run = BookRun(cfg, seed)
    total = run.window_end
    for k in range(total):  # the only loop: over months
        run.month()
        if progress is not None:
            progress(k + 1, total)
    return run


class _Recorder:
    """Collects the window's rows month by month and assembles the tables once at the end."""

    def __init__(self, pop: Population, cfg: SimulationConfig, rng_contacts: np.random.Generator) -> None:
        self.pop, self.cfg, self.rng = pop, cfg, rng_contacts
        self.seed: int | None = None
        self.loan_ids = pop.loans["loan_id"].to_numpy()
        self.borrower_ids = pop.loans["borrower_id"].to_numpy()
        self.phone_ok = pop.borrowers["phone_verified"].to_numpy()
        self.address_ok = pop.borrowers["address_verified"].to_numpy()
        self.costs = np.asarray(cfg.cost_vector())
        self.first = pd.Timestamp(cfg.start_date)
        self.cycles, self.actions, self.cases, self.bmonths = _Columns(), _Columns(), _Columns(), _Columns()
        self.contacts: list[pd.DataFrame] = []
        self.last_decision: tuple[np.ndarray, np.ndarray] | None = None  # (loan index, action)

    def cycle(self, month: int, idx: np.ndarray, sub: LoanState, res: StepResult) -> None:
        """Cycle rows and latents of this month, and the contacts that followed last month's decisions."""
        date = _month_end(self.first, month)
        n = len(idx)
        ability, will = effective_latents(sub, self.cfg)
        self.cycles.add(
            loan_id=self.loan_ids[idx],
            cycle_date=np.full(n, date),
            due_amount=res.due.round(2),
            paid_amount=res.paid.round(2),
            balance=sub.balance.round(2),
            arrears=sub.arrears.round(2),
            dpd=dpd_of(sub.missed, sub.due_day),
            missed_instalments=sub.missed,
        )
        self.bmonths.add(
            borrower_id=self.borrower_ids[idx],
            cycle_date=np.full(n, date),
            ability=ability,
            willingness=will,
            shock=sub.shock,
        )
        if self.last_decision is None:
            return
        d_idx, d_act = self.last_decision
        pos = np.searchsorted(idx, d_idx)  # every loan decided on last cycle is live this cycle
        flag_now = np.where(sub.flag_in[pos] <= 0, sub.flag[pos], 0)
        self.contacts.append(
            contacts_after_decisions(
                self.loan_ids[d_idx],
                _month_end(self.first, month - 1),
                date,
                d_act,
                ability[pos],
                will[pos],
                self.phone_ok[d_idx],
                self.address_ok[d_idx],
                res.paid[pos],
                res.due[pos],
                flag_now,
                self.rng,
                self.cfg,
            )
        )

    def decisions(
        self,
        month: int,
        o_idx: np.ndarray,
        o_state: LoanState,
        chosen: np.ndarray,
        propensity: np.ndarray,
    ) -> None:
        """The logging policy's actions and the case states they were taken in."""
        date = _month_end(self.first, month)
        n = len(o_idx)
        self.actions.add(
            loan_id=self.loan_ids[o_idx],
            decided_at=np.full(n, date),
            action=chosen,
            cost=self.costs[chosen],
            propensity=propensity,
        )
        snap = {f.name: getattr(o_state, f.name) for f in fields(LoanState)}
        self.cases.add(
            loan_id=self.loan_ids[o_idx],
            as_of=np.full(n, date),
            logged_action=chosen,
            logged_propensity=propensity,
            **snap,
        )
        # their contacts are written with the next cycle, if the book goes on
        self.last_decision = (o_idx, chosen)

    def portfolio(self) -> Portfolio:
        pop = self.pop
        cyc = self.cycles.frame()
        cyc["bucket"] = _str(bucket_index(cyc["dpd"].to_numpy()), BUCKETS)
        cyc = cyc[list(_CYCLE_COLUMNS)].sort_values(["loan_id", "cycle_date"], ignore_index=True)
        act = self.actions.frame()
        act["action"] = _str(act["action"].to_numpy(), ACTIONS)
        act = act.sort_values(["loan_id", "decided_at"], ignore_index=True)
        con = pd.concat(self.contacts, ignore_index=True) if self.contacts else empty_contacts()
        con = con.sort_values(["loan_id", "ts"], ignore_index=True)
        seen = np.isin(pop.loans["loan_id"].to_numpy(), cyc["loan_id"].unique())
        loans = pop.loans[seen].reset_index(drop=True)
        # a flag dated after the loan left the book (repaid or charged off) never happened
        last_cycle = loans["loan_id"].map(cyc.groupby("loan_id")["cycle_date"].max())
        void = (loans["flag_date"] > last_cycle).to_numpy()
        loans.loc[void, list(FLAGS)] = False
        loans.loc[void, "flag_date"] = pd.NaT
        borrowers = pop.borrowers[pop.borrowers["borrower_id"].isin(loans["borrower_id"])].reset_index(
            drop=True
        )
        case_states = self.cases.frame()
        case_states["logged_action"] = _str(case_states["logged_action"].to_numpy(), ACTIONS)
        tables = {"borrowers": borrowers, "loans": loans, "cycles": cyc, "contacts": con, "actions": act}
        truth = {"borrower_months": self.bmonths.frame(), "case_states": case_states}
        return Portfolio(tables=tables, truth=truth, config=self.cfg, seed=self.seed)


def write_portfolio(portfolio: Portfolio, out_dir: Path | str) -> None:
    """Write the five tables as Parquet and the truth under ``out_dir/truth/``.

    The simulation config goes next to the truth (``truth/simulation_config.json``) so the oracle
    and backtests can replay the same world from the folder alone, and the seed
    (``truth/simulation_seed.json``) so a learning loop can continue it.
    """
    out = Path(out_dir)
    write_tables(portfolio.tables, out)
    write_truth(portfolio.truth, out)
    (out / TRUTH_DIR / CONFIG_FILE).write_text(portfolio.config.model_dump_json(indent=2))
    if portfolio.seed is not None:
        (out / TRUTH_DIR / SEED_FILE).write_text(json.dumps({"seed": portfolio.seed}))


def read_simulation_config(data_dir: Path | str) -> SimulationConfig:
    """The config a written portfolio was simulated with (for the oracle on data read from disk)."""
    path = Path(data_dir) / TRUTH_DIR / CONFIG_FILE
    if not path.is_file():
        raise InputError(f"--data: no simulation config in {path.parent} (expected {CONFIG_FILE})")
    return SimulationConfig.model_validate_json(path.read_text())


def read_simulation_seed(data_dir: Path | str) -> int:
    """The seed a written portfolio was simulated with (to continue it month by month)."""
    path = Path(data_dir) / TRUTH_DIR / SEED_FILE
    if not path.is_file():
        raise InputError(
            f"--data: no simulation seed in {path.parent} (expected {SEED_FILE}; simulate the book again)"
        )
    return int(json.loads(path.read_text())["seed"])
