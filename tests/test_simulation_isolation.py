"""Data check: the latent truth stays with the simulator, the oracle and the backtests.

Features, models, serving, adapters and training (except the backtest's own modules, listed in
``ALLOWED``) must neither import the simulator nor read ``truth/``: a model that saw the latents
would look brilliant here and fail on a real book.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUARDED = ("features", "models", "serving", "training", "adapters")
#: The strategy backtest is the one training stage that may read the truth (DESIGN: "read only by
#: the oracle and backtests"): its computation, its I/O edge (``rollcure backtest`` reads truth/)
#: and its views (which print a "truth" column next to the off-policy estimates); and the learning
#: loop, a closed-loop backtest: it plays the simulator forward and scores each live cycle against
#: the oracle, while the policy it runs reads only the tables.
ALLOWED = (
    "training/backtest*.py",
    "training/policy_runs.py",
    "training/policy_views.py",
    "training/learn.py",
)
_TRUTH_WORDS = ("truth", "case_states", "borrower_months")


def _guarded_files() -> list[Path]:
    allowed = {p for pat in ALLOWED for p in ROOT.glob(pat)}
    return sorted(p for d in GUARDED for p in (ROOT / d).rglob("*.py") if p not in allowed)


def truth_leaks(source: str) -> list[str]:
    """Lines of ``source`` that import the simulator or name the truth tables (AST, not grep)."""
    leaks = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = [node.module or ""]
        else:
            names = []
        if any(n == "simulation" or n.startswith("simulation.") for n in names):
            leaks.append(f"line {node.lineno}: imports {names}")
        if isinstance(node, ast.ImportFrom) and any(
            a.name in ("read_truth", "TRUTH_DIR") for a in node.names
        ):
            leaks.append(f"line {node.lineno}: imports read_truth/TRUTH_DIR")
        if isinstance(node, ast.Attribute | ast.Name) and (
            getattr(node, "attr", None) or getattr(node, "id", None)
        ) in (
            "read_truth",
            "TRUTH_DIR",
        ):
            leaks.append(f"line {node.lineno}: uses read_truth/TRUTH_DIR")
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            words = node.value.replace("/", " ").replace(".", " ").split()
            if any(w in _TRUTH_WORDS for w in words) and len(words) <= 3:
                leaks.append(f"line {node.lineno}: string {node.value!r}")
    return leaks


@pytest.mark.parametrize(
    "code",
    [
        "import simulation",
        "from simulation.oracle import action_values",
        "from rollcure.core.io import read_truth",
        "x = rollcure.core.io.read_truth(d)",
        "p = d / 'truth' / 'case_states.parquet'",
    ],
)
def test_the_checker_catches_each_way_of_reading_truth(code):
    assert truth_leaks(code)


def test_the_checker_lets_ordinary_code_through():
    assert not truth_leaks(
        '"""Ground truth of the label is the next cycle."""\nimport pandas as pd\nx = "cycles"'
    )


def test_no_feature_model_or_serving_module_reads_the_truth():
    files = _guarded_files()
    assert any(p.parts[-2] == "features" for p in files)  # the scan really covers the feature code
    assert all(list(ROOT.glob(pat)) for pat in ALLOWED)  # no stale exemption left behind
    leaks = {str(p.relative_to(ROOT)): truth_leaks(p.read_text()) for p in files}
    assert {k: v for k, v in leaks.items() if v} == {}
