"""The UCI walkthrough notebook: committed without outputs, no logic of its own, and it runs."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "uci_real_data.ipynb"
UCI_CSV = REPO.parent / "shared" / "data" / "uci_credit_card_dev.csv"
PACKAGES = {"adapters", "features", "models", "rollcure", "simulation", "training"}
ALLOWED_OTHER = {"base64", "os", "tempfile", "pathlib", "IPython.display"}


def _code_cells(nb) -> list[str]:
    return [c.source for c in nb.cells if c.cell_type == "code"]


def test_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


def test_calls_the_package_only():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for source in _code_cells(nb):
        tree = ast.parse(source)
        for node in ast.walk(tree):
            logic = ast.FunctionDef | ast.ClassDef | ast.For | ast.While | ast.Lambda
            assert not isinstance(node, logic), source
            if isinstance(node, ast.ImportFrom):
                assert node.module.split(".")[0] in PACKAGES or node.module in ALLOWED_OTHER, node.module
            if isinstance(node, ast.Import):
                assert all(a.name in ALLOWED_OTHER for a in node.names), source


@pytest.mark.skipif(not UCI_CSV.is_file(), reason=f"real UCI file absent: {UCI_CSV} not found")
def test_notebook_runs_on_the_real_file(tmp_path, monkeypatch):
    from nbclient import NotebookClient

    monkeypatch.setenv("ROLLCURE_UCI_CSV", str(UCI_CSV))
    monkeypatch.setenv("ROLLCURE_UCI_OUT", str(tmp_path / "uci"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    text = "\n".join(
        str(o.get("data", {}).get("text/plain", "")) + str(o.get("text", ""))
        for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "2005-08-31" in text  # the out-of-time cycle
    assert "lightgbm" in text and "markov" in text and "bucket_rate" in text
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 2
    assert (tmp_path / "uci" / "cycles.parquet").is_file()
