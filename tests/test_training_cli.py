"""End to end through the CLI on a small simulated book: train, metrics JSON, promote, report."""

from __future__ import annotations

import json

import pytest
import yaml

from cli.main import run
from models.metrics import METRICS
from rollcure.config.model import TARGETS

pytestmark = pytest.mark.filterwarnings("ignore::PendingDeprecationWarning:shap.*")


@pytest.fixture(scope="module")
def small_book(sim_small, tmp_path_factory):
    from simulation import write_portfolio

    out = tmp_path_factory.mktemp("models_small_book")
    write_portfolio(sim_small, out)
    return out


@pytest.fixture(scope="module")
def cli_config(tmp_path_factory):
    root = tmp_path_factory.mktemp("models_cli")
    path = root / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "data_dir": str(root),
                "model": {"lightgbm": {"num_threads": 1}},
                "training": {"report_sample": 300, "oot_cycles": 1},
                # a 12-month book: value its actions over 3 cycles so their horizon is observed
                "value": {"horizon_cycles": 3},
            }
        )
    )
    return path


@pytest.fixture(scope="module")
def trained_cli(small_book, cli_config, tmp_path_factory):
    patch = pytest.MonkeyPatch()
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)
    out = tmp_path_factory.mktemp("models_cli_out")
    code = run(
        [
            "train",
            "--data",
            str(small_book),
            "--config",
            str(cli_config),
            "--metrics-out",
            str(out / "m.json"),
            "--report",
            str(out / "train_report.html"),
        ]
    )
    yield code, out
    patch.undo()


def test_train_writes_the_metric_table_json(trained_cli):
    code, out = trained_cli
    assert code == 0
    metrics = json.loads((out / "m.json").read_text())
    assert set(metrics) == set(TARGETS)
    for t in TARGETS:
        assert set(metrics[t]) == {"lightgbm", "markov", "logistic"}
        for values in metrics[t].values():
            assert set(values) == set(METRICS)
            assert values["gini"] == pytest.approx(2 * values["auc"] - 1, abs=1e-5)
    assert (out / "train_report.html").read_text().count("data:image/png;base64,") == 9


def test_run_logs_report_plots_and_bundle(trained_cli, cli_config):
    from registry import store as registry
    from rollcure.config import load_config

    cfg = load_config(cli_config)
    run_id = registry.resolve_version(cfg, "challenger").run_id
    c = registry.client(cfg)
    top = {a.path for a in c.list_artifacts(run_id)}
    assert {"report", "plots", "features.json", "metrics"} <= top
    source = registry.resolve_version(cfg, "challenger").source  # the bundle: the run's logged model
    assert c.get_logged_model(source.removeprefix("models:/")).source_run_id == run_id
    plots = {a.path for a in c.list_artifacts(run_id, "plots")}
    assert "plots/ROC_curves.png" in plots and len(plots) == 9


def test_promote_then_report_on_the_champion(trained_cli, cli_config, tmp_path, capsys):
    assert trained_cli[0] == 0
    assert run(["promote", "--config", str(cli_config)]) == 0
    assert "version 1 is now 'champion'" in capsys.readouterr().out
    out = tmp_path / "report.html"
    assert run(["report", "--config", str(cli_config), "--out", str(out)]) == 0
    html = out.read_text()
    assert "Out-of-time performance" in html and "Population stability" in html
    assert html.count("data:image/png;base64,") == 9


def test_bad_input_exits_two_with_one_line(trained_cli, cli_config, tmp_path, capsys):
    assert run(["promote", "--config", str(cli_config), "--version", "abc"]) == 2
    assert run(["promote", "--config", str(cli_config), "--version", "42"]) == 2
    assert run(["train", "--data", str(tmp_path / "missing"), "--config", str(cli_config)]) == 2
    err = capsys.readouterr().err
    assert "--version" in err and "'42'" in err and "--data" in err and "Traceback" not in err


def test_a_cluster_failure_exits_one_with_one_line(tmp_path, capsys, monkeypatch):
    """Workers lost during a dask fit are not the input's fault: exit 1, one line, no traceback."""
    import training.pipeline
    from engine.cluster import EngineError

    def lost(*args, **kwargs):
        raise EngineError("engine: 1 worker(s) left during the LightGBM fit (killed over the memory limit)")

    monkeypatch.setattr(training.pipeline, "run_training", lost)
    assert run(["train", "--data", str(tmp_path), "--no-report"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: engine: 1 worker(s) left during the LightGBM fit (killed over the memory limit)"]
