"""Every action's prediction from one walk per tree equals LightGBM's prediction of the stacked rows."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest

from models.action_trees import action_forest
from rollcure.core.catalogue import ACTIONS
from rollcure.core.errors import InputError


def _stacked_reference(booster: lgb.Booster, base: np.ndarray, n_actions: int) -> np.ndarray:
    """LightGBM's own prediction of every case under every action (the action as the last column)."""
    stacked = np.empty((n_actions, len(base), base.shape[1] + 1))
    stacked[:, :, :-1] = base[None]
    stacked[:, :, -1] = np.arange(n_actions, dtype=float)[:, None]
    pred = booster.predict(stacked.reshape(n_actions * len(base), -1), num_threads=1)
    return np.asarray(pred).reshape(n_actions, len(base)).T


def _toy_booster(
    seed: int, objective: str, n_actions: int = 7, num_leaves: int = 15, min_child_samples: int = 5
) -> tuple[lgb.Booster, np.ndarray]:
    """A small booster on random data with NaNs, zeros, a categorical feature and the action last,
    whose label depends on the action so that trees split on it."""
    rng = np.random.default_rng(seed)
    n = 3000
    X = pd.DataFrame(
        {
            "a": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),
            "b": np.where(rng.random(n) < 0.3, 0.0, rng.exponential(size=n)),
            "c": pd.Categorical(rng.integers(0, 5, n)),
            "action": pd.Categorical(rng.integers(0, n_actions, n)),
        }
    )
    action = X["action"].cat.codes.to_numpy()
    signal = np.nan_to_num(X["a"].to_numpy()) + 0.5 * (action % 3) - 0.4 * (action == 5) * X["b"].to_numpy()
    y = (signal + rng.normal(size=n) > 0.3).astype(float) if objective == "binary" else signal
    params = {
        "objective": objective, "num_leaves": num_leaves, "min_child_samples": min_child_samples,
        "verbose": -1, "seed": seed, "deterministic": True, "use_missing": True,
        "zero_as_missing": seed % 2 == 1,
    }  # fmt: skip
    booster = lgb.train(params, lgb.Dataset(X, label=y), num_boost_round=60)
    base = np.column_stack(
        [
            np.where(rng.random(500) < 0.2, np.nan, rng.normal(size=500)),
            np.where(rng.random(500) < 0.3, 0.0, rng.exponential(size=500)),
            rng.integers(-1, 8, 500).astype(float),  # negative and unseen categories too
        ]
    )
    base[rng.random(500) < 0.05, 2] = np.nan
    return booster, base


@pytest.mark.parametrize(
    ("seed", "objective"), [(0, "regression"), (1, "binary"), (2, "binary"), (3, "regression")]
)
def test_every_action_equals_lightgbm_on_stacked_rows(seed, objective):
    booster, base = _toy_booster(seed, objective)
    forest = action_forest(booster)
    assert forest.has_action.any(), "the toy label depends on the action: some tree must split on it"
    ours = forest.predict(base, 7)
    assert np.abs(ours - _stacked_reference(booster, base, 7)).max() <= 1e-12


@pytest.mark.parametrize("lut_max_nodes", [0, 6])
def test_leaf_tables_and_walks_give_the_same_numbers(lut_max_nodes):
    """Trees read from leaf tables and trees walked case by case add up to the same numbers, bit for
    bit, whichever trees take which way (trees of 6-9 leaves: all walked at 0, some of each at 6,
    all tabled by default), over more cases than one block."""
    booster, base = _toy_booster(4, "binary", num_leaves=11, min_child_samples=300)
    big = np.concatenate([base] * 3)
    forest = action_forest(booster, lut_max_nodes=lut_max_nodes)
    tabled = forest.table_start >= 0
    sizes = np.diff(forest.forest.node_start)
    assert np.array_equal(tabled, sizes <= lut_max_nodes)
    assert (forest.has_action.astype(bool) & tabled).any() or lut_max_nodes == 0
    if lut_max_nodes == 6:
        assert tabled.any() and (~tabled).any()
    ours = forest.predict(big, 7)
    assert np.array_equal(ours, action_forest(booster).predict(big, 7))
    assert np.abs(ours - _stacked_reference(booster, big, 7)).max() <= 1e-12


@pytest.mark.parametrize("n_actions", [1, 3, 9])
def test_edge_values_and_action_counts_equal_lightgbm(n_actions):
    """Values at the edges of the missing-value rules (-0.0, the zero threshold and just past it,
    subnormals, +-inf, every threshold and the float above it), fewer and more actions than the
    action splits name, and zero or one case: tabled and walked trees equal LightGBM's numbers."""
    booster, base = _toy_booster(5, "regression", num_leaves=11, min_child_samples=300)
    forest = action_forest(booster)
    numeric = forest.forest.split_feature < 2
    thresholds = np.unique(forest.forest.threshold[numeric & (forest.forest.cat_start < 0)])
    specials = [np.nan, 0.0, -0.0, 1e-35, -1e-35, 1e-36, 5e-324, np.inf, -np.inf, 1e300]
    values = np.concatenate([specials, thresholds, np.nextafter(thresholds, np.inf)])
    n = len(values)
    categories = np.resize(np.array([np.nan, -1.0, 0.0, 1.0, 2.0, 4.0, 7.0]), n * n)
    grid = np.column_stack([np.repeat(values, n), np.tile(values, n), categories])
    rows = np.concatenate([base[:50], grid])
    reference = _stacked_reference(booster, rows, n_actions)
    for lut_max_nodes in (0, 10):
        tree_set = action_forest(booster, lut_max_nodes=lut_max_nodes)
        assert np.array_equal(tree_set.predict(rows, n_actions), reference)
        assert tree_set.predict(rows[:0], n_actions).shape == (0, n_actions)
        assert np.array_equal(tree_set.predict(rows[7:8], n_actions), reference[7:8])


def test_a_non_finite_threshold_is_refused(monkeypatch):
    booster, _ = _toy_booster(0, "regression")
    dump = booster.dump_model()
    node = dump["tree_info"][0]["tree_structure"]
    while "threshold" in node and not isinstance(node["threshold"], (int, float)):
        node = node["left_child"]
    node["threshold"] = float("inf")
    monkeypatch.setattr(booster, "dump_model", lambda: dump)
    with pytest.raises(InputError, match="not finite"):
        action_forest(booster)


def test_a_table_larger_than_the_code_is_refused():
    booster, _ = _toy_booster(0, "regression")
    with pytest.raises(InputError, match="lut_max_nodes"):
        action_forest(booster, lut_max_nodes=17)


def test_threads_do_not_change_the_numbers():
    booster, base = _toy_booster(4, "binary")
    big = np.tile(base, (10, 1))  # 5,000 cases: two threads get a block each
    forest = action_forest(booster)
    assert np.array_equal(forest.predict(big, 7, threads=1), forest.predict(big, 7, threads=2))


def test_shipped_action_models_predict_every_action_as_lightgbm(policy_bundle, latest_book):
    models = policy_bundle.policy.action_models
    X = latest_book
    base = models._matrix(X)
    pred = models.predict(X)
    boosters = [*models.recovery_members, models.cure_model, models.roll_model]
    raw = [_stacked_reference(b, base, len(ACTIONS)) for b in boosters]
    assert np.abs(pred.cure - np.clip(raw[-2], 0, 1)).max() <= 1e-12
    assert np.abs(pred.roll - np.clip(raw[-1], 0, 1)).max() <= 1e-12
    for reference, forest in zip(raw, models.forests(), strict=True):
        assert np.abs(forest.predict(base, len(ACTIONS)) - reference).max() <= 1e-12


def test_unsupported_objective_and_bad_shapes_are_refused():
    rng = np.random.default_rng(0)
    X = rng.random((200, 2))
    poisson = lgb.train({"objective": "poisson", "verbose": -1}, lgb.Dataset(X, label=rng.poisson(2, 200)), 5)
    with pytest.raises(InputError, match="objective"):
        action_forest(poisson)
    booster, base = _toy_booster(0, "regression")
    with pytest.raises(InputError, match="cases x 3"):
        action_forest(booster).predict(base[:, :2], 7)
    with pytest.raises(InputError, match="n_actions"):
        action_forest(booster).predict(base, 0)
