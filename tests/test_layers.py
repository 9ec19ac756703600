"""The layer contract (docs/architecture.md): imports point down, and the check is known to bite.

``lint-imports`` runs the contracts in pyproject.toml on the tree. A contract that passes only
proves something if it can fail, so each planted case copies the packages into a temporary
directory, adds one backward import there and expects the same checker, with the same
configuration, to go red and name the planted module. The repository is never written to.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]


def _layer_modules() -> set[str]:
    """Every module named in the layers contract."""
    (contract,) = [c for c in CONFIG["contracts"] if c["type"] == "layers"]
    return {name.strip() for layer in contract["layers"] for name in layer.split("|")}


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """Run the contracts of ``root/pyproject.toml`` on the packages under ``root``."""
    # lint-imports puts its working directory first on sys.path, ahead of the editable install.
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def tree_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's packages and pyproject.toml, copied outside the repository."""
    dest = tmp_path_factory.mktemp("tree")
    shutil.copy2(ROOT / "pyproject.toml", dest / "pyproject.toml")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in CONFIG["root_packages"]:
        shutil.copytree(ROOT / package, dest / package, ignore=ignore)
    return dest


def test_contracts_kept_on_the_repository() -> None:
    result = _lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_every_package_is_on_a_layer() -> None:
    """A new top-level package or rollcure subpackage must be placed on a layer, or it is unchecked."""
    on_disk = {p.parent.name for p in ROOT.glob("*/__init__.py") if p.parent.name != "tests"}
    assert on_disk == set(CONFIG["root_packages"])
    rollcure_subpackages = {f"rollcure.{p.parent.name}" for p in (ROOT / "rollcure").glob("*/__init__.py")}
    top_levels = {name for name in CONFIG["root_packages"] if name != "rollcure"}
    assert _layer_modules() == top_levels | rollcure_subpackages


# (module file to write, its source, the module the report must name as the importer)
PLANTED = {
    "base imports the application": (
        "rollcure/core/_planted.py",
        "from cli import main\n",
        "rollcure.core._planted",
    ),
    "config imports a stage": (
        "rollcure/config/_planted.py",
        "import features\n",
        "rollcure.config._planted",
    ),
    "adapters import models": (
        "adapters/_planted.py",
        "from models import bundle\n",
        "adapters._planted",
    ),
    "siblings: features import simulation": (
        "features/_planted.py",
        "from simulation import dynamics\n",
        "features._planted",
    ),
    "lazy import inside a function: models import training": (
        "models/_planted.py",
        "def later():\n    from training import fit\n\n    return fit\n",
        "models._planted",
    ),
    "siblings: serving imports training": (
        "serving/_planted.py",
        "import training.pipeline\n",
        "serving._planted",
    ),
    "engine imports training": (
        "engine/_planted.py",
        "from training import fit\n",
        "engine._planted",
    ),
    "registry imports the engine": (
        "registry/_planted.py",
        "import engine.cluster\n",
        "registry._planted",
    ),
    "registry imports serving": (
        "registry/_planted.py",
        "from serving import runner\n",
        "registry._planted",
    ),
}


@pytest.mark.parametrize("planted", PLANTED.values(), ids=PLANTED.keys())
def test_contract_is_red_on_a_planted_backward_import(tree_copy: Path, planted: tuple[str, str, str]) -> None:
    relpath, source, importer = planted
    target = tree_copy / relpath
    target.write_text(source)
    try:
        result = _lint(tree_copy)
    finally:
        target.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "BROKEN" in result.stdout
    assert importer in result.stdout


def test_contract_is_red_when_the_face_reexports_the_application(tree_copy: Path) -> None:
    """`import rollcure.core` runs rollcure/__init__.py: a re-export there would load the whole app."""
    face = tree_copy / "rollcure" / "__init__.py"
    original = face.read_text()
    face.write_text(original + "\nfrom cli.main import main  # noqa: E402\n")
    try:
        result = _lint(tree_copy)
    finally:
        face.write_text(original)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "rollcure/__init__.py imports nothing above the base BROKEN" in result.stdout


def test_unplanted_copy_is_green(tree_copy: Path) -> None:
    """The copy itself passes, so a red result above comes from the planted import alone."""
    result = _lint(tree_copy)
    assert result.returncode == 0, result.stdout + result.stderr
