"""CI executes the segmentation notebook on the default book with the shared policy bundle."""

from __future__ import annotations

import ast
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "portfolio_segmentation.ipynb"


def test_notebook_is_committed_clean_and_holds_no_logic():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    for cell in code:
        tree = ast.parse(cell.source)
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.ClassDef)]


def test_notebook_runs_and_shows_segments(policy_bundle_dir, sim_default_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("ROLLCURE_BOOK", str(sim_default_dir))
    monkeypatch.setenv("ROLLCURE_BUNDLE", str(policy_bundle_dir))
    monkeypatch.setenv("ROLLCURE_SEGMENT_OUT", str(tmp_path / "seg"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    html = "".join(o.get("data", {}).get("text/html", "") for o in outputs)
    assert "able_willing" in html and "risk_band" in html
    assert len([o for o in outputs if "image/png" in o.get("data", {})]) >= 3
    assert (tmp_path / "seg" / "ability_willingness.parquet").is_file()
