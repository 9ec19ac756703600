"""End-to-end CLI: `rollcure features list|docs` and `rollcure validate`."""

from __future__ import annotations

from cli.main import run
from features.registry import FEATURES
from rollcure.core.io import write_tables


def test_features_list_prints_the_registry(capsys):
    assert run(["features", "list"]) == 0
    out = capsys.readouterr().out
    assert f"{len(FEATURES)} features" in out
    assert all(f.name in out for f in FEATURES)


def test_features_list_by_group(capsys):
    assert run(["features", "list", "--group", "action"]) == 0
    out = capsys.readouterr().out
    assert "last_action" in out and "bureau_score" not in out


def test_unknown_group_exits_two(capsys):
    assert run(["features", "list", "--group", "nope"]) == 2
    err = capsys.readouterr().err
    assert "--group" in err and "borrower" in err and "Traceback" not in err


def test_features_docs_writes_markdown(tmp_path, capsys):
    out = tmp_path / "features.md"
    assert run(["features", "docs", "--out", str(out)]) == 0
    text = out.read_text()
    assert text.startswith("# Feature data dictionary")
    assert all(f"`{f.name}`" in text for f in FEATURES)
    assert text.count("\n## ") == 5


def test_features_docs_into_missing_folder_exits_two(tmp_path, capsys):
    assert run(["features", "docs", "--out", str(tmp_path / "no" / "f.md")]) == 2
    assert "--out" in capsys.readouterr().err


def test_validate_accepts_a_good_book(tiny_tables, tmp_path, capsys):
    write_tables(tiny_tables, tmp_path)
    assert run(["validate", "--data", str(tmp_path)]) == 0
    assert "ok: borrowers 2" in capsys.readouterr().out


def test_validate_rejects_a_bad_book_with_a_report(tiny_tables, tmp_path, capsys):
    tiny_tables["cycles"].loc[3, "dpd"] = -5
    tiny_tables["actions"].loc[0, "loan_id"] = 42
    write_tables(tiny_tables, tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert run(["validate", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cycles.dpd" in err and "(10, 2024-04-30)" in err and "greater_than_or_equal_to(0)" in err
    assert "Traceback" not in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # wrote nothing


def test_validate_missing_folder_exits_two(tmp_path, capsys):
    assert run(["validate", "--data", str(tmp_path / "absent")]) == 2
    assert "--data" in capsys.readouterr().err
