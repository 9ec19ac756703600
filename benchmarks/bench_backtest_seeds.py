"""Backtest bars across books the policy was not tuned on: one book per seed (default size, or
``--accounts`` × ``--months``).

For each seed: simulate the default book, train, fit the action-response models on the cycles
before the out-of-time period, backtest against the oracle. Prints JSON with, per seed, the
rollcure / DPD-ladder regret ratio, the expected net values and the share of policies whose
doubly robust interval is tighter than the IPS one, plus the machine. Run it under another action
catalogue with ROLLCURE_ACTIONS=FILE to compare worlds side by side.

    python benchmarks/bench_backtest_seeds.py --seeds 7 8 9 10
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time


def one_book(
    seed: int,
    accounts: int | None = None,
    months: int | None = None,
    lookahead: int | None = None,
    policy: dict | None = None,
) -> dict:
    from models.bundle import PolicyBundle
    from registry.store import TRACKING_ENV
    from rollcure.config import RollcureConfig
    from rollcure.core.io import read_tables, read_truth
    from simulation import SimulationConfig, simulate, write_portfolio
    from training.backtest import fit_policy_models, held_out_start, run_backtest
    from training.pipeline import run_training

    os.environ.pop(TRACKING_ENV, None)
    with tempfile.TemporaryDirectory() as tmp:
        book = os.path.join(tmp, "book")
        sizes = {k: v for k, v in (("accounts", accounts), ("months", months)) if v is not None}
        write_portfolio(simulate(SimulationConfig(**sizes), seed=seed), book)
        cfg = RollcureConfig(
            data_dir=os.path.join(tmp, "run"),
            seed=seed,
            model={"lightgbm": {"num_threads": 1}},
            policy={**(policy or {}), **({} if lookahead is None else {"lookahead_cycles": lookahead})},
        )
        outcome = run_training(cfg, book, None, promote=True, write_report_file=False)
        tables, truth = read_tables(book), read_truth(book)
        bundle = outcome.bundle
        if bundle.policy is None:
            models = fit_policy_models(tables, cfg, held_out_start(bundle))
            bundle.policy = PolicyBundle.from_config(cfg.policy, models)
        result = run_backtest(tables, truth, bundle, cfg, seed=seed)
    p = result.policies.set_index("policy")
    ladder = p.loc["dpd_ladder"]
    o = result.off_policy.set_index("policy")
    return {
        "accounts": accounts,
        "lookahead_cycles": cfg.policy.lookahead_cycles,
        "band_z": cfg.policy.band_z,
        "caution_z": cfg.policy.caution_z,
        "months": months,
        "seed": seed,
        "regret_ratio_rollcure_to_ladder": float(p.loc["rollcure", "regret"] / p.loc["dpd_ladder", "regret"]),
        "ev_rollcure": float(p.loc["rollcure", "expected_net_value"]),
        "ev_ladder": float(p.loc["dpd_ladder", "expected_net_value"]),
        "ev_oracle": float(p.loc["oracle", "expected_net_value"]),
        "realised_value_ratio": float(p.loc["rollcure", "realised_value"] / ladder["realised_value"]),
        "oracle_over_ladder": float(p.loc["oracle", "expected_net_value"] / ladder["expected_net_value"] - 1),
        "ope_abs_error_max": {k: float(o[f"{k}_error"].abs().max()) for k in ("ips", "snips", "dr")},
        "ope_width_max": {k: float(o[f"{k}_width"].max()) for k in ("ips", "snips", "dr")},
        "ope_all_cover": {k: bool(o[f"{k}_covers"].all()) for k in ("ips", "snips", "dr")},
        "clear_cases": result.facts.get("clear_cases"),
        "dr_tighter_share": float(((o["dr_high"] - o["dr_low"]) < (o["ips_high"] - o["ips_low"])).mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[7, 8, 9, 10])
    ap.add_argument("--accounts", type=int, default=None)
    ap.add_argument("--months", type=int, default=None)
    ap.add_argument("--lookahead", type=int, default=None, help="policy.lookahead_cycles (default: config)")
    ap.add_argument(
        "--policy", type=json.loads, default=None, help='policy settings (JSON): {"caution_z": 0}'
    )
    args = ap.parse_args()
    from rollcure.core.catalogue import ACTIONS

    t0 = time.perf_counter()
    rows = [one_book(s, args.accounts, args.months, args.lookahead, args.policy) for s in args.seeds]
    machine = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    doc = {"actions": list(ACTIONS), "books": rows, "seconds": round(time.perf_counter() - t0, 1)}
    print(json.dumps({**doc, "machine": machine}, indent=1))


if __name__ == "__main__":
    main()
