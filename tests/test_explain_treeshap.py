"""The TreeSHAP of ``models.explain`` against LightGBM's own ``pred_contrib`` (the reference, here only).

Bars from issue 14: max |difference| <= 1e-9 on the shipped models (the default training run) over
10k random rows with NaNs, zeros, split thresholds and unseen categories, and on random small
boosters (hypothesis: numeric and categorical splits, every missing-value mode, stumps, leaves with
and without weight tables); contributions sum to the margin; threads and blocks do not change a
bit; linear trees, multiclass and random-forest boosters are refused with an ``InputError``.
"""

from __future__ import annotations

import doctest

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import models.explain.forest
import models.explain.treeshap
from models.explain import explainer_from_dump, tree_shap
from rollcure.config.model import TARGETS
from rollcure.core.errors import InputError

TOLERANCE = 1e-9
RANDOM_ROWS = 10_000
SEED = 14


def _thresholds(booster: lgb.Booster, feature: int) -> np.ndarray:
    """The numeric thresholds the booster splits ``feature`` at (rows exactly on them test ``<=``)."""
    found: list[float] = []

    def walk(node: dict) -> None:
        if "leaf_value" in node:
            return
        if node["split_feature"] == feature and node["decision_type"] == "<=":
            found.append(float(node["threshold"]))
        walk(node["left_child"])
        walk(node["right_child"])

    for tree in booster.dump_model()["tree_info"]:
        walk(tree["tree_structure"])
    return np.asarray(found)


def random_rows(
    booster: lgb.Booster, seen: np.ndarray, categorical: set[int], n: int, seed: int
) -> np.ndarray:
    """Rows mixing the columns' own values, uniform noise over their range, split thresholds, exact
    and tiny zeros, NaNs; categorical columns get known, unseen, negative and fractional codes."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, seen.shape[1]))
    for j in range(seen.shape[1]):
        col = seen[:, j][~np.isnan(seen[:, j])]
        col = col if len(col) else np.zeros(1)
        if j in categorical:
            unseen = np.arange(col.max() + 1, col.max() + 6)
            values = rng.choice(np.r_[col, unseen, -1.0, -0.5, 0.5, 1e9], size=n)
        else:
            cuts = _thresholds(booster, j)
            pool = np.r_[col, cuts, np.nextafter(cuts, np.inf), 0.0, -0.0, 1e-36, -1e-36]
            noise = rng.uniform(col.min() - 1, col.max() + 1, size=n)
            values = np.where(rng.random(n) < 0.5, rng.choice(pool, size=n), noise)
        values[rng.random(n) < 0.1] = np.nan
        out[:, j] = values
    return out


def _max_diff(booster: lgb.Booster, X: np.ndarray, num_iteration: int | None = None, **limits: int) -> float:
    explainer = explainer_from_dump(booster.dump_model(num_iteration=num_iteration), **limits)
    ours = explainer.contributions(X)
    reference = booster.predict(X, pred_contrib=True, num_iteration=num_iteration)
    margin = booster.predict(X, raw_score=True, num_iteration=num_iteration)
    assert np.abs(ours.sum(axis=1) - margin).max() <= TOLERANCE
    return float(np.abs(ours - reference).max())


# ------------------------------------------------------------------ the shipped (default) models
@pytest.fixture(scope="module")
def shipped(trained_run):
    """Each target's classifier and the real case matrix it explains."""
    bundle = trained_run.bundle
    cases = trained_run.outcome.data.cases
    return {t: (bundle.scorers[t].model, bundle.scorers[t].model.matrix(cases)) for t in TARGETS}


@pytest.mark.parametrize("target", TARGETS)
def test_equal_to_pred_contrib_on_the_shipped_models(shipped, target):
    model, matrix = shipped[target]
    booster, n = model.booster_, model.best_iteration_
    categorical = {model.features_.index(c) for c in model.categories_}
    rows = random_rows(booster, matrix, categorical, RANDOM_ROWS, SEED)
    cats = sorted(categorical)
    assert np.isnan(rows).any() and (rows[:, cats] > np.nanmax(matrix[:, cats], axis=0)).any()
    assert _max_diff(booster, rows, n) <= TOLERANCE
    assert _max_diff(booster, matrix, n) <= TOLERANCE
    # the classifier's own path (models everywhere call this) is the same explainer
    reference = booster.predict(matrix[:500], pred_contrib=True, num_iteration=n)
    assert np.abs(model.contributions(matrix[:500]) - reference).max() <= TOLERANCE


def test_threads_and_blocks_do_not_change_a_bit(shipped):
    model, matrix = shipped[TARGETS[0]]
    explainer = tree_shap(model.booster_, model.best_iteration_)
    one = explainer.contributions(matrix)
    assert np.array_equal(one, explainer.contributions(matrix, threads=2))
    rows = [0, 7, len(matrix) - 1]
    assert np.array_equal(one[rows], np.vstack([explainer.contributions(matrix[i : i + 1]) for i in rows]))


# ------------------------------------------------------------------ random small boosters
@st.composite
def small_boosters(draw: st.DrawFn) -> tuple[lgb.Booster, np.ndarray, set[int], int]:
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    n, k = draw(st.integers(40, 300)), draw(st.integers(1, 4))
    categorical = set(draw(st.sets(st.integers(0, k - 1), max_size=2)))
    X = rng.normal(size=(n, k)).round(draw(st.sampled_from([0, 1, 3])))
    for j in categorical:
        X[:, j] = rng.integers(0, draw(st.integers(2, 12)), size=n)
    X[rng.random((n, k)) < draw(st.sampled_from([0.0, 0.1, 0.3]))] = np.nan
    X[rng.random((n, k)) < draw(st.sampled_from([0.0, 0.2]))] = 0.0
    signal = np.nansum(X * rng.normal(size=k), axis=1) + (np.isnan(X[:, 0]) * 1.5)
    y = (signal + rng.normal(size=n) > 0).astype(float)
    params = {
        "objective": draw(st.sampled_from(["binary", "regression"])),
        "num_leaves": draw(st.integers(2, 12)),
        "min_data_in_leaf": draw(st.integers(1, 15)),
        "min_data_per_group": 1,
        "cat_smooth": 1.0,
        "max_cat_to_onehot": draw(st.sampled_from([1, 4])),
        "zero_as_missing": draw(st.booleans()),
        "use_missing": draw(st.booleans()),
        "learning_rate": 0.3,
        "verbosity": -1,
        "num_threads": 1,
        "seed": seed,
    }
    data = lgb.Dataset(X, y, categorical_feature=sorted(categorical), params={"min_data_in_bin": 1})
    booster = lgb.train(params, data, num_boost_round=draw(st.integers(1, 6)))
    return booster, X, categorical, seed


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=small_boosters(), table_bits=st.sampled_from([0, 2, 12]))
def test_equal_to_pred_contrib_on_random_small_boosters(case, table_bits):
    booster, X, categorical, seed = case
    rows = np.vstack([X, random_rows(booster, X, categorical, 200, seed)])
    assert _max_diff(booster, rows, max_table_bits=table_bits) <= TOLERANCE


def test_stumps_only_carry_the_base_value():
    X = np.random.default_rng(0).normal(size=(50, 2))
    booster = lgb.train(
        {"objective": "regression", "min_data_in_leaf": 100, "verbosity": -1}, lgb.Dataset(X, X[:, 0]), 3
    )
    phi = tree_shap(booster).contributions(X)
    assert (phi[:, :2] == 0).all() and _max_diff(booster, X) <= TOLERANCE


# ------------------------------------------------------------------ refused boosters and inputs
@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"objective": "regression", "linear_tree": True}, "linear trees"),
        ({"objective": "multiclass", "num_class": 3}, "multiclass"),
        ({"objective": "regression", "boosting": "rf", "bagging_freq": 1, "bagging_fraction": 0.5}, "rf"),
    ],
)
def test_unsupported_boosters_are_refused(params, message):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    y = rng.integers(0, 3, 300).astype(float)
    booster = lgb.train({**params, "verbosity": -1}, lgb.Dataset(X, y), 2)
    with pytest.raises(InputError, match=message):
        tree_shap(booster)


def test_bad_inputs_name_the_problem():
    X = np.random.default_rng(0).normal(size=(100, 3))
    explainer = tree_shap(lgb.train({"objective": "regression", "verbosity": -1}, lgb.Dataset(X, X[:, 0]), 2))
    with pytest.raises(InputError, match="expected 3 feature columns"):
        explainer.contributions(X[:, :2])
    with pytest.raises(InputError, match="threads"):
        explainer.contributions(X, threads=0)


def test_doctests_run():
    for module in (models.explain.treeshap, models.explain.forest):
        assert doctest.testmod(module).failed == 0


def test_kernel_threads_follow_omp_num_threads_else_the_usable_cores(monkeypatch):
    from models.explain.treeshap import default_threads
    from rollcure.core.cores import usable_cores

    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert default_threads() == 3
    for unset in ("", "0", "two"):
        monkeypatch.setenv("OMP_NUM_THREADS", unset)
        assert default_threads() == usable_cores() >= 1
    monkeypatch.delenv("OMP_NUM_THREADS")
    assert default_threads() == usable_cores()
