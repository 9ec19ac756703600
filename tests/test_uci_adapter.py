"""Unit and data tests of the UCI adapter on small hand-made rows (no shared file needed)."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

import adapters.uci_tables
from adapters.config import UciImportConfig
from adapters.uci import convert
from adapters.uci_format import BILL_COLUMNS, REQUIRED_COLUMNS, STATUS_COLUMNS, check_header, check_rows
from adapters.uci_tables import uci_to_tables
from features.build import build_features
from features.cases import overdue_cases
from features.schemas import OPTIONAL_DTYPES, TABLE_DTYPES, validate_tables
from rollcure.config.features import FeatureConfig
from rollcure.core.domain import bucket_of
from rollcure.core.errors import InputError


def uci_row(**values) -> dict:
    """A valid current account with every amount zero, overridden by ``values``."""
    row = dict.fromkeys(REQUIRED_COLUMNS, 0)
    row.update({"ID": 1, "LIMIT_BAL": 10_000, "SEX": 1, "EDUCATION": 2, "MARRIAGE": 1, "AGE": 30})
    row.update(values)
    return row


def raw_frame(*rows: dict) -> pd.DataFrame:
    """As read from the CSV: every cell text."""
    return pd.DataFrame(list(rows), columns=list(REQUIRED_COLUMNS)).astype(str)


def test_doctests_run():
    assert doctest.testmod(adapters.uci_tables).failed == 0


def test_tables_have_the_contract_columns_and_dtypes():
    converted, _ = convert(raw_frame(uci_row(ID=1), uci_row(ID=2, PAY_0=3)))
    for name in ("borrowers", "loans", "cycles"):  # cycles carry the optional status_code
        frame, spec = converted.tables[name], TABLE_DTYPES[name] | OPTIONAL_DTYPES[name]
        assert list(frame.columns) == list(spec), name
        assert {c: str(t) for c, t in frame.dtypes.items()} == spec, name
    assert set(converted.tables) == {"borrowers", "loans", "cycles"}  # no invented contacts/actions
    validate_tables(converted.tables)  # the feature pipeline's own contract check


def test_status_codes_become_dpd_bucket_and_missed_instalments():
    statuses = [-2, -1, 0, 1, 2, 9]  # April..September
    row = uci_row(**dict(zip(STATUS_COLUMNS, statuses, strict=True)), LIMIT_BAL=20_000,
                  **dict.fromkeys(BILL_COLUMNS, 50_000))
    cfg = UciImportConfig(min_payment_rate=0.1)
    cycles = uci_to_tables(check_rows(raw_frame(row))[0], cfg).tables["cycles"]
    assert cycles["dpd"].tolist() == [0, 0, 0, 30, 60, 270]
    assert cycles["bucket"].tolist() == list(bucket_of(np.array([0, 0, 0, 30, 60, 270])))
    assert cycles["missed_instalments"].tolist() == [0, 0, 0, 1, 2, 9]
    assert cycles["arrears"].tolist() == [0.0, 0.0, 0.0, 2_000.0, 4_000.0, 18_000.0]
    assert ((cycles["arrears"] > 0) == (cycles["dpd"] > 0)).all()


def test_arrears_never_exceed_the_balance():
    row = uci_row(PAY_0=3, PAY_2=2, BILL_AMT1=1_000, BILL_AMT2=0, LIMIT_BAL=100_000)
    cycles = uci_to_tables(check_rows(raw_frame(row))[0]).tables["cycles"]
    assert cycles["arrears"].tolist()[-2:] == [0.0, 1_000.0]  # 3 × 5 % of the limit is above the bill
    assert cycles["dpd"].tolist()[-2:] == [60, 90]
    assert cycles["cycle_date"].dt.is_month_end.all()
    assert cycles["cycle_date"].dt.month.tolist() == [4, 5, 6, 7, 8, 9]


def test_minus_two_minus_one_zero_stay_apart_in_status_code_and_the_side_table():
    row = uci_row(**dict(zip(STATUS_COLUMNS, [-2, -1, 0, -1, -2, 0], strict=True)))
    out = uci_to_tables(check_rows(raw_frame(row))[0])
    cycles = out.tables["cycles"]
    assert cycles["dpd"].eq(0).all()
    assert cycles["status_code"].tolist() == [-2, -1, 0, -1, -2, 0]
    assert out.status["status"].tolist() == [-2, -1, 0, -1, -2, 0]
    keys = ["loan_id", "cycle_date"]
    assert (out.status[keys].to_numpy() == cycles[keys].to_numpy()).all()


def test_status_codes_become_features_through_the_one_feature_path():
    statuses = [-2, -1, -1, 0, 0, 1]  # April..September: the account is overdue in September
    row = uci_row(**dict(zip(STATUS_COLUMNS, statuses, strict=True)), **dict.fromkeys(BILL_COLUMNS, 500))
    tables = uci_to_tables(check_rows(raw_frame(row))[0]).tables
    x = build_features(tables, overdue_cases(tables["cycles"]), FeatureConfig()).iloc[0]
    assert x["as_of"] == pd.Timestamp("2005-09-30")
    counts = ["no_consumption_cycles_6", "paid_in_full_cycles_6", "revolving_cycles_6"]
    assert x[counts].tolist() == [1.0, 2.0, 2.0]


def test_payment_offset_pay_amount_answers_previous_bill():
    bills = {"BILL_AMT6": 100, "BILL_AMT5": 200, "BILL_AMT4": 300, "BILL_AMT3": 400, "BILL_AMT2": 500,
             "BILL_AMT1": -50}
    pays = {"PAY_AMT6": 1, "PAY_AMT5": 2, "PAY_AMT4": 3, "PAY_AMT3": 4, "PAY_AMT2": 5, "PAY_AMT1": 6}
    cycles = uci_to_tables(check_rows(raw_frame(uci_row(**bills, **pays)))[0]).tables["cycles"]
    assert cycles["paid_amount"].tolist() == [1, 2, 3, 4, 5, 6]  # paid during the cycle's month
    assert cycles["balance"].tolist() == [100, 200, 300, 400, 500, 0]  # credit balance owes nothing
    # the month's payment answers the previous statement; April's stands in for March's
    assert cycles["due_amount"].tolist() == [100, 100, 200, 300, 400, 500]


def test_borrower_attributes_map_unknown_codes_explicitly():
    rows = [uci_row(ID=1, SEX=2, EDUCATION=1, MARRIAGE=2), uci_row(ID=2, EDUCATION=5, MARRIAGE=0),
            uci_row(ID=3, EDUCATION=0), uci_row(ID=4, SEX=7)]
    converted, problems = convert(raw_frame(*rows))
    attrs = converted.attributes.set_index("borrower_id")
    assert attrs.loc[1].tolist() == ["female", "graduate_school", "single"]
    assert attrs.loc[2, "education"] == "unknown" and attrs.loc[2, "marriage"] == "unknown"
    assert attrs.loc[3, "education"] == "unknown"
    assert attrs.loc[4, "sex"] == "unknown"
    assert len(converted.tables["borrowers"]) == 4  # unknown codes are kept, not dropped
    # only the code the UCI documentation does not list is reported
    assert problems[["ID", "column", "action"]].values.tolist() == [["4", "SEX", "kept"]]


def test_missing_fields_are_nan_or_constant_never_varied():
    rows = [uci_row(ID=i, AGE=20 + i, LIMIT_BAL=1000 * i) for i in range(1, 6)]
    borrowers = convert(raw_frame(*rows))[0].tables["borrowers"]
    for col in ("monthly_income", "other_debt", "employment", "region"):
        assert borrowers[col].isna().all(), col
    for col in ("bureau_score", "dependants", "phone_verified"):
        assert borrowers[col].nunique() == 1, col
    assert borrowers["bureau_score"].between(300, 850).all()
    assert borrowers["age"].tolist() == [21, 22, 23, 24, 25]


@pytest.mark.parametrize(
    ("bad", "column"),
    [({"LIMIT_BAL": -5000}, "LIMIT_BAL"), ({"LIMIT_BAL": "abc"}, "LIMIT_BAL"), ({"PAY_3": 12}, "PAY_3"),
     ({"PAY_0": 1.5}, "PAY_0"), ({"AGE": 3}, "AGE"), ({"PAY_AMT2": -1}, "PAY_AMT2"),
     ({"BILL_AMT4": ""}, "BILL_AMT4"), ({"default payment next month": 2}, "default payment next month")],
)
def test_bad_rows_are_rejected_and_reported_by_id(bad, column):
    converted, problems = convert(raw_frame(uci_row(ID=11), uci_row(ID=12, **bad), uci_row(ID=13)))
    assert converted.tables["loans"]["loan_id"].tolist() == [11, 13]
    rejected = problems[problems["action"] == "rejected"]
    assert rejected[["ID", "column"]].values.tolist() == [["12", column]]


def test_duplicate_ids_keep_the_first_and_report_the_rest():
    converted, problems = convert(raw_frame(uci_row(ID=5, AGE=40), uci_row(ID=5, AGE=50)))
    assert converted.tables["borrowers"]["age"].tolist() == [40]
    assert problems["problem"].tolist() == ["duplicate account id"]


def test_wrong_header_is_refused_naming_the_missing_columns():
    expected = r"--csv: not the UCI credit-card format: 1 column\(s\) missing \(PAY_0\)"
    with pytest.raises(InputError, match=expected):
        check_header([c for c in REQUIRED_COLUMNS if c != "PAY_0"])


def test_no_usable_row_is_an_input_error():
    with pytest.raises(InputError, match="none of the 1 rows is usable"):
        convert(raw_frame(uci_row(LIMIT_BAL=0)))


def test_accounts_come_out_sorted_and_aligned():
    converted, _ = convert(raw_frame(uci_row(ID=9, PAY_0=2), uci_row(ID=3)))
    t = converted.tables
    assert t["loans"]["loan_id"].tolist() == [3, 9] == t["borrowers"]["borrower_id"].tolist()
    assert t["cycles"]["loan_id"].tolist() == [3] * 6 + [9] * 6
    assert converted.labels["as_of"].eq(pd.Timestamp("2005-09-30")).all()


def test_numbers_parsed_by_the_reader_convert_like_text():
    rows = [uci_row(ID=1, PAY_0=2, BILL_AMT1=900), uci_row(ID=2, LIMIT_BAL=-1), uci_row(ID=3, AGE="")]
    typed = pd.DataFrame(rows, columns=list(REQUIRED_COLUMNS)).replace("", np.nan)
    typed_out, typed_problems = convert(typed)
    text_out, text_problems = convert(raw_frame(*rows))
    pd.testing.assert_frame_equal(typed_out.tables["cycles"], text_out.tables["cycles"])
    assert typed_problems["ID"].tolist() == text_problems["ID"].tolist() == ["2", "3"]
