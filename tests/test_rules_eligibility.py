"""Eligibility from the feature frame, and the 100k-case property: no recommendation breaks a rule."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fixtures_policy import random_rule_frame
from hypothesis import given, settings
from hypothesis import strategies as st

from models.allocation import allocate
from models.eligibility import eligibility
from rollcure.config.policy import PolicyConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.errors import InputError

A = {a: j for j, a in enumerate(ACTIONS)}
CONTACT = [a for a in ACTIONS if a != "none"]  # no collection action at all on a flagged case
PRESSURE = ["field_visit", "outsourcing", "litigation"]


def _true(s: pd.Series) -> np.ndarray:
    return s.fillna(False).astype(bool).to_numpy()


def violations(X: pd.DataFrame, chosen: np.ndarray, rules) -> dict[str, int]:
    """Independent restatement of the compliance catalogue (DESIGN §1), checked on chosen actions."""
    names = np.asarray(ACTIONS)[chosen]
    lit_min = rules.rule("LIT_MIN_BALANCE").when[0].value
    flagged = _true(X.disputed_now) | _true(X.deceased_now) | _true(X.bankrupt_now)
    months = X.months_since_last_restructuring.to_numpy(dtype=float)
    calls = X.call_attempts_7d.to_numpy(dtype=float)
    checks = {
        "contact on flagged case": flagged & np.isin(names, CONTACT),
        "litigation below balance": (names == "litigation") & ~(X.balance.to_numpy() >= lit_min),
        "litigation before 90 dpd": (names == "litigation") & ~(X.dpd.to_numpy() >= 90),
        "restructuring within 12 months": (names == "restructuring") & (months < 12),
        "restructuring on fraud": (names == "restructuring") & _true(X.fraud_suspected_now),
        "visit without address": (names == "field_visit") & ~_true(X.address_verified),
        "pressure under open promise": np.isin(names, PRESSURE) & X.open_ptp.fillna(True).to_numpy(bool),
        "pressure under restructuring": np.isin(names, PRESSURE) & _true(X.under_restructuring),
        "calls over the cap": np.isin(names, ["reminder", "outsourcing"]) & (calls >= 7),
    }
    return {k: int(v.sum()) for k, v in checks.items() if v.any()}


def test_blocked_cells_name_the_first_blocking_rule(default_rules):
    X = random_rule_frame(6, seed=0)
    X.loc[0, ["dpd", "balance"]] = [30, 100.0]
    X.loc[0, ["disputed_now", "deceased_now", "bankrupt_now"]] = False
    X.loc[1, ["deceased_now"]] = True
    el = eligibility(X, default_rules)
    ids = el.blocking_rule_ids()
    assert ids[0, A["litigation"]] == "LIT_MIN_BALANCE"
    assert ids[1, A["reminder"]] == "NO_CONTACT_FLAGGED" and el.manual_review[1]
    assert el.mask[:, A["none"]].all()
    assert (el.mask == (ids == "")).all()
    frame = el.to_frame()
    assert frame.loc[0, "blocked_litigation"] == "LIT_MIN_BALANCE" and not frame.loc[0, "eligible_litigation"]


def test_unknown_values_follow_the_missing_setting(default_rules):
    X = random_rule_frame(2, seed=1)
    X.loc[:, ["disputed_now", "deceased_now", "bankrupt_now", "fraud_suspected_now"]] = False
    X["under_restructuring"] = False
    X["address_verified"] = True
    X["months_since_last_restructuring"] = np.nan  # never restructured: passes
    X["open_ptp"] = pd.array([pd.NA, False], dtype="boolean")  # unknown promise: blocks pressure
    el = eligibility(X, default_rules)
    assert el.mask[:, A["restructuring"]].all()
    assert not el.mask[0, A["field_visit"]] and el.mask[1, A["field_visit"]]


def test_missing_feature_column_names_rule_and_column(default_rules):
    X = random_rule_frame(3, seed=2).drop(columns="open_ptp")
    with pytest.raises(InputError, match="rule 'NO_PRESSURE_WHILE_PROMISE' reads feature 'open_ptp'"):
        eligibility(X, default_rules)


def test_property_100k_random_cases_no_recommendation_breaks_a_rule(default_rules, rule_frame_100k):
    X = rule_frame_100k
    el = eligibility(X, default_rules)
    rng = np.random.default_rng(5)
    # Values that favour forbidden actions: a policy that ignored eligibility would break rules.
    values = rng.normal(0, 50, (len(X), len(ACTIONS))) + np.linspace(0, 200, len(ACTIONS))
    caps = np.array(PolicyConfig(working_days_per_cycle=30).cycle_capacity()) * 8
    for method in ("exact", "greedy"):
        chosen = allocate(values, el.mask, caps, method=method)
        assert violations(X, chosen, default_rules) == {}
        assert (np.bincount(chosen, minlength=len(ACTIONS)) <= caps).all()
    # The check itself has teeth: the unconstrained argmax breaks rules on this data.
    assert violations(X, values.argmax(axis=1), default_rules)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 60))
def test_property_small_frames(default_rules, seed, n):
    X = random_rule_frame(n, seed)
    el = eligibility(X, default_rules)
    values = np.random.default_rng(seed).normal(0, 100, (n, len(ACTIONS)))
    chosen = allocate(values, el.mask, [np.inf, *(range(1, len(ACTIONS)))])
    assert violations(X, chosen, default_rules) == {}


@pytest.mark.parametrize(
    "values",
    [
        [True, False, True],
        [3, -1, 0],
        [1.5, np.nan, -np.inf],
        np.array([0.25, np.nan, 7.0], dtype=np.float32),
        pd.array([1, None, 2], dtype="Int64"),
        ["1", "x", None],
    ],
)
def test_feature_values_read_as_the_nullable_float_path_reads_them(values):
    from models.eligibility import _as_float

    col = pd.Series(values)
    general = pd.to_numeric(col, errors="coerce").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    got, missing = _as_float(col)
    np.testing.assert_array_equal(got, general)
    np.testing.assert_array_equal(missing, np.isnan(general))
