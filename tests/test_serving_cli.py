"""`rollcure serve` and `rollcure reload` fail fast, in one line, when there is nothing to talk to."""

from __future__ import annotations

from rollcure.cli import run


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
