"""MLflow registry: the registered bundle reproduces the run, aliases move, bad references fail clearly."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from registry import store as registry
from rollcure.config import RollcureConfig
from rollcure.core.errors import InputError


def test_loading_by_alias_reproduces_the_runs_predictions_exactly(trained_run):
    result = trained_run.outcome.result
    cases = trained_run.outcome.data.cases
    oot_x = cases.loc[result.parts == "oot", trained_run.bundle.feature_names]
    for ref in ("challenger", "champion", trained_run.version):
        loaded = registry.load_bundle(trained_run.cfg, ref)
        scores = loaded.score(oot_x).to_frame()
        for t in ("roll_forward", "cure"):
            assert (scores[f"p_{t}"].to_numpy() == result.oot[f"p_{t}_lightgbm"].to_numpy()).all()
        assert loaded.metadata["registered_version"] == trained_run.version
        assert loaded.metadata["run_id"] == trained_run.run_id
    pd.testing.assert_frame_equal(
        loaded.explain(oot_x.iloc[:10]).to_frame(), trained_run.bundle.explain(oot_x.iloc[:10]).to_frame()
    )


def test_run_records_params_metrics_features_and_digest(trained_run):
    run = registry.client(trained_run.cfg).get_run(trained_run.run_id)
    assert run.data.tags["data_digest"] == trained_run.outcome.digest
    assert float(run.data.params["n_features"]) == len(trained_run.bundle.features)
    assert run.data.metrics["oot_roll_forward_lightgbm_auc"] == pytest.approx(
        trained_run.metrics["roll_forward"]["lightgbm"]["auc"]
    )
    c = registry.client(trained_run.cfg)
    artifacts = {a.path for a in c.list_artifacts(trained_run.run_id)}
    assert {"features.json", "metrics"} <= artifacts
    # MLflow 3 keeps a logged model beside the run's artifacts, linked to the run
    source = registry.resolve_version(trained_run.cfg, trained_run.version).source
    logged = c.get_logged_model(source.removeprefix("models:/"))
    assert logged.name == registry.BUNDLE_ARTIFACT and logged.source_run_id == trained_run.run_id


def test_promote_moves_champion_and_unknown_versions_fail(trained_run):
    cfg = trained_run.cfg
    assert registry.promote(cfg, trained_run.version) == trained_run.version
    assert str(registry.resolve_version(cfg, "champion").version) == trained_run.version
    with pytest.raises(InputError, match="'999'"):
        registry.promote(cfg, "999")
    with pytest.raises(InputError, match="no version or alias 'nonsense'"):
        registry.load_bundle(cfg, "nonsense")


def test_tracking_uri_defaults_to_local_sqlite_and_env_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv(registry.TRACKING_ENV, raising=False)
    cfg = RollcureConfig(data_dir=tmp_path)
    assert registry.tracking_uri(cfg) == f"sqlite:///{tmp_path.resolve()}/mlflow/mlflow.db"
    assert registry.artifact_root(cfg).endswith("/mlflow/artifacts")
    cfg_uri = RollcureConfig(data_dir=tmp_path, training={"tracking_uri": "sqlite:///x.db"})
    assert registry.tracking_uri(cfg_uri) == "sqlite:///x.db"
    monkeypatch.setenv(registry.TRACKING_ENV, "http://127.0.0.1:5000")
    assert registry.tracking_uri(cfg_uri) == "http://127.0.0.1:5000"
    assert registry.artifact_root(cfg) is None


def test_one_process_reaches_two_stores_and_leaves_the_environment_alone(trained_run, tmp_path, monkeypatch):
    monkeypatch.delenv(registry.TRACKING_ENV, raising=False)
    import mlflow

    before = mlflow.get_tracking_uri()
    assert registry.load_bundle(trained_run.cfg, "champion").metadata["run_id"] == trained_run.run_id
    other = RollcureConfig(data_dir=tmp_path)
    with pytest.raises(InputError, match="no version or alias 'champion'"):
        registry.load_bundle(other, "champion")  # an empty store of its own, not the trained one
    with registry.tracking(other) as uri:
        assert mlflow.get_tracking_uri() == uri == registry.tracking_uri(other)
    assert registry.TRACKING_ENV not in os.environ
    assert mlflow.get_tracking_uri() == before
    assert registry.load_bundle(trained_run.cfg, "champion").metadata["run_id"] == trained_run.run_id


def test_the_champion_is_a_pyfunc_model_deciding_like_the_service(trained_run, sample_payloads, monkeypatch):
    """``mlflow.pyfunc.load_model("models:/<name>@champion")`` decides a payload frame as
    ``POST /recommend`` does, its signature is the request's, and loading unpickles nothing."""
    import pickle
    from datetime import UTC, datetime

    import mlflow
    from mlflow.models import Model

    from models.policy import DECISION_COLUMNS
    from registry.pyfunc import INPUT_COLUMNS, LOADER_MODULE, OUTPUT_COLUMNS, payload_frame
    from serving.answers import features_for, recommend
    from serving.request import ServedCase
    from serving.runtime import load_runtime

    cfg = trained_run.cfg
    assert OUTPUT_COLUMNS == (*DECISION_COLUMNS, "reason_codes", "reasons")
    payloads = [ServedCase.model_validate(p) for p in sample_payloads[:15]]
    uri = f"models:/{cfg.training.registered_model}@champion"
    with registry.tracking(cfg):
        info = Model.load(mlflow.artifacts.download_artifacts(uri))
        monkeypatch.setattr(pickle, "load", None)  # loading must not unpickle anything
        monkeypatch.setattr(pickle, "loads", None)
        model = mlflow.pyfunc.load_model(uri)
        monkeypatch.undo()
        out = model.predict(payload_frame(payloads))
    flavor = info.flavors["python_function"]
    assert flavor["loader_module"] == LOADER_MODULE and "python_model" not in flavor
    assert info.signature is not None and info.saved_input_example_info is not None
    assert tuple(info.signature.inputs.input_names()) == INPUT_COLUMNS
    assert tuple(info.signature.outputs.input_names()) == OUTPUT_COLUMNS

    runtime = load_runtime(cfg, "champion")
    X = features_for(payloads, runtime.bundle.feature_config)
    served, _ = recommend(runtime, payloads, X, "salt", datetime(2026, 1, 5, tzinfo=UTC))
    assert list(out.columns) == list(OUTPUT_COLUMNS) and len(out) == len(served)
    assert out["loan_id"].tolist() == [d.loan_id for d in served]
    assert out["p_roll_forward"].tolist() == [d.p_roll_forward for d in served]
    assert out["p_cure"].tolist() == [d.p_cure for d in served]
    assert out["action"].tolist() == [d.action for d in served]
    assert out["arm"].tolist() == [d.arm for d in served]
    assert out["expected_value"].tolist() == [d.expected_value for d in served]
    assert [list(c) for c in out["reason_codes"]] == [d.reason_codes for d in served]
    assert [list(t) for t in out["reasons"]] == [d.reasons for d in served]
