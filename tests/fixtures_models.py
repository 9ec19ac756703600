"""Fixtures of the models stage.

``toy_frame`` / ``toy_spec``: a small synthetic case frame with a known logistic truth, for unit
tests that must not wait for the feature pipeline. ``trained_run``: one training run on the
default simulated portfolio into a temporary MLflow store, shared by every test that needs a
trained bundle (serving and policy tests included) so that the suite trains only once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from models.feature_spec import FeatureSpec
from rollcure.core.domain import BUCKETS, EMPLOYMENTS, bucket_of

TOY_SEED = 11


@pytest.fixture(scope="session")
def toy_spec() -> list[FeatureSpec]:
    return [
        FeatureSpec("dpd", "repayment", "int", "Days past due at the cycle date", 1),
        FeatureSpec(
            "ptp_broken_90d", "contact", "int", "Promises made in the window, due by as_of and broken.", 1
        ),
        FeatureSpec("monthly_income", "borrower", "float", "Monthly income", -1),
        FeatureSpec("employment", "borrower", "category", "Employment", 0),
        FeatureSpec("phone_verified", "borrower", "bool", "Phone number verified", 0),
    ]


def make_toy(n: int, seed: int) -> pd.DataFrame:
    """Cases over 8 monthly cycles with a logistic truth; roll-forward and cure labels are drawn
    jointly from a next bucket so that the Markov baseline has something to learn too."""
    rng = np.random.default_rng(seed)
    dpd = rng.choice([15, 45, 75, 105], size=n, p=[0.5, 0.25, 0.15, 0.1])
    broken = rng.poisson(0.8, size=n)
    income = rng.lognormal(8, 0.5, size=n)
    income[rng.random(n) < 0.05] = np.nan
    employment = rng.choice(EMPLOYMENTS, size=n)
    phone = rng.random(n) < 0.7
    emp_effect = pd.Series(employment).map(
        {"salaried": -0.4, "self_employed": 0.0, "unemployed": 0.8, "retired": 0.2}
    )
    z = (
        -1.2
        + 0.012 * dpd
        + 0.45 * broken
        - 0.5 * (np.log(np.nan_to_num(income, nan=3000.0)) - 8)
        + emp_effect.to_numpy()
        - 0.3 * phone
    )
    p_roll = 1 / (1 + np.exp(-z))
    p_cure = 1 / (1 + np.exp(z + 0.6))
    u = rng.random(n)
    step = np.where(u < p_roll, 30, np.where(u < p_roll + (1 - p_roll) * p_cure, -dpd, 0))
    next_dpd = np.maximum(dpd + step, 0)
    cycles = pd.date_range("2024-01-31", periods=8, freq="ME")
    return pd.DataFrame(
        {
            "loan_id": np.arange(n, dtype=np.int64),
            "as_of": cycles[rng.integers(0, len(cycles), size=n)],
            "dpd": dpd.astype(np.int64),
            "ptp_broken_90d": broken.astype(np.int64),
            "monthly_income": income,
            "employment": pd.Categorical(employment, categories=EMPLOYMENTS),
            "phone_verified": phone,
            "bucket": bucket_of(dpd),
            "next_bucket": bucket_of(next_dpd),
            "roll_forward": (
                pd.Categorical(bucket_of(next_dpd), categories=BUCKETS).codes
                > pd.Categorical(bucket_of(dpd), categories=BUCKETS).codes
            ),
            "cure": next_dpd == 0,
        }
    )


@pytest.fixture(scope="session")
def toy_frame() -> pd.DataFrame:
    return make_toy(6000, TOY_SEED)


@dataclass
class TrainedRun:
    """One registered training run: use ``bundle`` to score, ``cfg`` to reach the same MLflow store."""

    cfg: object
    bundle: object
    run_id: str
    version: str
    metrics: dict
    outcome: object


@pytest.fixture(scope="session")
def trained_run(sim_default_dir, tmp_path_factory):
    """Train once on the default portfolio into a temporary SQLite MLflow store.

    The version is registered as ``challenger`` and promoted to ``champion`` (as the demo does).

    ``MLFLOW_TRACKING_URI`` is unset for the session so that tests never write to a shared server.
    The report is not written here (the report tests render it from ``outcome.result``).
    """
    from registry.store import TRACKING_ENV
    from rollcure.config import RollcureConfig
    from training.pipeline import run_training

    patch = pytest.MonkeyPatch()
    patch.delenv(TRACKING_ENV, raising=False)
    # one LightGBM thread: on a shared 2-core machine OpenMP spin-waits make 2 threads slower
    cfg = RollcureConfig(
        data_dir=tmp_path_factory.mktemp("trained_run"), seed=7, model={"lightgbm": {"num_threads": 1}}
    )
    outcome = run_training(cfg, sim_default_dir, None, promote=True, write_report_file=False)
    yield TrainedRun(cfg, outcome.bundle, outcome.run_id, outcome.version, outcome.metrics, outcome)
    patch.undo()
