"""Fixtures of the policy stage: random feature frames for the rules, shared rule sets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.rules import RuleSet, load_rules


def random_rule_frame(n: int, seed: int) -> pd.DataFrame:
    """Cases with every column the default rules read, drawn to hit each rule's edge often.

    Values straddle the thresholds (balance around 5,000, DPD around 90, 12 months, 7 calls) and
    include unknowns (NaN / NA) where the pipeline can produce them.
    """
    rng = np.random.default_rng(seed)

    def flag(p: float) -> np.ndarray:
        return rng.random(n) < p

    months = rng.integers(0, 30, n).astype(float)
    months[flag(0.4)] = np.nan  # never restructured
    calls = rng.integers(0, 12, n).astype(float)
    calls[flag(0.1)] = np.nan  # no contact history
    edge_balance = rng.choice([0.0, 4999.99, 5000.0, 5000.01], n)
    ptp = pd.array(flag(0.25), dtype="boolean")
    ptp[flag(0.05)] = pd.NA
    return pd.DataFrame(
        {
            "balance": np.where(flag(0.5), edge_balance, np.round(rng.gamma(1.5, 4000, n), 2)),
            "dpd": rng.choice([0, 1, 30, 31, 60, 61, 89, 90, 91, 120, 150, 181, 240], n),
            "disputed_now": flag(0.05),
            "deceased_now": flag(0.02),
            "bankrupt_now": flag(0.02),
            "fraud_suspected_now": flag(0.05),
            "address_verified": flag(0.7),
            "months_since_last_restructuring": months,
            "under_restructuring": flag(0.1),
            "open_ptp": ptp,
            "call_attempts_7d": calls,
        }
    )


@pytest.fixture(scope="session")
def default_rules() -> RuleSet:
    return load_rules()


@pytest.fixture(scope="session")
def rule_frame_100k() -> pd.DataFrame:
    return random_rule_frame(100_000, seed=11)


@pytest.fixture(scope="session")
def policy_tables(sim_default_dir):
    from rollcure.core.io import read_tables, read_truth

    return read_tables(sim_default_dir), read_truth(sim_default_dir)


@pytest.fixture(scope="session")
def policy_bundle(trained_run, policy_tables):
    """The trained bundle with action-response models fitted on the cycles before its OOT period.

    A shallow copy, so the shared ``trained_run`` bundle is not changed under other tests.
    """
    import dataclasses

    from models.bundle import PolicyBundle
    from training.backtest import fit_policy_models, held_out_start

    bundle = dataclasses.replace(trained_run.bundle)
    if bundle.policy is None:
        tables, _ = policy_tables
        models = fit_policy_models(tables, trained_run.cfg, held_out_start(bundle))
        bundle.policy = PolicyBundle.from_config(trained_run.cfg.policy, models)
    return bundle


@pytest.fixture(scope="session")
def policy_bundle_dir(policy_bundle, tmp_path_factory):
    return policy_bundle.save(tmp_path_factory.mktemp("policy_bundle"))


@pytest.fixture(scope="session")
def backtest_result(policy_bundle, policy_tables, trained_run):
    from training.backtest import run_backtest

    tables, truth = policy_tables
    return run_backtest(tables, truth, policy_bundle, trained_run.cfg, seed=trained_run.cfg.seed)


@pytest.fixture(scope="session")
def latest_book(policy_tables, trained_run):
    """Features of the overdue cases at the latest cycle of the default book."""
    from features.build import build_features
    from features.cases import overdue_cases

    tables, _ = policy_tables
    cycles = tables["cycles"]
    cases = overdue_cases(cycles, as_of=cycles["cycle_date"].max())
    return build_features(tables, cases, trained_run.cfg.features)
