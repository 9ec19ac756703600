"""The CLI shell: help works, bad input exits 2 with one line."""

from cli.main import run


def test_help_exits_zero(capsys):
    assert run(["--help"]) == 0
    assert "rollcure" in capsys.readouterr().out


def test_unknown_command_exits_two(capsys):
    assert run(["no-such-command"]) == 2
    err = capsys.readouterr().err
    assert "no-such-command" in err and "Traceback" not in err


def test_input_error_from_a_command_exits_two_with_one_line(capsys, tmp_path):
    missing = tmp_path / "missing"
    assert run(["train", "--data", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "--data" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_corrupt_table_is_bad_input_not_a_traceback(capsys, tmp_path):
    from rollcure.core.io import TABLES

    for name in TABLES[:3]:
        (tmp_path / f"{name}.parquet").write_bytes(b"not parquet at all")
    assert run(["validate", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "borrowers" in err and "Parquet" in err and "Traceback" not in err
