"""CI executes the validation notebook against the shared trained run (no training inside it)."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "model_validation.ipynb"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_validation_notebook_runs_on_the_champion(trained_run, monkeypatch):
    monkeypatch.setenv("ROLLCURE_DATA_DIR", str(trained_run.cfg.data_dir))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("ROLLCURE_CONFIG", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOK.parent)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert f"version {trained_run.version}" in text
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) >= 5
