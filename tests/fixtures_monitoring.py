"""Fixtures of ongoing monitoring: one champion, two books played forward under it.

``monitor_books``: a 20,000-account book simulated for 15 months (seed 7), a champion trained on
it (classifiers and action models, no registry: the command reads the saved bundle folder), then
the same book played forward under the champion twice: six stable months (decisions appended to a
SQLite decision log) and three months with an income shock wave from the second (decisions as a
Parquet export). Built once per session (about 30 s on two shared cores).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

MONITOR_SEED = 7
MONITOR_SALT = "monitor-test-salt"
HISTORY_MONTHS = 15
STABLE_CYCLES = 6
DRIFT_CYCLES = 3
#: The drift starts with the second month played forward (month index from the first cycle).
DRIFT_MONTH = HISTORY_MONTHS + 1


@dataclass
class Book:
    data_dir: Path
    decisions: str  # the --decisions argument: a database URL or a Parquet file
    forward_states: pd.DataFrame  # the oracle's view of every case decided forward
    sim_cfg: object


@dataclass
class MonitorBooks:
    cfg: object
    bundle: object
    bundle_dir: Path
    train_result: object
    cases: pd.DataFrame
    stable: Book
    drift: Book

    @property
    def drift_cycle(self) -> pd.Timestamp:
        start = pd.Timestamp(self.stable.sim_cfg.start_date)
        return (start.to_period("M") + DRIFT_MONTH).to_timestamp(how="end").normalize()


def _book(cfg, bundle, drift_month, cycles, out: Path, as_sqlite: bool) -> Book:
    from serving.decision_log import DecisionLog
    from serving.log_frames import append_frame
    from simulation import run_window, write_portfolio
    from training.monitoring.forward import play_forward

    sim = cfg.simulation.model_copy(
        update={"drift": cfg.simulation.drift.model_copy(update={"from_month": drift_month})}
    )
    book_cfg = cfg.model_copy(update={"simulation": sim})
    run = run_window(sim, MONITOR_SEED)
    fw = play_forward(book_cfg, run, bundle, cycles, MONITOR_SALT, "rollcure-bundle", "1")
    write_portfolio(run.portfolio(), out)
    if as_sqlite:
        url = f"sqlite:///{out / 'decisions.sqlite'}"
        log = DecisionLog.open(url)
        append_frame(log, fw.decisions)
        log.close()
        source = url
    else:
        source = str(out / "decisions.parquet")
        fw.decisions.drop(columns=["loan_id"]).to_parquet(source)
    return Book(out, source, fw.case_states, sim)


@pytest.fixture(scope="session")
def monitor_books(tmp_path_factory) -> MonitorBooks:
    from models.bundle import PolicyBundle
    from rollcure.config import RollcureConfig
    from simulation import SimulationConfig, run_window
    from training.backtest import fit_policy_models
    from training.data import load_case_data
    from training.fit import train_models

    sim = SimulationConfig(accounts=20_000, months=HISTORY_MONTHS)
    cfg = RollcureConfig(seed=MONITOR_SEED, simulation=sim, model={"lightgbm": {"num_threads": 1}})
    tables = run_window(sim, MONITOR_SEED).portfolio().tables
    data = load_case_data(tables, cfg)
    result = train_models(data.cases, data.spec, cfg.model, cfg.training, cfg.seed)
    bundle = result.bundle
    bundle.feature_config = cfg.features
    models = fit_policy_models(tables, cfg, pd.Timestamp(result.split.oot[0]))
    bundle.policy = PolicyBundle.from_config(cfg.policy, models)
    root = tmp_path_factory.mktemp("monitor")
    bundle_dir = bundle.save(root / "bundle")
    stable = _book(cfg, bundle, None, STABLE_CYCLES, root / "stable", as_sqlite=True)
    drift = _book(cfg, bundle, DRIFT_MONTH, DRIFT_CYCLES, root / "drift", as_sqlite=False)
    return MonitorBooks(cfg, bundle, Path(bundle_dir), result, data.cases, stable, drift)


@pytest.fixture(scope="session")
def stable_monitor(monitor_books):
    """(MonitorData, MonitorResult) of the stable book."""
    from rollcure.core.io import read_tables
    from training.monitoring.log_reader import read_decision_log
    from training.monitoring.run import run_monitor

    book = monitor_books.stable
    log = read_decision_log(book.decisions)
    return run_monitor(read_tables(book.data_dir), monitor_books.cfg, monitor_books.bundle, log, MONITOR_SALT)
