"""Unit and data tests of the time split and the case join (no model fitting)."""

from __future__ import annotations

import pandas as pd
import pytest

from rollcure.config.training import TrainingConfig
from rollcure.core.errors import InputError
from training.data import frame_digest, join_cases
from training.split import TimeSplit, time_split


def _dates(n: int) -> pd.Series:
    return pd.Series(pd.date_range("2024-01-31", periods=n, freq="ME").repeat(3))


def test_default_split_is_train_then_valid_then_oot():
    split = time_split(_dates(12), TrainingConfig())
    assert len(split.train) == 9 and len(split.valid) == 1 and len(split.oot) == 2
    assert max(split.train) < min(split.valid) and max(split.valid) < min(split.oot)


def test_short_panel_keeps_one_oot_cycle():
    # the UCI file: five transitions -> three training, one validation, one OOT
    split = time_split(_dates(5), TrainingConfig(oot_cycles=2))
    assert (len(split.train), len(split.valid), len(split.oot)) == (3, 1, 1)
    split = time_split(_dates(3), TrainingConfig())
    assert (len(split.train), len(split.valid), len(split.oot)) == (1, 1, 1)


def test_too_few_cycles_is_an_input_error():
    with pytest.raises(InputError, match="needs at least 3"):
        time_split(_dates(2), TrainingConfig())


def test_counts_are_configurable_and_training_window_bounded():
    cfg = TrainingConfig(oot_cycles=3, valid_cycles=2, max_train_cycles=4)
    split = time_split(_dates(12), cfg)
    assert (len(split.train), len(split.valid), len(split.oot)) == (4, 2, 3)
    parts = split.part_of(_dates(12))
    assert (parts == "").sum() == 3 * 3  # the three oldest cycles fall outside the window


def test_split_round_trips_through_its_description():
    split = time_split(_dates(8), TrainingConfig())
    assert TimeSplit.from_description(split.describe()) == split


def test_join_keeps_labelled_cases_only_and_derives_bucket():
    cases = pd.DataFrame({"loan_id": [1, 2, 3], "as_of": pd.to_datetime(["2024-01-31"] * 3)})
    X = pd.DataFrame({"dpd": [10, 40, 70]})
    labels = pd.DataFrame(
        {
            "loan_id": [1, 3],
            "as_of": pd.to_datetime(["2024-01-31"] * 2),
            "roll_forward": [True, False],
            "cure": [False, True],
            "next_bucket": ["M2", "M0"],
        }
    )
    cycles = pd.DataFrame({"loan_id": [1, 2, 3], "cycle_date": cases["as_of"], "dpd": [10, 40, 70]})
    frame = join_cases(X, cases, labels, cycles)
    assert list(frame["loan_id"]) == [1, 3]
    assert list(frame["bucket"]) == ["M1", "M3"]
    assert list(frame["dpd"]) == [10, 70]


def test_digest_changes_with_content():
    a = pd.DataFrame({"x": [1, 2, 3]})
    assert frame_digest(a) == frame_digest(a.copy())
    assert frame_digest(a) != frame_digest(a.assign(x=[1, 2, 4]))


def test_nothing_fitted_sees_the_out_of_time_labels(toy_frame, toy_spec):
    """Leakage check: scrambling the OOT cycles' labels changes neither the models, nor the
    calibrators, nor the baselines' OOT predictions (only the metrics computed from those labels)."""
    from rollcure.config.model import ModelConfig
    from training.fit import train_models

    cfg = TrainingConfig(oot_cycles=2)
    model_cfg = ModelConfig(lightgbm={"num_threads": 1, "num_boost_round": 60})
    first = train_models(toy_frame, toy_spec, model_cfg, cfg, seed=5)
    oot = first.parts == "oot"
    scrambled = toy_frame.copy()
    scrambled.loc[oot, "roll_forward"] = ~scrambled.loc[oot, "roll_forward"]
    scrambled.loc[oot, "cure"] = ~scrambled.loc[oot, "cure"]
    scrambled.loc[oot, "next_bucket"] = "M7+"
    second = train_models(scrambled, toy_spec, model_cfg, cfg, seed=5)
    predictions = [c for c in first.oot.columns if c.startswith("p_")]
    pd.testing.assert_frame_equal(first.oot[predictions], second.oot[predictions])
    assert first.metrics != second.metrics
