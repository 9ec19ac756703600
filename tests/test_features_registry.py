"""Unit tests of the feature registry: the single declaration every stage reads."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from features.registry import DTYPES, FEATURES, FEATURES_BY_NAME, GROUPS, features_in

#: Features the policy's eligibility rules and the issue name explicitly.
REQUIRED = [
    "balance", "arrears", "dpd", "bucket", "disputed_now", "deceased_now", "bankrupt_now",
    "fraud_suspected_now", "address_verified", "phone_verified", "months_since_last_restructuring",
    "under_restructuring", "open_ptp", "call_attempts_7d", "collateral_value", "loan_to_value",
    "max_dpd_3", "max_dpd_6", "max_dpd_12", "delinquent_cycles_6", "delinquent_cycles_12",
    "times_cured_12", "consecutive_missed", "paid_to_due_1", "paid_to_due_3", "paid_to_due_6",
    "cycles_since_full_payment", "arrears_to_instalment", "balance_trend_3", "rpc_rate_90d",
    "ptp_kept_ratio_90d", "days_since_last_rpc", "last_contact_outcome", "disputes_90d", "last_action",
    "days_since_last_field_visit", "restructured_before", "months_on_book", "remaining_term",
    "instalment_to_income", "has_guarantor", "debt_to_income", "bureau_score",
]  # fmt: skip


def test_at_least_sixty_features_each_declared_once():
    names = [f.name for f in FEATURES]
    assert len(names) >= 60
    assert [n for n, k in Counter(names).items() if k > 1] == []


@pytest.mark.parametrize("group", GROUPS)
def test_every_group_is_populated(group):
    assert len(features_in(group)) >= 5


@pytest.mark.parametrize("feature", FEATURES, ids=lambda f: f.name)
def test_entry_is_well_formed(feature):
    assert feature.group in GROUPS
    assert feature.dtype in DTYPES
    assert feature.monotone in (-1, 0, 1)
    assert feature.description.strip() and feature.name.isidentifier()
    if feature.dtype == "category":
        assert feature.categories and len(set(feature.categories)) == len(feature.categories)
        assert isinstance(feature.pandas_dtype(), pd.CategoricalDtype)
    else:
        assert feature.categories is None


@pytest.mark.parametrize("name", REQUIRED)
def test_required_feature_is_registered(name):
    assert name in FEATURES_BY_NAME


def test_contact_and_action_features_can_be_missing():
    """Books without contact or action history give NaN, so none of these may be int or bool."""
    for f in features_in("contact") + features_in("action"):
        assert f.dtype in ("float", "category"), f.name
