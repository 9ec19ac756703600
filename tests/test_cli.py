"""The CLI shell: help works, bad input exits 2 with one line."""

from rollcure.cli import run


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
