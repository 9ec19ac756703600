"""How many of the clear cases can any learner on rollcure's features get right? The ceiling.

The learner issue asks rollcure to pick the oracle's action in at least 60% of the clear cases (the
best eligible action beats the second by more than the second's cost) on the default book. The
oracle decides on the simulator's latents (ability, willingness); rollcure sees only the features
the pipeline builds from the raw tables. This benchmark measures how far the features themselves
carry: it replaces the action-response models' value members by learners fitted to the oracle's
own *expected* value of every action (noise-free labels, on every training case and every action,
no confounding by the logging policy: more than any learner from logged outcomes can have) and
backtests them exactly as rollcure, ranking greedily. Whatever share they reach is an upper bound
on what a learner of logged outcomes on the same features can reach.

Rows: ``rollcure`` (the shipped learner as configured), ``rollcure_greedy`` (same fit, no
caution), ``ceiling_full_horizon`` (labels: the oracle's value over the valuation horizon, the
quantity the clear cases are judged on), ``ceiling_one_step`` (labels: the oracle's one-cycle
look-ahead value, cash next cycle + the next state's recovery factor, rollcure's own target).

    .venv/bin/python benchmarks/bench_clear_ceiling.py [--seed 7] [--accounts N --months M]
        [--leaves 31] [--rounds 300]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time

import numpy as np
import pandas as pd


def _oracle_labels(tables, truth, names, cfg, until, horizon):
    """Features and the oracle's expected gross value share per action of every overdue case of
    one book up to ``until``."""
    from features.build import build_features
    from models.uplift import _balance
    from rollcure.core.catalogue import ACTIONS
    from rollcure.core.value import Valuation
    from simulation.oracle import action_values
    from training.backtest import book_valuation

    states = truth["case_states"]
    states = states[pd.to_datetime(states["as_of"]) <= until].reset_index(drop=True)
    X = build_features(tables, states[["loan_id", "as_of"]].copy(), cfg.features)[names].reset_index(
        drop=True
    )
    valuation = book_valuation(tables, cfg, until)
    if horizon is not None:
        valuation = Valuation(cfg.value.model_copy(update={"horizon_cycles": horizon}), valuation.factors)
    values = action_values(states, cfg.simulation, valuation)
    costs = np.asarray(cfg.simulation.cost_vector())
    balance = _balance(X)
    shares = np.column_stack(
        [(values[f"value_{a}"].to_numpy() + costs[j]) / balance for j, a in enumerate(ACTIONS)]
    )
    return X, shares


def _oracle_label_members(books, names, cfg, until, horizon, leaves, rounds, members, seed):
    """Per bootstrap member and action, a LightGBM regressor of the oracle's expected gross value
    (share of the balance) fitted on every overdue case up to ``until`` of every book in ``books``
    (tables, truth)."""
    import lightgbm as lgb

    labelled = [_oracle_labels(tables, truth, names, cfg, until, horizon) for tables, truth in books]
    X = pd.concat([x for x, _ in labelled], ignore_index=True)
    shares = np.concatenate([y for _, y in labelled])
    rng = np.random.default_rng(seed)
    params = {
        "objective": "regression", "learning_rate": 0.05, "num_leaves": leaves, "min_child_samples": 20,
        "num_threads": 1, "deterministic": True, "force_col_wise": True, "verbose": -1,
    }  # fmt: skip
    out = []
    for b in range(members):
        weight = rng.poisson(1.0, len(X)).astype(float)
        out.append(
            [
                lgb.train(
                    {**params, "seed": seed + 31 * b + j},
                    lgb.Dataset(X, label=shares[:, j], weight=weight),
                    num_boost_round=rounds,
                )
                for j in range(shares.shape[1])
            ]
        )
    return out, len(X)


def _ceiling_models(fitted, members):
    """The fitted action models with their value members replaced by the oracle-label learners."""
    from models.uplift import ActionModels, ActionPrediction, _balance, _cautious_values

    class OracleLabelModels(ActionModels):
        def predict(self, X, costs=None, threads=None):
            scored = super().predict(X, costs, threads)
            base = self._matrix(X)
            balance = _balance(X, self.feature_names)
            share = np.stack(
                [np.column_stack([m.predict(base) for m in per_action]) for per_action in members]
            )
            value_members = share * balance[None, :, None]
            rec = np.clip(value_members.mean(axis=0), 0, None)
            sd = value_members.std(axis=0, ddof=1)
            c = self.costs if costs is None else np.asarray(costs, dtype=float)
            value = rec - c[None, :]
            decision = _cautious_values(value_members, rec, c, 0.0)
            half = self.band_z * sd
            return ActionPrediction(
                rec, sd, scored.cure, scored.roll, value, value - half, value + half, decision
            )

    settings = {k: getattr(fitted, k) for k in fitted.__dataclass_fields__ if not k.startswith("_")}
    return OracleLabelModels(**settings)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--accounts", type=int, default=None)
    ap.add_argument("--months", type=int, default=None)
    ap.add_argument("--leaves", type=int, default=31)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument(
        "--extra-books",
        type=int,
        nargs="*",
        default=[],
        help="seeds of more books of the same world whose cases (up to the same date) the ceiling "
        "learners also fit: does more data of the same features raise the ceiling?",
    )
    args = ap.parse_args()

    from models.bundle import PolicyBundle
    from registry.store import TRACKING_ENV
    from rollcure.config import RollcureConfig
    from rollcure.core.io import read_tables, read_truth
    from simulation import SimulationConfig, simulate, write_portfolio
    from training.backtest import fit_policy_models, held_out_start, run_backtest
    from training.pipeline import run_training

    os.environ.pop(TRACKING_ENV, None)
    started = time.perf_counter()
    size = {k: v for k, v in (("accounts", args.accounts), ("months", args.months)) if v is not None}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        book = os.path.join(tmp, "book")
        write_portfolio(simulate(SimulationConfig(**size), seed=args.seed), book)
        cfg = RollcureConfig(
            data_dir=os.path.join(tmp, "run"), seed=args.seed, model={"lightgbm": {"num_threads": 1}}
        )
        bundle = run_training(cfg, book, None, promote=True, write_report_file=False).bundle
        tables, truth = read_tables(book), read_truth(book)
        start = held_out_start(bundle)
        fitted = fit_policy_models(tables, cfg, start)
        greedy = cfg.policy.model_copy(update={"caution_z": 0.0})
        runs = {
            "rollcure": (cfg.policy, fitted),
            "rollcure_greedy": (greedy, _with_caution(fitted, 0.0)),
        }
        until = start - pd.Timedelta(days=1)
        books = [(tables, truth)]
        for extra in args.extra_books:
            path = os.path.join(tmp, f"book{extra}")
            write_portfolio(simulate(SimulationConfig(**size), seed=extra), path)
            books.append((read_tables(path), read_truth(path)))
        training_cases = 0
        for name, horizon in (("ceiling_full_horizon", None), ("ceiling_one_step", 1)):
            members, training_cases = _oracle_label_members(
                books, fitted.feature_names, cfg, until, horizon,
                args.leaves, args.rounds, args.members, args.seed,
            )  # fmt: skip
            runs[name] = (greedy, _ceiling_models(fitted, members))
        for name, (pcfg, models) in runs.items():
            bundle.policy = PolicyBundle.from_config(pcfg, models)
            result = run_backtest(tables, truth, bundle, cfg, seed=args.seed)
            p = result.policies.set_index("policy")
            clear = result.facts["clear_cases"]
            rows.append(
                {
                    "learner": name,
                    "clear_cases": clear["cases"],
                    "picks_the_oracle_best": round(clear["rollcure_picks_the_best"], 4),
                    "oracle_policy_picks_the_best": round(clear["oracle_picks_the_best"], 4),
                    "ladder_picks_the_best": round(clear["ladder_picks_the_best"], 4),
                    "share_of_ladder_regret_closed": round(
                        1 - float(p.loc["rollcure", "regret"] / p.loc["dpd_ladder", "regret"]), 4
                    ),
                }
            )
    print(
        json.dumps(
            {
                "benchmark": "clear_case_ceiling",
                "seed": args.seed,
                "book": size or "default",
                "oracle_label_learner": {
                    "leaves": args.leaves,
                    "rounds": args.rounds,
                    "members": args.members,
                    "training_cases": training_cases,
                    "extra_books": args.extra_books,
                },  # fmt: skip
                "bar": 0.6,
                "rows": rows,
                "seconds": round(time.perf_counter() - started, 1),
                "machine": {
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "platform": platform.platform(),
                },
            },
            indent=1,
        )
    )


def _with_caution(fitted, z: float):
    from dataclasses import replace

    return replace(fitted, caution_z=z)


if __name__ == "__main__":
    main()
