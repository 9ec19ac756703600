"""The learning loop: rollcure decides on the simulator's live book month by month and learns.

Test and learn, as a lender runs it: the history is the book the logging policy wrote; then each
month rollcure's champion decides for every overdue case (with its exploration and challenger
arms, propensities recorded), the month is played forward by the simulator, the new logs are
appended, and the action-response models are refitted on everything logged so far (one-step
labels: every case but the latest counts). Each cycle is scored against the oracle on the same
cases, eligibility and capacities: regret, the share of the DPD ladder's regret closed, the
action mix. The roll-forward and cure scorers are fitted once on the history; what learns is the
policy.

Deterministic for a seed: the live months draw from streams keyed by (seed, month)
(``simulation.BookRun``) and every decision from its cycle's seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from models.allocation import allocate
from models.bundle import Bundle, PolicyBundle
from models.eligibility import eligibility
from models.policy import decide
from models.rules import MANUAL_REVIEW
from models.strategies import dpd_ladder
from rollcure.config import RollcureConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.errors import InputError

#: Days after the latest cycle up to which a refit reads labels: the latest cycle's one-step labels
#: are not observed yet, so this takes every case before it.
_AFTER_LATEST = pd.Timedelta(days=1)


@dataclass
class LearnResult:
    """One row per live cycle, and what the loop started from."""

    cycles: pd.DataFrame
    facts: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"cycles": self.cycles.to_dict(orient="records"), "facts": self.facts}


def _case_states(run, idx: np.ndarray, state, date: np.datetime64) -> pd.DataFrame:
    """The oracle's view of the cases decided this cycle (as ``truth/case_states`` rows)."""
    frame = pd.DataFrame({f.name: getattr(state, f.name) for f in fields(state)})
    frame.insert(0, "as_of", pd.Timestamp(date))
    frame.insert(0, "loan_id", run.loan_ids(idx))
    return frame


def _fit_bundle(tables: dict[str, pd.DataFrame], cfg: RollcureConfig) -> Bundle:
    """Roll-forward and cure scorers on the history (no registry: the loop is a simulation)."""
    from training.data import load_case_data
    from training.fit import train_models

    data = load_case_data(tables, cfg)
    result = train_models(data.cases, data.spec, cfg.model, cfg.training, cfg.seed)
    result.bundle.feature_config = cfg.features
    return result.bundle


def run_learning(cfg: RollcureConfig, book_run, cycles: int, console=None) -> LearnResult:
    """Go on from ``book_run`` (a ``simulation.BookRun`` at the end of its window) for ``cycles``
    live months under rollcure's decisions; refit the action models after each."""
    from features.build import build_features
    from training.backtest import book_valuation, fit_policy_models

    if cycles < 1:
        raise InputError(f"--cycles: must be at least 1, got {cycles}")
    history = book_run.portfolio()
    bundle = _fit_bundle(history.tables, cfg)
    latest = pd.Timestamp(history.tables["cycles"]["cycle_date"].max())
    valuation = book_valuation(history.tables, cfg, latest)  # the truth's yardstick, fixed
    rows: list[dict] = []
    for c in range(cycles):  # loop over live months
        tables = book_run.portfolio().tables
        latest = pd.Timestamp(tables["cycles"]["cycle_date"].max())
        models = fit_policy_models(tables, cfg, latest + _AFTER_LATEST)
        bundle.policy = PolicyBundle.from_config(cfg.policy, models)
        seen: dict = {}

        def decider(idx: np.ndarray, state, date: np.datetime64, c: int = c, seen: dict = seen):
            now = book_run.portfolio().tables
            cases = pd.DataFrame({"loan_id": book_run.loan_ids(idx), "as_of": pd.Timestamp(date)})
            X = build_features(now, cases, cfg.features)
            d = decide(bundle, X, seed=cfg.seed * 1_000 + c, explain=False).to_frame()
            acted = d["action"].replace({MANUAL_REVIEW: "none"})
            chosen = pd.Categorical(acted, categories=list(ACTIONS)).codes
            seen.update(X=X, states=_case_states(book_run, idx, state, date), chosen=chosen, arm=d["arm"])
            return chosen.astype(np.int8), d["propensity"].to_numpy(dtype=float)

        book_run.month(decider)
        rows.append(_score_cycle(seen, bundle, cfg, valuation))
        rows[-1].update(cycle=c + 1, as_of=str(pd.Timestamp(seen["states"]["as_of"].iloc[0]).date()))
        rows[-1]["training_cases"] = int(sum(models.arm_rows.values()))
        if console is not None:
            r = rows[-1]
            console.print(
                f"cycle {r['cycle']} ({r['as_of']}): {r['cases']:,} cases, regret {r['regret']:,.0f} "
                f"({100 * r['regret_share']:.2f}% of the oracle's value), "
                f"{100 * r['ladder_regret_closed']:.0f}% of the ladder's regret closed"
            )
    frame = pd.DataFrame(rows)
    facts = {
        "history_months": book_run.cfg.months,
        "accounts": book_run.cfg.accounts,
        "seed": book_run.seed,
        "regret_last_over_first": float(frame["regret"].iloc[-1] / frame["regret"].iloc[0])
        if frame["regret"].iloc[0] > 0
        else float("nan"),
    }
    return LearnResult(frame, facts)


def _score_cycle(seen: dict, bundle: Bundle, cfg: RollcureConfig, valuation) -> dict:
    """Regret of this cycle's decisions against the oracle, beside the DPD ladder's."""
    from simulation.oracle import action_values

    X, states, chosen = seen["X"], seen["states"], seen["chosen"]
    V = action_values(states, cfg.simulation, valuation)[[f"value_{a}" for a in ACTIONS]].to_numpy()
    assert bundle.policy is not None
    el = eligibility(X, bundle.policy.rules).mask
    caps = np.asarray(bundle.policy.config.cycle_capacity())
    rows = np.arange(len(X))
    oracle = V[rows, allocate(V, el, caps)].sum()
    ladder = V[rows, dpd_ladder(X, el, caps)].sum()
    ours = V[rows, chosen].sum()
    mix = pd.Series(np.asarray(ACTIONS)[chosen]).value_counts()
    return {
        "cases": len(X),
        "oracle_value": float(oracle),
        "value": float(ours),
        "regret": float(oracle - ours),
        "regret_share": float((oracle - ours) / oracle) if oracle else float("nan"),
        "ladder_regret": float(oracle - ladder),
        "ladder_regret_closed": float((ours - ladder) / (oracle - ladder))
        if oracle > ladder
        else float("nan"),
        **{f"mix_{a}": int(mix.get(a, 0)) for a in ACTIONS},
        "explore_cases": int((seen["arm"] == "explore").sum()),
    }


def plot_learning(result: LearnResult, path) -> None:
    """Regret per cycle, rollcure's and the ladder's (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    from pathlib import Path

    import matplotlib.pyplot as plt

    f = result.cycles
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(f["cycle"], f["regret"], marker="o", label="rollcure")
    ax.plot(f["cycle"], f["ladder_regret"], marker="s", label="DPD ladder")
    ax.set_xlabel("live cycle")
    ax.set_ylabel("regret to the oracle (value)")
    ax.set_title("Learning loop: regret per cycle")
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def learn_on_book(cfg: RollcureConfig, data_dir, cycles: int, console=None) -> LearnResult:
    """Continue the simulated book written in ``data_dir`` (its config and seed replay it exactly;
    the tables in the folder must be the ones they make) for ``cycles`` live months."""
    from pathlib import Path

    from rollcure.core.io import read_tables
    from simulation import read_simulation_config, read_simulation_seed, run_window

    data_dir = Path(data_dir)
    sim_cfg, seed = read_simulation_config(data_dir), read_simulation_seed(data_dir)
    book_run = run_window(sim_cfg, seed)
    written = read_tables(data_dir)["cycles"]
    replayed = book_run.portfolio().tables["cycles"]
    same = len(written) == len(replayed) and np.allclose(
        written["paid_amount"].to_numpy(), replayed["paid_amount"].to_numpy()
    )
    if not same:
        raise InputError(
            f"--data: the cycles in {data_dir} are not the book its simulation config and seed make"
        )
    cfg = cfg.model_copy(update={"simulation": sim_cfg})
    return run_learning(cfg, book_run, cycles, console)
