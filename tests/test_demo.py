"""`rollcure demo` end to end on a small book: every stage runs and leaves its artefacts."""

import json

from cli.main import run


def test_demo_runs_every_stage_and_writes_its_artefacts(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("ROLLCURE_API_TOKEN", raising=False)
    data = tmp_path / "demo"
    assert run(["demo", "--accounts", "6000", "--months", "18", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    for stage in ("Synthetic portfolio", "Roll-forward and cure models", "Strategy backtest", "Segments",
                  "Next-best-action service"):
        assert stage in out
    assert (data / "portfolio" / "cycles.parquet").is_file()
    assert (data / "reports" / "model_validation.html").stat().st_size > 10_000
    backtest = json.loads((data / "reports" / "backtest.json").read_text())
    assert {"oracle", "rollcure", "risk_score", "dpd_ladder", "random"} <= set(backtest["policies"])
    # the value every stage uses: the recovery factors and each strategy's expected value are shown
    assert "Recovery factors" in out and "M7+ unsecured" in out
    assert {"oracle", "rollcure", "dpd_ladder"} <= set(backtest["expected_net_value"])
    assert len(backtest["facts"]["recovery_factors"]) == 34
    assert "POST /recommend" in out
