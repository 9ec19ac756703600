"""End to end: `rollcure simulate` writes the five tables + truth; bad input exits 2 and writes nothing."""

from __future__ import annotations

import pandas as pd
import pytest

from cli.main import run
from rollcure.core.io import TABLES, read_tables, read_truth
from simulation import read_simulation_config


def test_simulate_writes_five_parquet_tables_and_truth(tmp_path, sim_small):
    out = tmp_path / "book"
    rc = run(["simulate", "--accounts", "400", "--months", "4", "--seed", "3", "--out", str(out)])
    assert rc == 0
    assert sorted(p.name for p in out.glob("*.parquet")) == sorted(f"{t}.parquet" for t in TABLES)
    tables = read_tables(out)
    truth = read_truth(out)
    assert set(truth) == {"borrower_months", "case_states"}
    cfg = read_simulation_config(out)
    assert (cfg.accounts, cfg.months) == (400, 4)
    assert tables["cycles"]["cycle_date"].nunique() == 4
    assert tables["loans"]["loan_id"].nunique() <= 400
    for name in TABLES:  # the Parquet round trip keeps the documented dtypes
        assert dict(tables[name].dtypes.astype(str)) == dict(sim_small.tables[name].dtypes.astype(str)), name


def test_simulate_reads_the_simulation_section_of_a_config(tmp_path):
    cfg = tmp_path / "run.yaml"
    cfg.write_text("seed: 5\nsimulation:\n  accounts: 150\n  months: 3\n  burn_in_months: 2\n")
    out = tmp_path / "book"
    assert run(["simulate", "--config", str(cfg), "--out", str(out)]) == 0
    cycles = pd.read_parquet(out / "cycles.parquet")
    assert cycles["cycle_date"].nunique() == 3
    assert cycles["loan_id"].nunique() <= 150


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--accounts", "0"], "--accounts"),
        (["--accounts", "-5"], "--accounts"),
        (["--months", "2"], "--months"),
        (["--seed", "-1"], "--seed"),
        (["--accounts", "many"], "--accounts"),
    ],
)
def test_bad_values_exit_2_with_one_line_and_write_nothing(tmp_path, capsys, args, needle):
    out = tmp_path / "never"
    rc = run(["simulate", *args, "--out", str(out)])
    err = capsys.readouterr().err.strip()
    assert rc == 2
    assert needle in err
    assert "Traceback" not in err and len(err.splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("yaml_text", "needle"),
    [
        ("simulation:\n  acounts: 10\n", "acounts"),
        ("simulation:\n  product_mix: {car: 1.0}\n", "product_mix"),
        ("simulation:\n  action_costs: {none: 0}\n", "action_costs"),
    ],
)
def test_bad_config_exits_2_naming_the_key_and_writes_nothing(tmp_path, capsys, yaml_text, needle):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text)
    out = tmp_path / "never"
    rc = run(["simulate", "--config", str(cfg), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    assert needle in err
    assert not out.exists()


def test_help_lists_the_options(capsys):
    assert run(["simulate", "--help"]) == 0
    text = capsys.readouterr().out
    for opt in ("--accounts", "--months", "--seed", "--out", "--config"):
        assert opt in text


def test_out_that_is_a_file_exits_2_and_leaves_it_alone(tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("not a folder")
    assert run(["simulate", "--accounts", "50", "--months", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --out:") and err.count("\n") == 1
    assert out.read_text() == "not a folder"
