"""The validation report: one self-contained HTML file with every section a validator needs."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from training.drift import psi, psi_table
from training.report import ReportContext, build_report, tier_counts

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:shap.*")

SECTIONS = (
    "1. Data",
    "2. Out-of-time performance against the baselines",
    "3. Score distributions",
    "4. Population stability",
    "5. Explanations (SHAP",
    "6. Performance per bucket",
    "7. Five-tier classification",
    "8. Markov baseline",
)


def test_psi_is_zero_for_the_same_population_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    a = pd.Series(rng.normal(size=5000))
    assert psi(a, a) == pytest.approx(0, abs=1e-9)
    assert psi(a, pd.Series(rng.normal(size=5000))) < 0.02
    assert psi(a, pd.Series(rng.normal(1.0, 1, size=5000))) > 0.25
    cats = pd.Series(pd.Categorical(rng.choice(["a", "b"], 2000, p=[0.5, 0.5])))
    shifted = pd.Series(pd.Categorical(rng.choice(["a", "b"], 2000, p=[0.9, 0.1])))
    table = psi_table(pd.DataFrame({"x": a[:2000], "c": cats}), pd.DataFrame({"x": a[:2000], "c": shifted}))
    assert list(table["variable"]) == ["c", "x"] and list(table["verdict"]) == ["shifted", "stable"]


def test_missing_values_form_their_own_bin():
    a = pd.Series([1.0, 2.0, 3.0, 4.0] * 100)
    b = a.where(np.arange(400) % 2 == 0)  # half missing
    assert psi(a, b) > 0.25


def test_report_is_self_contained_and_complete(trained_run):
    outcome = trained_run.outcome
    images: dict[str, str] = {}
    html = build_report(
        outcome.result, outcome.data.cases, ReportContext(facts={"run id": "r1"}), 300, 7, images
    )
    assert len(images) == 9 and "ROC_curves" in images
    for heading in SECTIONS:
        assert heading in html, heading
    assert html.count("data:image/png;base64,") == 3 + 3 * 2  # ROC, calibration, scores; 3 SHAP plots x 2
    assert not re.search(r"""(src|href)=["']https?://""", html)
    for model in ("lightgbm", "markov", "logistic"):
        assert model in html
    for name in trained_run.bundle.feature_names[:5]:
        assert f"<td>{name}</td>" in html  # PSI row per feature


def test_tier_counts_cover_every_case(trained_run):
    cases = trained_run.outcome.data.cases
    table = tier_counts(cases, trained_run.outcome.result.parts)
    parts = trained_run.outcome.result.parts
    assert table.drop(columns="tier").to_numpy().sum() == (parts != "").sum()
    assert list(table["tier"]) == ["normal", "special_mention", "substandard", "doubtful", "loss"]
