"""Action-response models on synthetic logs with a known heterogeneous effect."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from models.uplift import REFERENCE_ACTION, fit_action_models
from rollcure.config.policy import PolicyConfig, UpliftSettings
from rollcure.core.catalogue import ACTIONS, CATALOGUE
from rollcure.core.errors import InputError

A = {a: j for j, a in enumerate(ACTIONS)}


def _logs(n: int, seed: int):
    """Reminders work on the willing (x > 0), restructuring on the unable (x < 0); a ladder logs."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    balance = rng.gamma(2.0, 2000.0, n)
    # the logging policy: a ladder on x with a randomisation floor, propensities recorded
    pref = np.where(x > 0.5, A["reminder"], np.where(x < -0.5, A["field_visit"], A["none"]))
    explore = rng.random(n) < 0.4
    logged = np.where(explore, rng.integers(0, len(ACTIONS), n), pref)
    prop = np.where(logged == pref, 0.6 + 0.4 / len(ACTIONS), 0.4 / len(ACTIONS))
    effect = np.zeros((n, len(ACTIONS)))
    effect[:, A["reminder"]] = 0.25 * (x > 0)
    effect[:, A["restructuring"]] = 0.25 * (x < 0)
    share = np.clip(0.2 + effect[np.arange(n), logged] + rng.normal(0, 0.05, n), 0, 1)
    keys = pd.DataFrame({"loan_id": np.arange(n), "as_of": pd.Timestamp("2025-01-31")})
    X = keys.assign(balance=balance, x=x, noise=rng.normal(size=n))
    labels = keys.assign(value_gross=share * balance, cure=share > 0.4, roll_forward=share < 0.15)
    actions = pd.DataFrame(
        {
            "loan_id": keys["loan_id"],
            "decided_at": keys["as_of"],
            "action": np.asarray(ACTIONS)[logged],
            "cost": 0.0,
            "propensity": prop,
        }
    )
    return X, labels, actions, effect


@pytest.fixture(scope="module")
def fitted():
    X, labels, actions, _ = _logs(4000, seed=1)
    cfg = PolicyConfig(uplift=UpliftSettings(n_estimators=80, n_bags=3))
    return fit_action_models(X, labels, actions, cfg, seed=3), cfg


def test_recovers_the_best_action_where_effects_differ(fitted):
    models, cfg = fitted
    X, _, _, effect = _logs(2000, seed=2)
    pred = models.predict(X)
    best_true = np.where(X["x"] > 0, A["reminder"], A["restructuring"])
    picked = pred.value[:, [A["reminder"], A["restructuring"]]].argmax(axis=1)
    picked = np.where(picked == 0, A["reminder"], A["restructuring"])
    strong = np.abs(X["x"]).to_numpy() > 0.3
    # a coin would be right half the time
    assert (picked == best_true)[strong].mean() > 0.85
    # the learnt uplift of a reminder over doing nothing tracks the true one
    uplift = pred.recovery[:, A["reminder"]] - pred.recovery[:, A["none"]]
    true = effect[:, A["reminder"]] * X["balance"].to_numpy()
    assert np.corrcoef(uplift, true)[0, 1] > 0.6


def test_value_is_recovery_minus_cost_with_a_band(fitted):
    models, cfg = fitted
    X, _, _, _ = _logs(200, seed=4)
    costs = np.array([a.cost for a in CATALOGUE.actions], dtype=float)
    pred = models.predict(X, costs=costs)
    np.testing.assert_allclose(pred.value, pred.recovery - costs)
    assert (pred.value_low <= pred.value).all() and (pred.value <= pred.value_high).all()
    assert (pred.value_high > pred.value_low).mean() > 0.99
    assert ((pred.cure >= 0) & (pred.cure <= 1)).all()
    frame = pred.to_frame()
    assert {"ev_litigation", "ev_low_none", "p_cure_reminder"} <= set(frame.columns)


def test_decision_departs_from_the_reference_only_on_clear_evidence(fitted):
    """The policy ranks by ``decision``: the reference (reminder) at its expected value, the others
    at the lower band of their contrast with it, so never above their expected value; a large,
    consistent effect (restructuring on the unable) still wins."""
    models, _ = fitted
    X, _, _, _ = _logs(2000, seed=7)
    pred = models.predict(X)
    ref = A[REFERENCE_ACTION]
    np.testing.assert_allclose(pred.decision[:, ref], pred.value[:, ref])
    assert (pred.decision <= pred.value + 1e-6).all()
    unable = X["x"].to_numpy() < -1
    cautious = pred.decision[unable][:, [ref, A["restructuring"]]].argmax(axis=1)
    assert (cautious == 1).mean() > 0.8


def test_models_pickle_round_trip(fitted):
    models, _ = fitted
    X, _, _, _ = _logs(50, seed=5)
    again = pickle.loads(pickle.dumps(models))
    np.testing.assert_array_equal(again.predict(X).value, models.predict(X).value)


def test_bad_logs_are_named():
    X, labels, actions, _ = _logs(300, seed=6)
    cfg = PolicyConfig()
    bad = actions.assign(action=actions["action"].where(actions.index > 0, "lawsuit"))
    with pytest.raises(InputError, match="unknown value.*lawsuit"):
        fit_action_models(X, labels, bad, cfg, seed=1)
    with pytest.raises(InputError, match="propensity must be in"):
        fit_action_models(X, labels, actions.assign(propensity=0.0), cfg, seed=1)
    with pytest.raises(InputError, match="lacks column"):
        fit_action_models(X, labels, actions.drop(columns="propensity"), cfg, seed=1)
    with pytest.raises(InputError, match="need at least"):
        fit_action_models(X.head(20), labels, actions, cfg, seed=1)


def test_numeric_fast_path_predicts_exactly_what_the_frame_path_does(fitted):
    """predict() feeds LightGBM one float matrix (category codes) instead of a frame per action."""
    from models.lgb_input import as_lgb_matrix as _numeric
    from models.uplift import _with_action

    models, _ = fitted
    X, *_ = _logs(300, seed=9)
    X = X.assign(region=pd.Categorical(np.where(X["x"] > 0, "north", None), categories=["north", "south"]))
    Xm = X[models.feature_names]
    pred = models.predict(X)
    for j, a in enumerate(ACTIONS):
        frame_path = models.cure_model.predict(_with_action(Xm, a), num_threads=1)
        assert np.array_equal(frame_path, models.cure_model.predict(_numeric(_with_action(Xm, a))))
        assert np.allclose(pred.cure[:, j], np.clip(frame_path, 0, 1))
        roll_path = models.roll_model.predict(_with_action(Xm, a), num_threads=1)
        assert np.allclose(pred.roll[:, j], np.clip(roll_path, 0, 1))
    coded = _numeric(X[["region"]])
    missing = X["region"].isna().to_numpy()
    assert np.isnan(coded[missing, 0]).all() and set(coded[~missing, 0]) == {0}


def test_prediction_does_not_depend_on_the_frames_other_columns_or_their_order(fitted):
    models, _ = fitted
    X, *_ = _logs(200, seed=4)
    exact = models.predict(X[models.feature_names])
    wider = models.predict(X.assign(extra=1.0)[[*reversed(X.columns), "extra"]])
    for f in ("recovery", "recovery_sd", "cure", "roll", "value", "decision"):
        assert np.array_equal(getattr(exact, f), getattr(wider, f))
    with pytest.raises(InputError, match="action models: feature frame: missing column"):
        models.predict(X.drop(columns=[models.feature_names[0]]))


def test_a_case_is_predicted_alike_whatever_shares_the_call_and_the_threads(fitted):
    models, _ = fitted
    X, _, _, _ = _logs(5000, seed=9)  # two threads take a block of cases each
    whole = models.predict(X, threads=1)
    two = models.predict(X, threads=2)
    head = models.predict(X.iloc[:301], threads=1)
    for name in ("recovery", "recovery_sd", "cure", "roll", "value", "decision"):
        np.testing.assert_array_equal(getattr(two, name), getattr(whole, name))
        np.testing.assert_array_equal(getattr(head, name), getattr(whole, name)[:301])
