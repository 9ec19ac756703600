"""Models on the real UCI panel, through the CLI a user runs (skipped, saying so, without the file).

One module-scoped run: import → `rollcure train` (out of time: train Apr–Jun, validate Jul, test
the Aug→Sep transition) → the tests read its metrics, report and registry.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from adapters.uci import run_config_path
from cli.main import run
from rollcure.config.features import FeatureConfig
from rollcure.config.model import ModelConfig
from training.uci_default import run_default_comparison

UCI_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci_credit_card_dev.csv"
pytestmark = pytest.mark.skipif(not UCI_CSV.is_file(), reason=f"real UCI file absent: {UCI_CSV} not found")
SEED = 7


@pytest.fixture(scope="module")
def uci_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("uci") / "data"
    assert run(["import", "uci", "--csv", str(UCI_CSV), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def trained(uci_dir, monkeypatch_module) -> dict:
    """`rollcure train` on the imported folder with the config the import wrote."""
    metrics = uci_dir.parent / "metrics.json"
    args = ["train", "--data", str(uci_dir), "--config", str(run_config_path(uci_dir)),
            "--metrics-out", str(metrics), "--no-report", "--promote"]
    assert run(args) == 0
    return json.loads(metrics.read_text())


@pytest.fixture(scope="module")
def monkeypatch_module():
    """MLflow must use the folder's own store, whatever the caller's environment says."""
    mp = pytest.MonkeyPatch()
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.delenv("ROLLCURE_DATA_DIR", raising=False)
    yield mp
    mp.undo()


@pytest.mark.parametrize("target", ["roll_forward", "cure"])
def test_lightgbm_beats_the_markov_matrix_out_of_time(trained, target):
    by_model = trained[target]
    assert by_model["lightgbm"]["auc"] > by_model["markov"]["auc"] + 0.03
    assert set(by_model) == {"lightgbm", "markov", "logistic"}


@pytest.mark.parametrize(
    "target",
    [
        "roll_forward",
        pytest.param(
            "cure",
            marks=pytest.mark.xfail(
                strict=True,
                reason="unmet with monotone constraints that hold: out-of-time Brier 0.1206 against the "
                "Markov matrix's 0.1190 (LightGBM's advanced method met it while breaking the "
                "dpd_change_1 constraint); docs/experiments.md",
            ),
        ),
    ],
)
def test_lightgbm_has_a_lower_brier_score_than_the_markov_matrix(trained, target):
    by_model = trained[target]
    assert by_model["lightgbm"]["brier"] < by_model["markov"]["brier"]


def test_registry_lives_in_the_data_folder(trained, uci_dir):
    assert (uci_dir / "mlflow" / "mlflow.db").is_file()


def test_report_works_on_the_real_data(trained, uci_dir, capsys):
    out = uci_dir.parent / "report.html"
    assert run(["report", "--config", str(run_config_path(uci_dir)), "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert "2005-08-31" in html  # the out-of-time cycle
    assert "markov" in html.lower() and "logistic" in html.lower()


@pytest.fixture(scope="module")
def default_comparison(uci_dir):
    return run_default_comparison(uci_dir, FeatureConfig(), ModelConfig(), seed=SEED)


def test_lightgbm_beats_the_bucket_rate_on_october_default(default_comparison):
    m = default_comparison.metrics
    assert m.loc["lightgbm", "auc"] > m.loc["bucket_rate", "auc"] + 0.03
    assert m.loc["lightgbm", "brier"] < m.loc["bucket_rate", "brier"]
    # the published range for boosting on the full data set is about 0.77-0.79
    assert 0.75 < m.loc["lightgbm", "auc"] < 0.82


def test_default_comparison_scores_held_out_accounts_only(default_comparison):
    scores = default_comparison.scores
    assert scores["loan_id"].is_unique
    assert len(scores) == default_comparison.metrics.loc["lightgbm", "n"] == 6000
    assert scores[["lightgbm", "bucket_rate", "logistic"]].apply(lambda s: s.between(0, 1).all()).all()


def test_score_august_delinquent_accounts_matches_the_file(trained, uci_dir):
    """`rollcure score` at August scores exactly the accounts late in August; checked against the
    September status in the raw file, its AUC is the training run's out-of-time AUC."""
    import pandas as pd

    from models.metrics import auc

    out = uci_dir.parent / "scores.parquet"
    args = ["score", "--data", str(uci_dir), "--out", str(out), "--as-of", "2005-08-31",
            "--config", str(run_config_path(uci_dir))]
    assert run(args) == 0
    scores = pd.read_parquet(out)
    raw = pd.read_csv(UCI_CSV, usecols=["ID", "PAY_2", "PAY_0"]).set_index("ID")
    assert sorted(scores["loan_id"]) == sorted(raw.index[raw["PAY_2"] >= 1])
    cured = (raw.loc[scores["loan_id"], "PAY_0"] <= 0).to_numpy()
    assert abs(auc(cured, scores["p_cure"].to_numpy()) - trained["cure"]["lightgbm"]["auc"]) < 1e-4


def test_monotone_constraints_hold_on_the_real_data(trained, uci_dir):
    """The constraints hold end to end on the real panel too: a risk-monotone feature pushed its risk
    way never lowers roll-forward risk nor raises the chance of cure (LightGBM's "advanced" method
    broke this here on dpd_change_1; see docs/experiments.md)."""
    from features.dataset import build_dataset
    from registry.store import load_bundle
    from rollcure.config import load_config
    from rollcure.core.io import read_tables

    cfg = load_config(run_config_path(uci_dir))
    bundle = load_bundle(cfg)
    X = build_dataset(read_tables(uci_dir), cfg.features).X[bundle.feature_names].sample(2000, random_state=1)
    base = bundle.score(X).to_frame()
    for f in [f for f in bundle.features if f.monotone != 0 and f.dtype in ("int", "float")]:
        step = X[f.name].abs().fillna(0).mean() + 1.0
        worse = bundle.score(X.assign(**{f.name: X[f.name] + f.monotone * step})).to_frame()
        assert (worse["p_roll_forward"] >= base["p_roll_forward"] - 1e-12).all(), f.name
        assert (worse["p_cure"] <= base["p_cure"] + 1e-12).all(), f.name
