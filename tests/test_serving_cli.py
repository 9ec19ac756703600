"""`rollcure serve` and `rollcure reload` fail fast, in one line, when there is nothing to talk to."""

from __future__ import annotations

from cli.main import run


def test_serve_without_a_champion_exits_two_before_starting(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert run(["serve", "--data", str(tmp_path), "--port", "3999"]) == 2
    err = capsys.readouterr().err
    assert "champion" in err and "Traceback" not in err
    assert not (tmp_path / "serving").exists()  # nothing was launched


def test_reload_against_no_server_exits_two(capsys):
    assert run(["reload", "--url", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "--url: cannot reach" in err and "Traceback" not in err


def test_several_workers_need_the_registry_watch():
    import pytest
    from pydantic import ValidationError

    from rollcure.config.serving import ServingConfig

    with pytest.raises(ValidationError, match="reload_poll_seconds"):
        ServingConfig(workers=2)
    assert ServingConfig(workers=2, reload_poll_seconds=5).workers == 2


def test_service_env_passes_workers_threads_and_config(tmp_path):
    from rollcure.config import RollcureConfig
    from rollcure.config.serving import ServingConfig
    from serving.runner import service_env

    cfg = RollcureConfig(
        data_dir=tmp_path, serving=ServingConfig(workers=3, reload_poll_seconds=2, omp_threads=2)
    )
    env = service_env(
        cfg, tmp_path / "c.yaml", base={"BENTOML_CONFIG_OPTIONS": "api_server.metrics.enabled=false"}
    )
    assert env["BENTOML_CONFIG_OPTIONS"] == "api_server.metrics.enabled=false services.rollcure.workers=3"
    assert env["OMP_NUM_THREADS"] == "2" and env["ROLLCURE_DATA_DIR"] == str(tmp_path.resolve())
    assert env["ROLLCURE_CONFIG"] == str((tmp_path / "c.yaml").resolve())
    assert service_env(cfg, None, base={"OMP_NUM_THREADS": "4"})["OMP_NUM_THREADS"] == "4"  # caller's wins


def test_score_rejects_a_negative_worker_count(tmp_path, capsys):
    argv = ["score", "--data", str(tmp_path), "--out", str(tmp_path / "x.parquet"), "--workers", "-1"]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert "--workers" in err and "Traceback" not in err


def test_serve_refuses_to_start_without_token_and_salt(serving_setup, capsys, monkeypatch):
    """Issue 16, defects 5 and 6: the service started open and on the salt in the source."""
    from fixtures_serving import use_registry

    for name in ("ROLLCURE_API_TOKEN", "ROLLCURE_ID_SALT", "ROLLCURE_INSECURE_DEV"):
        monkeypatch.delenv(name, raising=False)
    with use_registry(serving_setup):
        assert run(["serve", "--config", str(serving_setup.config_path), "--port", "3999"]) == 2
    err = capsys.readouterr().err
    assert "ROLLCURE_API_TOKEN and ROLLCURE_ID_SALT not set" in err and "--insecure-dev" in err
    assert "Traceback" not in err


def test_require_secrets_names_what_is_missing_unless_insecure_dev(caplog):
    import pytest

    from rollcure.core.errors import InputError
    from serving.auth import require_secrets

    require_secrets({"T": "t", "S": "s"}, "T", "S")
    with pytest.raises(InputError, match="^S not set"):
        require_secrets({"T": "t"}, "T", "S")
    require_secrets({"ROLLCURE_INSECURE_DEV": "1"}, "T", "S")
    assert "INSECURE DEV MODE" in caplog.text
