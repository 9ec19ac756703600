"""Data tests of the raw-table contract: valid books pass, every broken rule is named precisely."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.schemas import TableValidationError, validate_tables
from rollcure.core.errors import InputError


def test_hand_built_book_is_valid(tiny_tables):
    assert validate_tables(tiny_tables) is None


def test_simulated_book_is_valid(sim_small):
    assert validate_tables(sim_small.tables) is None


@pytest.mark.parametrize("table", ["contacts", "actions"])
def test_optional_tables_may_be_absent(tiny_tables, table):
    assert validate_tables({k: v for k, v in tiny_tables.items() if k != table}) is None


def test_real_book_nulls_and_revolving_terms_are_allowed(tiny_tables):
    t = tiny_tables
    for col in ("monthly_income", "other_debt"):
        t["borrowers"][col] = np.nan
    t["borrowers"]["employment"] = pd.array([None, "retired"], dtype="str")
    t["loans"]["annual_rate"] = np.nan
    t["loans"]["term_months"] = 0
    assert validate_tables(t) is None


def _set(table, column, row, value):
    def mutate(t):
        t[table].loc[row, column] = value

    return mutate


def _retype(table, column, dtype):
    def mutate(t):
        t[table][column] = t[table][column].astype(dtype)

    return mutate


def _drop(table, column):
    def mutate(t):
        t[table] = t[table].drop(columns=column)

    return mutate


def _duplicate(table, row):
    def mutate(t):
        t[table] = pd.concat([t[table], t[table].iloc[[row]]], ignore_index=True)

    return mutate


# (mutation, table, column, expected key text, rule text)
CASES = {
    "negative dpd": (
        _set("cycles", "dpd", 3, -5), "cycles", "dpd", "(10, 2024-04-30)", "greater_than_or_equal_to(0)"),
    "unknown channel": (
        _set("contacts", "channel", 1, "fax"), "contacts", "channel", "(10, 2024-03-20 11:00:00)", "isin"),
    "score out of range": (
        _set("borrowers", "bureau_score", 1, 900), "borrowers", "bureau_score", "2", "in_range"),
    "propensity above 1": (
        _set("actions", "propensity", 0, 1.5), "actions", "propensity", "(10, 2024-03-31)", "in_range"),
    "wrong dtype": (_retype("cycles", "dpd", "float64"), "cycles", "dpd", "-", "wrong dtype"),
    "missing column": (_drop("loans", "product"), "loans", "product", "-", "column missing"),
    "null key": (
        _set("cycles", "cycle_date", 0, pd.NaT), "cycles", "cycle_date", "", "null values not allowed"),
    "duplicate loan": (_duplicate("loans", 1), "loans", "loan_id", "20", "key not unique"),
    "duplicate cycle": (
        _duplicate("cycles", 4), "cycles", "loan_id+cycle_date", "(10, 2024-05-31)", "key not unique"),
    "orphan cycle": (
        _set("cycles", "loan_id", 11, 77), "cycles", "loan_id", "(77, 2024-06-30)", "no such loan"),
    "orphan loan": (_set("loans", "borrower_id", 0, 9), "loans", "borrower_id", "10", "no such borrower"),
    "orphan action": (
        _set("actions", "loan_id", 2, 55), "actions", "loan_id", "(55, 2024-05-31)", "no such loan"),
    "bucket vs dpd": (
        _set("cycles", "bucket", 3, "M1"), "cycles", "bucket", "(10, 2024-04-30)", "does not match dpd"),
    "cycle before origination": (
        _set("cycles", "cycle_date", 0, pd.Timestamp("2023-01-31")), "cycles", "cycle_date",
        "(10, 2023-01-31)", "before loan origination"),
    "arrears above balance": (
        _set("cycles", "arrears", 3, 5000.0), "cycles", "arrears", "(10, 2024-04-30)", "above balance"),
    "cycle not at month end": (
        _set("cycles", "cycle_date", 2, pd.Timestamp("2024-03-15")), "cycles", "cycle_date",
        "(10, 2024-03-15)", "not a month end"),
    "promise without date": (
        _set("contacts", "ptp_date", 1, pd.NaT), "contacts", "ptp_date", "(10, 2024-03-20",
        "without ptp_date"),
}  # fmt: skip


@pytest.mark.parametrize("name", list(CASES))
def test_broken_rule_is_reported(tiny_tables, name):
    mutate, table, column, keys, rule = CASES[name]
    mutate(tiny_tables)
    with pytest.raises(TableValidationError) as info:
        validate_tables(tiny_tables)
    problems = info.value.problems
    match = [p for p in problems if p[0] == table and p[1] == column]
    assert match, problems
    assert keys in match[0][2] and rule in match[0][3]
    message = str(info.value)
    assert f"{table}.{column}" in message and "\n" not in message
    assert isinstance(info.value, InputError)


def test_first_keys_only(tiny_tables):
    tiny_tables["cycles"]["dpd"] = -1
    with pytest.raises(TableValidationError) as info:
        validate_tables(tiny_tables)
    (problem,) = [p for p in info.value.problems if p[1] == "dpd"]
    assert problem[2].count("(") == 3  # 12 bad rows, the first three shown


def test_missing_required_table(tiny_tables):
    del tiny_tables["cycles"]
    with pytest.raises(TableValidationError, match="cycles.-: table missing"):
        validate_tables(tiny_tables)


#: Lender status codes for the 12 cycle rows of the hand-built book (loan 10, then loan 20).
STATUS_CODES = [-2, -1, 1, 2, 0, 1] + [None, -1, -2, 0, -1, 9]


def test_status_code_is_an_optional_nullable_column(tiny_tables):
    assert "status_code" not in tiny_tables["cycles"]  # a book without it is valid (checked above)
    tiny_tables["cycles"]["status_code"] = pd.array(STATUS_CODES, dtype="Int64")
    assert validate_tables(tiny_tables) is None


@pytest.mark.parametrize(
    "codes, dtype, keys, rule",
    [
        ([-3] + STATUS_CODES[1:], "Int64", "(10, 2024-01-31)", "in_range(-2, 9)"),
        (STATUS_CODES[:-1] + [10], "Int64", "(20, 2024-06-30)", "in_range(-2, 9)"),
        (STATUS_CODES, "float64", "-", "wrong dtype"),
    ],
    ids=["below -2", "above 9", "float"],
)
def test_status_code_out_of_contract_is_rejected(tiny_tables, codes, dtype, keys, rule):
    tiny_tables["cycles"]["status_code"] = pd.array(codes, dtype="Int64").astype(dtype)
    with pytest.raises(TableValidationError) as info:
        validate_tables(tiny_tables)
    (problem,) = [p for p in info.value.problems if p[:2] == ("cycles", "status_code")]
    assert keys in problem[2] and rule in problem[3]
