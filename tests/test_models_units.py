"""Unit tests of the model building blocks on a small synthetic frame with a known truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.metrics import log_loss as sk_log_loss

from models.baselines import LogisticScorecard, MarkovBaseline
from models.bundle import Bundle, Scorer
from models.calibration import Calibrator, choose
from models.classifiers import GBMClassifier, monotone_vector
from models.explain import shap_contributions
from models.metrics import auc, brier, ece, ks, log_loss, metric_table, metrics_by_group
from models.reason_codes import reason_code_table
from rollcure.config.model import TARGETS, ModelConfig
from rollcure.core.errors import InputError

SEED = 3
pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:shap.*")


# ---------------------------------------------------------------- metrics
def test_metrics_agree_with_sklearn():
    rng = np.random.default_rng(SEED)
    p = rng.random(500)
    y = (rng.random(500) < p).astype(int)
    assert auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert brier(y, p) == pytest.approx(brier_score_loss(y, p))
    assert log_loss(y, p) == pytest.approx(sk_log_loss(y, np.clip(p, 1e-6, 1 - 1e-6)))
    assert metric_table(y, p)["gini"] == pytest.approx(2 * roc_auc_score(y, p) - 1)


def test_ks_and_ece_on_hand_computed_cases():
    y = np.array([0, 0, 1, 1])
    assert ks(y, np.array([0.1, 0.2, 0.8, 0.9])) == 1.0
    assert ks(y, np.array([0.5, 0.5, 0.5, 0.5])) == 0.0
    # all scores 0.25 with an observed rate of 0.5: one bin, gap 0.25
    assert ece(y, np.full(4, 0.25)) == pytest.approx(0.25)
    assert np.isnan(auc(np.ones(3), np.array([0.1, 0.2, 0.3])))


def test_metrics_by_group_counts_every_case():
    rng = np.random.default_rng(SEED)
    p = rng.random(300)
    y = (rng.random(300) < p).astype(int)
    g = rng.choice(["M1", "M2", "M3"], size=300)
    table = metrics_by_group(y, p, g)
    assert table["n"].sum() == 300 and list(table["group"]) == ["M1", "M2", "M3"]


# ---------------------------------------------------------------- baselines
def test_markov_rates_follow_transition_counts():
    now = pd.Series(["M1"] * 80 + ["M2"] * 20)
    nxt = pd.Series(["M0"] * 40 + ["M2"] * 40 + ["M3"] * 15 + ["M1"] * 5)
    m = MarkovBaseline().fit(now, nxt)
    rf, cure = m.rates_.loc["M1", "roll_forward"], m.rates_.loc["M1", "cure"]
    assert rf == pytest.approx(0.5, abs=0.03) and cure == pytest.approx(0.5, abs=0.03)
    assert m.rates_.loc["M2", "roll_forward"] == pytest.approx(0.75, abs=0.05)
    assert np.allclose(m.transition_.sum(axis=1), 1)
    with pytest.raises(ValueError, match="unknown bucket"):
        m.predict(pd.Series(["M9"]), "cure")


def test_logistic_scorecard_beats_markov_on_toy(toy_frame, toy_spec):
    names = [s.name for s in toy_spec]
    train, test = toy_frame.iloc[:4000], toy_frame.iloc[4000:]
    lr = LogisticScorecard(seed=SEED).fit(train[names], train["roll_forward"])
    mk = MarkovBaseline().fit(train["bucket"], train["next_bucket"])
    assert auc(test["roll_forward"], lr.predict_proba(test[names])) > auc(
        test["roll_forward"], mk.predict(test["bucket"], "roll_forward")
    )


# ---------------------------------------------------------------- classifier
def test_monotone_vector_reverses_for_cure():
    directions = {"dpd": 1, "income": -1, "region": 0}
    names = ["dpd", "income", "region"]
    assert monotone_vector(names, directions, "roll_forward") == [1, -1, 0]
    assert monotone_vector(names, directions, "cure") == [-1, 1, 0]
    assert monotone_vector(names, directions, "cure", {"region": 1}) == [-1, 1, -1]


@pytest.fixture(scope="module")
def toy_models(toy_frame, toy_spec):
    names = [s.name for s in toy_spec]
    train, valid = toy_frame.iloc[:4000], toy_frame.iloc[4000:5000]
    cfg = ModelConfig(lightgbm={"num_threads": 1})  # one thread: the test machine is shared
    models, cals = {}, {}
    for t in TARGETS:
        mono = monotone_vector(names, {s.name: s.monotone for s in toy_spec}, t)
        models[t] = GBMClassifier(cfg.lightgbm, mono, seed=SEED).fit(
            train[names], train[t], valid[names], valid[t]
        )
        cals[t], _ = choose(models[t].predict_margin(valid[names]), valid[t], seed=SEED)
    return Bundle({t: Scorer(models[t], cals[t]) for t in TARGETS}, list(toy_spec), cfg)


def test_more_days_past_due_never_lowers_roll_forward(toy_models, toy_frame):
    X = toy_frame[toy_models.feature_names].iloc[4000:4500]
    low = toy_models.score(X.assign(dpd=15)).to_frame()
    high = toy_models.score(X.assign(dpd=105)).to_frame()
    assert (high["p_roll_forward"].to_numpy() >= low["p_roll_forward"].to_numpy() - 1e-12).all()
    assert (high["p_cure"].to_numpy() <= low["p_cure"].to_numpy() + 1e-12).all()
    assert (high["p_roll_forward"] > low["p_roll_forward"]).mean() > 0.5


def test_training_is_reproducible(toy_frame, toy_spec):
    names = [s.name for s in toy_spec]
    fits = [
        GBMClassifier(ModelConfig(lightgbm={"num_threads": 1}).lightgbm, seed=SEED).fit(
            toy_frame[names].iloc[:2000], toy_frame["cure"].iloc[:2000]
        )
        for _ in range(2)
    ]
    X = toy_frame[names].iloc[2000:2500]
    assert np.array_equal(fits[0].predict_margin(X), fits[1].predict_margin(X))


def test_strings_instead_of_categories_score_the_same(toy_models, toy_frame):
    X = toy_frame[toy_models.feature_names].iloc[:200]
    as_str = X.assign(employment=X["employment"].astype(str))[list(reversed(X.columns))]
    pd.testing.assert_frame_equal(toy_models.score(X).to_frame(), toy_models.score(as_str).to_frame())


def test_missing_feature_is_an_input_error(toy_models, toy_frame):
    with pytest.raises(InputError, match="dpd"):
        toy_models.score(toy_frame[toy_models.feature_names].drop(columns="dpd")).to_frame()


# ---------------------------------------------------------------- calibration
def test_calibration_choice_and_fit():
    rng = np.random.default_rng(SEED)
    margin = rng.normal(size=4000)
    y = (rng.random(4000) < 1 / (1 + np.exp(-(2 * margin - 1)))).astype(int)
    cal, scores = choose(margin, y, seed=SEED)
    assert set(scores) == {"platt", "isotonic"} and cal.method == min(scores, key=scores.get)
    platt = Calibrator("platt").fit(margin, y)
    assert platt.coef_ == pytest.approx(2, abs=0.2) and platt.intercept_ == pytest.approx(-1, abs=0.15)
    iso = Calibrator("isotonic").fit(margin, y)
    p = iso.transform(np.sort(margin))
    assert (np.diff(p) >= 0).all() and p.min() > 0 and p.max() < 1
    with pytest.raises(ValueError, match="isotonic, platt or none"):
        Calibrator("beta")


# ---------------------------------------------------------------- explanations
def test_pred_contrib_agrees_with_shap_and_adds_up(toy_models, toy_frame):
    X = toy_frame[toy_models.feature_names].iloc[5000:5400]
    for t in TARGETS:
        native = toy_models.scorers[t].model.contributions(X)
        via_shap = shap_contributions(toy_models.scorers[t].model, X)
        assert np.allclose(native, via_shap, atol=1e-9)
        assert np.allclose(native.sum(axis=1), toy_models.margin(X, t), atol=1e-9)


def test_reasons_are_ranked_sentences_with_values(toy_models, toy_frame):
    X = toy_frame[toy_models.feature_names].iloc[5000:5100]
    reasons = toy_models.explain(X, top_k=2).to_frame()
    assert set(reasons["target"]) == set(TARGETS)
    assert reasons.groupby(["case", "target", "direction"]).size().max() <= 2
    up = reasons[reasons["direction"] == "up"]
    assert (up["contribution"] > 0).all() and (up["contribution_pp"] >= 0).all()
    assert (reasons.loc[reasons["direction"] == "down", "contribution"] < 0).all()
    assert set(reasons["code"]) <= set(toy_models.reason_codes["code"])
    broken = reasons[(reasons["feature"] == "ptp_broken_90d") & (reasons["target"] == "roll_forward")].iloc[0]
    expected_start = f"{X['ptp_broken_90d'].iloc[broken['case']]} broken promises to pay in the last 90 days"
    assert broken["text"].startswith(expected_start)
    assert broken["text"].endswith(f"roll-forward risk ({broken['contribution_pp']:+.1f} pp)")
    # ranks follow the size of the contribution within each case and direction
    first = reasons.groupby(["case", "target", "direction"])["contribution"].apply(
        lambda s: s.abs().is_monotonic_decreasing
    )
    assert first.all()


def test_values_read_naturally_in_sentences():
    from models.feature_spec import FeatureSpec
    from models.reason_codes import format_values

    def spec(name, dtype, description="Unused."):
        return FeatureSpec(name, "repayment", dtype, description, 0)

    assert list(format_values(pd.Series([0.5, 1.0]), spec("paid_to_due_1", "float"))) == [
        "paying 50% of the amount due this cycle",
        "paying 100% of the amount due this cycle",
    ]
    assert list(
        format_values(pd.Series([3.0, np.nan]), spec("ptp_broken_90d", "float", "Broken promises."))
    ) == [
        "3 broken promises to pay in the last 90 days",
        "broken promises: missing",
    ]
    assert format_values(pd.Series([2.6]), spec("days_since_last_rpc", "float"))[0].startswith("3 days since")
    described = spec("x", "float", "Balance / balance 3 cycles earlier - 1 (NaN if not observed); more.")
    assert (
        format_values(pd.Series([1234.5]), described)[0] == "balance / balance 3 cycles earlier - 1: 1,234.50"
    )
    assert format_values(pd.Series([True]), spec("b", "bool", "Phone verified."))[0] == "phone verified: yes"
    employment = pd.Series(pd.Categorical(["retired", None]))
    assert list(format_values(employment, spec("employment", "category", "Employment."))) == [
        "employment: retired",
        "employment: missing",
    ]


@pytest.mark.parametrize(
    ("name", "dtype", "values"),
    [
        ("balance", "float", [1234567.891, -0.5, 2.0, np.nan, 1e-3]),
        ("paid_to_due_1", "float", [0.004, 0.5, 1.2345, np.nan, -0.01]),
        ("days_since_last_rpc", "float", [2.5, 3.5, np.nan]),
        ("dpd", "int", [0, 30, 12345]),
        ("b", "bool", [True, False, None]),
    ],
)
def test_values_read_the_same_from_any_container(name, dtype, values):
    """Series, numpy arrays and pandas' nullable arrays of the same values give the same text."""
    from models.feature_spec import FeatureSpec
    from models.reason_codes import format_values

    spec = FeatureSpec(name, "repayment", dtype, "Some value.", 0)
    nullable = {"float": "Float64", "int": "Int64", "bool": "boolean"}[dtype]
    expected = format_values(pd.Series(values, dtype=object if dtype == "bool" else None), spec)
    assert list(format_values(pd.array(values, dtype=nullable), spec)) == list(expected)
    if dtype != "bool":
        assert list(format_values(np.asarray(values, dtype=float), spec)) == list(expected)


def test_reason_code_table_is_stable_and_unique():
    table = reason_code_table()
    assert table["code"].is_unique and len(table) == 2 * 5 * 2
    assert "RF-CONTACT-UP" in set(table["code"]) and "CU-REPAYMENT-DOWN" in set(table["code"])


# ---------------------------------------------------------------- bundle
def test_bundle_round_trip_is_exact(toy_models, toy_frame, tmp_path):
    toy_models.save(tmp_path / "b")
    loaded = Bundle.load(tmp_path / "b")
    X = toy_frame[toy_models.feature_names].iloc[5000:]
    pd.testing.assert_frame_equal(
        loaded.score(X).to_frame(), toy_models.score(X).to_frame(), check_exact=True
    )
    pd.testing.assert_frame_equal(
        loaded.explain(X.iloc[:20]).to_frame(), toy_models.explain(X.iloc[:20]).to_frame()
    )
    assert loaded.policy is None
    assert loaded.model_config == toy_models.model_config


def test_loading_a_non_bundle_folder_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="bundle.json"):
        Bundle.load(tmp_path)


def _nullable(X: pd.DataFrame) -> pd.DataFrame:
    """Pandas' nullable dtypes, with missing values in an integer column too."""
    out = X.astype({"dpd": "Int64", "ptp_broken_90d": "Int64", "monthly_income": "Float64"})
    out["phone_verified"] = out["phone_verified"].astype("boolean")
    out.loc[out.index[::7], "dpd"] = pd.NA
    return out


def _strings_shuffled(X: pd.DataFrame) -> pd.DataFrame:
    """Categories as plain strings (one missing), columns reversed, an extra column in front."""
    out = X.assign(employment=X["employment"].astype(object))
    out.loc[out.index[3], "employment"] = None
    return out[list(reversed(out.columns))].assign(extra=1.5)


def _other_category_order(X: pd.DataFrame) -> pd.DataFrame:
    cats = list(reversed(X["employment"].cat.categories))
    return X.assign(employment=X["employment"].cat.reorder_categories(cats))


def _as_plain(X: pd.DataFrame) -> pd.DataFrame:
    """The same values in the dtypes LightGBM's frame path reads (missing integers as float NaN)."""
    return X.astype(
        {
            c: float
            for c in X.columns
            if isinstance(X[c].dtype, pd.api.extensions.ExtensionDtype)
            and not isinstance(X[c].dtype, pd.CategoricalDtype)
        }
    )


@pytest.mark.parametrize("layout", [lambda X: X, _nullable, _strings_shuffled, _other_category_order])
def test_numeric_input_path_matches_lightgbm_reading_the_frame(toy_frame, toy_spec, layout):
    """The classifier feeds LightGBM a code matrix read from the frame's arrays; scores and TreeSHAP
    must equal LightGBM's own frame path for any dtypes, column order and category order."""
    names = [s.name for s in toy_spec]
    model = GBMClassifier(ModelConfig(lightgbm={"num_threads": 1}).lightgbm, seed=SEED).fit(
        toy_frame[names].iloc[:2000], toy_frame["cure"].iloc[:2000]
    )
    held = layout(toy_frame[names].iloc[2000:2600])
    frame, n = model._frame(_as_plain(held)), model.best_iteration_
    assert np.array_equal(
        model.predict_margin(held), model.booster_.predict(frame, raw_score=True, num_iteration=n)
    )
    reference = model.booster_.predict(frame, pred_contrib=True, num_iteration=n)
    via_matrix = model.booster_.predict(model.matrix(held), pred_contrib=True, num_iteration=n)
    assert np.array_equal(via_matrix, reference)
    # the explainer (models.explain) sums in another order than LightGBM: equal to rounding
    assert np.abs(model.contributions(held) - reference).max() <= 1e-12


@pytest.mark.parametrize("layout", [_strings_shuffled, _other_category_order])
def test_bundle_reads_any_column_order_and_category_encoding_alike(toy_models, toy_frame, layout):
    X = toy_frame[toy_models.feature_names].iloc[5000:5300]
    X.iloc[3, X.columns.get_loc("employment")] = None  # the layouts agree on one missing category
    pd.testing.assert_frame_equal(
        toy_models.score(layout(X)).to_frame(), toy_models.score(X).to_frame(), check_exact=True
    )
    relaid, plain = toy_models.explain(layout(X)).to_frame(), toy_models.explain(X).to_frame()
    pd.testing.assert_frame_equal(relaid.drop(columns="value"), plain.drop(columns="value"))
    assert (relaid["value"].isna() == plain["value"].isna()).all()  # raw values: None here, NaN there
    assert (relaid["value"].dropna() == plain["value"].dropna()).all()


def test_bundle_names_missing_features(toy_models, toy_frame):
    X = toy_frame[toy_models.feature_names].drop(columns="dpd")
    for call in (toy_models.score, toy_models.explain, lambda X: toy_models.contributions(X, "cure")):
        with pytest.raises(InputError, match=r"missing column\(s\) \['dpd'\] \(bundle expects 5\)"):
            call(X)


def test_one_direction_of_reasons_is_those_rows_of_both(toy_models, toy_frame):
    """``top_reasons`` (one direction) gives exactly those rows of the bundle's explanation."""
    from models.explain import top_reasons

    X = toy_frame[toy_models.feature_names].iloc[5000:5200].reset_index(drop=True)
    contrib = toy_models.scorers["cure"].model.contributions(X)
    args = (contrib, X, toy_models.features, toy_models.scorers["cure"].calibrator, "cure", 2)
    both = toy_models.explain(X, targets=("cure",), top_k=2).to_frame()
    for d in ("up", "down"):
        one = pd.DataFrame(top_reasons(*args, d))
        pd.testing.assert_frame_equal(one, both[both["direction"] == d].reset_index(drop=True))


def test_one_explain_gives_every_target_and_direction_or_a_part(toy_models, toy_frame):
    """The decision's reasons (one target, one direction) are exactly those rows of the full table."""
    X = toy_frame[toy_models.feature_names].iloc[:60].reset_index(drop=True)
    full = toy_models.explain(X).to_frame()
    part = toy_models.explain(X, targets=("cure",), directions=("down",)).to_frame()
    keep = (full["target"] == "cure") & (full["direction"] == "down")
    pd.testing.assert_frame_equal(part, full[keep].reset_index(drop=True))
    scores = toy_models.score(X)
    assert np.array_equal(scores["p_cure"], scores.to_frame()["p_cure"].to_numpy())
    with pytest.raises(KeyError, match="p_roll_forward"):
        scores["cure"]
