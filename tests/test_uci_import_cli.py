"""End-to-end `rollcure import uci`: small CSVs written here, then the shared real file when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from adapters.uci import read_default_labels, read_side_tables
from adapters.uci_format import REQUIRED_COLUMNS
from cli.main import run
from features.build import build_features
from features.cases import overdue_cases
from rollcure.config.features import FeatureConfig
from rollcure.core.io import read_tables

UCI_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "uci_credit_card_dev.csv"
needs_uci = pytest.mark.skipif(not UCI_CSV.is_file(), reason=f"real UCI file absent: {UCI_CSV} not found")


def write_csv(path: Path, rows: list[dict], columns=REQUIRED_COLUMNS) -> Path:
    base = dict.fromkeys(REQUIRED_COLUMNS, 0) | {"LIMIT_BAL": 50_000, "SEX": 2, "EDUCATION": 1,
                                                 "MARRIAGE": 2, "AGE": 35}
    pd.DataFrame([base | r for r in rows])[list(columns)].to_csv(path, index=False)
    return path


def test_import_writes_tables_labels_and_side_tables(tmp_path, capsys):
    csv = write_csv(tmp_path / "in.csv", [{"ID": 1, "PAY_0": 2, "default payment next month": 1},
                                          {"ID": 2}])
    assert run(["import", "uci", "--csv", str(csv), "--out", str(tmp_path / "d")]) == 0
    assert "imported 2 of 2 accounts" in capsys.readouterr().out
    tables = read_tables(tmp_path / "d")
    assert set(tables) == {"borrowers", "loans", "cycles"}
    assert len(tables["cycles"]) == 12
    labels = read_default_labels(tmp_path / "d")
    assert labels.set_index("loan_id")["default_next_month"].to_dict() == {1: 1, 2: 0}
    assert set(read_side_tables(tmp_path / "d")) == {"status", "attributes"}


def test_bad_rows_are_listed_by_id_and_skipped(tmp_path, capsys):
    csv = write_csv(tmp_path / "in.csv", [{"ID": 1}, {"ID": 2, "LIMIT_BAL": -10}, {"ID": 3, "MARRIAGE": 9}])
    assert run(["import", "uci", "--csv", str(csv), "--out", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert "imported 2 of 3 accounts" in out and "(1 rejected)" in out
    assert "rejected: LIMIT_BAL: credit limit missing or not positive: 1 row(s), ID 2" in out
    assert "kept: MARRIAGE: code not in the UCI documentation: mapped to unknown: 1 row(s), ID 3" in out
    problems = pd.read_parquet(tmp_path / "d" / "uci" / "row_problems.parquet")
    assert sorted(problems["ID"]) == ["2", "3"]


def test_wrong_header_exits_two_and_writes_nothing(tmp_path, capsys):
    columns = [c for c in REQUIRED_COLUMNS if c != "BILL_AMT3"]
    csv = write_csv(tmp_path / "in.csv", [{"ID": 1}], columns=columns)
    out = tmp_path / "d"
    assert run(["import", "uci", "--csv", str(csv), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not the UCI credit-card format" in err and "BILL_AMT3" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize("content", [None, b"", b"\xff\xfe\x00binary\x00"])
def test_missing_or_unreadable_file_exits_two(tmp_path, capsys, content):
    csv = tmp_path / "in.csv"
    if content is not None:
        csv.write_bytes(content)
    assert run(["import", "uci", "--csv", str(csv), "--out", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --csv:") and "Traceback" not in err
    assert not (tmp_path / "d").exists()


def test_out_that_is_a_file_exits_two(tmp_path, capsys):
    csv = write_csv(tmp_path / "in.csv", [{"ID": 1}])
    (tmp_path / "taken").write_text("not a folder")
    assert run(["import", "uci", "--csv", str(csv), "--out", str(tmp_path / "taken")]) == 2
    assert "--out:" in capsys.readouterr().err


def test_out_holding_another_books_contacts_exits_two_and_writes_nothing(tmp_path, capsys, tiny_tables):
    from rollcure.core.io import write_tables

    csv = write_csv(tmp_path / "in.csv", [{"ID": 1}])
    out = tmp_path / "old_book"
    write_tables(tiny_tables, out)  # a previous book with contact and action history
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    assert run(["import", "uci", "--csv", str(csv), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out:") and "contacts and actions" in err and err.count("\n") == 1
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_bad_min_payment_rate_exits_two(tmp_path, capsys):
    csv = write_csv(tmp_path / "in.csv", [{"ID": 1}])
    args = ["--csv", str(csv), "--out", str(tmp_path / "d"), "--min-payment-rate", "0"]
    assert run(["import", "uci", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --min-payment-rate:") and err.count("\n") == 1
    assert not (tmp_path / "d").exists()


@needs_uci
def test_real_file_imports_every_account_consistently(tmp_path):
    assert run(["import", "uci", "--csv", str(UCI_CSV), "--out", str(tmp_path / "d")]) == 0
    raw = pd.read_csv(UCI_CSV)
    tables = read_tables(tmp_path / "d")
    assert len(tables["loans"]) == len(raw) == len(tables["borrowers"])
    cycles = tables["cycles"]
    assert len(cycles) == 6 * len(raw)
    assert not cycles.duplicated(["loan_id", "cycle_date"]).any()
    # DPD follows the September status column exactly, account by account
    sept = cycles[cycles["cycle_date"] == "2005-09-30"].set_index("loan_id")["dpd"]
    expected = raw.set_index("ID")["PAY_0"].clip(lower=0) * 30
    assert sept.sort_index().to_numpy().tolist() == expected.sort_index().to_numpy().tolist()
    owed = cycles["balance"] > 0
    assert ((cycles["arrears"] > 0) == (cycles["dpd"] > 0))[owed].all()
    assert (cycles["arrears"] <= cycles["balance"]).all()
    assert (cycles[["due_amount", "paid_amount", "balance", "arrears"]] >= 0).all().all()
    assert np.isclose(read_default_labels(tmp_path / "d")["default_next_month"].mean(),
                      raw["default payment next month"].mean())
    attrs = read_side_tables(tmp_path / "d")["attributes"]
    assert (attrs["education"] == "unknown").sum() == raw["EDUCATION"].isin([0, 5, 6]).sum()
    # the raw status code survives the Parquet round trip and feeds the status-count features
    codes = cycles[cycles["cycle_date"] == "2005-09-30"].set_index("loan_id")["status_code"]
    assert str(codes.dtype) == "Int64"
    assert codes.sort_index().tolist() == raw.set_index("ID")["PAY_0"].sort_index().tolist()
    cases = overdue_cases(cycles)
    X = build_features(tables, cases, FeatureConfig())
    counts = X[["no_consumption_cycles_6", "paid_in_full_cycles_6", "revolving_cycles_6"]]
    assert len(cases) > 1000 and counts.notna().all().all()
    # six months: every cycle not delinquent has one of the three codes
    assert (counts.sum(axis=1) == X["cycles_observed"] - X["delinquent_cycles_6"]).all()
    assert (counts.sum() > 0).all()  # every counted code occurs among the delinquent cases
