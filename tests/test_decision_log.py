"""The decision log: durable settings, hashing, append/count, Parquet export, CLI export."""

from __future__ import annotations

import sqlite3
import threading

import pandas as pd
import pyarrow.parquet as pq
import pytest

from cli.main import run
from models import record
from rollcure.core.errors import InputError
from serving.decision_log import (
    DEV_SALT,
    EXPORT_COLUMNS,
    DecisionLog,
    DecisionRecord,
    default_url,
    hash_case_id,
    inputs_digest,
    resolve_salt,
)
from serving.export import EXPORT_SCHEMA, export_decisions


def _record(i: int, **over) -> DecisionRecord:
    base = dict(
        decision_id=f"{i:032x}",
        case_hash=hash_case_id(1000 + i, "s"),
        as_of="2025-06-30",
        decided_at="2026-11-23T21:00:00+00:00",
        endpoint="recommend",
        model_name="rollcure",
        model_version="3",
        inputs_digest=inputs_digest({"loan_id": 1000 + i}),
        p_roll_forward=0.25,
        p_cure=0.5,
        action="reminder",
        expected_value=12.5,
        reason_codes=("Days past due are high", "No promise to pay kept"),
        arm="challenger" if i % 2 == 1 else "champion",
        challenger=i % 2 == 1,
        propensity=0.8,
    )
    base.update(over)
    return DecisionRecord(**base)


def test_hash_is_salted_and_stable():
    assert hash_case_id(42, "a") == hash_case_id("42", "a")
    assert hash_case_id(42, "a") != hash_case_id(42, "b")
    digest = hash_case_id(42, "a")
    assert len(digest) == 64 and set(digest) <= set("0123456789abcdef")


def test_inputs_digest_ignores_key_order_but_not_values():
    assert inputs_digest({"a": 1, "b": [1, 2]}) == inputs_digest({"b": [1, 2], "a": 1})
    assert inputs_digest({"a": 1}) != inputs_digest({"a": 2})


def test_salt_falls_back_to_dev_salt_only_in_insecure_dev_mode(caplog):
    assert resolve_salt({"S": "xyz"}, "S") == "xyz"
    with pytest.raises(InputError, match="S is not set"):
        resolve_salt({}, "S")
    assert resolve_salt({"ROLLCURE_INSECURE_DEV": "1"}, "S") == DEV_SALT
    assert "S is not set" in caplog.text


def test_sqlite_log_is_wal_with_full_sync(tmp_path):
    log = DecisionLog.open(default_url(tmp_path / "sub"))
    with log.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert (tmp_path / "sub" / "decisions.sqlite").is_file()


def test_append_is_visible_to_an_independent_reader(tmp_path):
    log = DecisionLog.open(default_url(tmp_path))
    log.append([_record(i) for i in range(5)])
    log.append([])
    # A plain sqlite3 connection (as after a crash and restart) sees every committed row.
    with sqlite3.connect(tmp_path / "decisions.sqlite") as con:
        rows = con.execute("select decision_id, challenger from decisions order by seq").fetchall()
    assert [r[0] for r in rows] == [f"{i:032x}" for i in range(5)]
    assert [bool(r[1]) for r in rows] == [False, True, False, True, False]
    assert log.count() == 5


def test_concurrent_appends_lose_nothing(tmp_path):
    log = DecisionLog.open(default_url(tmp_path))

    def writer(k: int) -> None:
        for j in range(10):
            log.append([_record(k * 100 + j * 2), _record(k * 100 + j * 2 + 1)])

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.count() == 80


def test_duplicate_decision_id_is_rejected(tmp_path):
    import sqlalchemy as sa

    log = DecisionLog.open(default_url(tmp_path))
    log.append([_record(1)])
    with pytest.raises(sa.exc.IntegrityError):
        log.append([_record(1)])
    assert log.count() == 1


def test_bad_url_is_an_input_error():
    with pytest.raises(InputError, match="decision_log_url"):
        DecisionLog.open("not a url at all")


def test_log_with_an_older_layout_is_refused(tmp_path):
    with sqlite3.connect(tmp_path / "decisions.sqlite") as con:
        con.execute("create table decisions (seq integer primary key, decision_id text)")
    with pytest.raises(InputError, match="older layout"):
        DecisionLog.open(default_url(tmp_path))


def test_export_round_trips_in_chunks(tmp_path):
    log = DecisionLog.open(default_url(tmp_path))
    log.append([_record(i) for i in range(7)])
    log.append([_record(99, action=None, expected_value=None, reason_codes=(), propensity=None)])
    out = tmp_path / "out" / "decisions.parquet"
    assert export_decisions(log, out, chunk_rows=3) == 8
    table = pq.read_table(out)
    assert table.schema.equals(EXPORT_SCHEMA)
    assert tuple(table.schema.names) == EXPORT_COLUMNS
    assert all(table.column(f.name).null_count == 0 for f in record.fields("log") if not f.nullable)
    frame = table.to_pandas()
    assert list(frame["decision_id"]) == [f"{i:032x}" for i in [*range(7), 99]]
    assert list(frame["reason_codes"].iloc[0]) == ["Days past due are high", "No promise to pay kept"]
    assert list(frame["reason_codes"].iloc[-1]) == []
    assert pd.isna(frame["action"].iloc[-1]) and pd.isna(frame["expected_value"].iloc[-1])
    assert pd.isna(frame["propensity"].iloc[-1]) and frame["propensity"].iloc[0] == 0.8
    assert list(frame["arm"].iloc[:2]) == ["champion", "challenger"]
    assert frame["challenger"].sum() == 4  # records 1, 3, 5 and 99


def test_cli_export(tmp_path, capsys):
    log = DecisionLog.open(default_url(tmp_path))
    log.append([_record(i) for i in range(3)])
    out = tmp_path / "export.parquet"
    assert run(["decisions", "export", "--data", str(tmp_path), "--out", str(out)]) == 0
    assert len(pd.read_parquet(out)) == 3
    assert "3 decisions" in capsys.readouterr().out


def test_cli_export_without_log_exits_two(tmp_path, capsys):
    argv = ["decisions", "export", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "x.parquet")]
    assert run(argv) == 2
    err = capsys.readouterr().err
    assert "no decision log" in err and "Traceback" not in err


def test_sqlite_log_and_its_new_folder_are_private(tmp_path):
    """Issue 16, defect 5: decisions.sqlite was created world-readable."""
    import os
    import stat

    path = tmp_path / "new" / "deeper" / "decisions.sqlite"
    log = DecisionLog.open(default_url(path.parent))
    log.append([_record(1)])
    try:
        for p in path.parent.glob("decisions.sqlite*"):
            assert stat.S_IMODE(os.stat(p).st_mode) == 0o600, p
        for folder in (path.parent, path.parent.parent):
            assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700, folder
    finally:
        log.close()
