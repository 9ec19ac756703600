"""Cross-fitted off-policy estimates: each logged case is decided and valued by models fitted
without its loan, so a policy chosen by the models is not valued on the models' own fitting errors."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from models.uplift import ActionPrediction
from rollcure.core.catalogue import ACTIONS
from training import backtest
from training.backtest import loan_folds, without_fold


def test_a_loan_always_lands_in_the_same_fold_and_the_folds_split_the_book():
    ids = np.arange(20_000)
    folds = loan_folds(ids, 2)
    assert set(np.unique(folds).tolist()) == {0, 1}
    assert 0.45 < folds.mean() < 0.55
    np.testing.assert_array_equal(loan_folds(ids[::-1], 2), folds[::-1])
    assert set(np.unique(loan_folds(ids, 3)).tolist()) == {0, 1, 2}


def test_without_fold_drops_the_folds_loans_from_every_table(policy_tables):
    tables, _ = policy_tables
    out = without_fold(tables, 0, 2)
    for name, table in out.items():
        if "loan_id" in table.columns:
            original = tables[name]
            assert (loan_folds(table["loan_id"].to_numpy(), 2) == 1).all(), name
            assert len(table) == int((loan_folds(original["loan_id"].to_numpy(), 2) == 1).sum()), name
    assert 0 < len(out["loans"]) < len(tables["loans"])
    assert set(out["borrowers"]["borrower_id"]) == set(out["loans"]["borrower_id"])


def test_each_case_is_predicted_without_its_fold(monkeypatch, policy_bundle, trained_run):
    """Models stand-ins that remember which fold they were fitted without: every case's prediction
    must come from the one that never saw the case's loan."""
    folds = 3
    loans = pd.DataFrame({"loan_id": np.arange(300), "borrower_id": np.arange(300)})
    tables = {"loans": loans, "borrowers": loans[["borrower_id"]]}

    class Remembers:
        def __init__(self, missing: int):
            self.missing = missing

        def predict(self, X, costs=None):
            full = np.full((len(X), len(ACTIONS)), float(self.missing))
            names = [f.name for f in dataclasses.fields(ActionPrediction)]
            return ActionPrediction(**{n: full.copy() for n in names})

    def fake_fit(subset, cfg, before):
        seen = set(np.unique(loan_folds(subset["loans"]["loan_id"].to_numpy(), folds)).tolist())
        (missing,) = set(range(folds)) - seen
        return Remembers(missing)

    monkeypatch.setattr(backtest, "fit_policy_models", fake_fit)
    predict = backtest._cross_fitted(tables, policy_bundle, trained_run.cfg, folds)
    X = pd.DataFrame({"loan_id": np.arange(300)[::-1]})
    got = predict(X)
    want = loan_folds(X["loan_id"].to_numpy(), folds).astype(float)
    every_action = np.repeat(want[:, None], len(ACTIONS), axis=1)
    for field in dataclasses.fields(ActionPrediction):
        np.testing.assert_array_equal(getattr(got, field.name), every_action)
    empty = predict(X.iloc[:0])
    assert all(getattr(empty, f.name).shape[0] == 0 for f in dataclasses.fields(ActionPrediction))
    assert backtest._cross_fitted(tables, policy_bundle, trained_run.cfg, 1) is None
