"""Unit tests of build_features on the hand-built book (values worked out by hand) and on the
small simulated book (shape, dtypes, ranges)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from features.build import build_features
from features.cases import overdue_cases
from features.registry import FEATURES, FEATURES_BY_NAME, features_in
from rollcure.config.features import FeatureConfig
from rollcure.core.domain import bucket_index
from rollcure.core.errors import InputError

CFG = FeatureConfig()


def _case(tables, loan_id: int, as_of: str) -> pd.Series:
    cases = pd.DataFrame({"loan_id": [loan_id], "as_of": pd.to_datetime([as_of])})
    return build_features(tables, cases, CFG).iloc[0]


def test_repayment_features_by_hand(tiny_tables):
    x = _case(tiny_tables, 10, "2024-04-30")
    assert (x["dpd"], x["bucket"], x["bucket_index"], x["missed_instalments"]) == (60, "M2", 2, 2)
    assert (x["tier_by_dpd"], x["tier_by_missed"]) == ("special_mention", "normal")
    assert (x["max_dpd_3"], x["delinquent_cycles_6"], x["consecutive_missed"]) == (60, 2, 2)
    assert x["paid_to_due_3"] == pytest.approx(100 / 400)
    assert x["paid_to_due_1"] == 0.0
    assert x["cycles_since_full_payment"] == 2.0  # February was paid in full
    assert x["arrears_to_instalment"] == pytest.approx(2.0)
    assert x["balance_trend_3"] == pytest.approx(1800 / 1900 - 1)
    assert x["dpd_change_1"] == 30.0
    assert (x["times_cured_12"], x["cycles_observed"]) == (0, 4)
    later = _case(tiny_tables, 10, "2024-06-30")
    assert (later["times_cured_12"], later["max_dpd_12"], later["consecutive_missed"]) == (1, 60, 1)


STATUS_COUNTS = ["no_consumption_cycles_6", "paid_in_full_cycles_6", "revolving_cycles_6"]


def _with_status_codes(tables):
    """The hand-built book with lender status codes, and a July cycle for loan 20 (7 cycles)."""
    cycles = tables["cycles"]
    july = cycles[cycles["loan_id"] == 20].tail(1).assign(cycle_date=pd.Timestamp("2024-07-31"))
    cycles = pd.concat([cycles, july], ignore_index=True)
    # loan 10: Jan..Jun (DPD 0, 0, 30, 60, 0, 30); loan 20: Jan..Jul, January not recorded
    codes = [-2, -1, 1, 2, 0, 1] + [None, -1, -2, 0, -1, -1, -2]
    cycles["status_code"] = pd.array(codes, dtype="Int64")
    return {**tables, "cycles": cycles}


@pytest.mark.parametrize(
    "loan_id, as_of, counts",
    [
        (10, "2024-04-30", (1, 1, 0)),  # Jan..Apr: -2, -1, 1, 2
        (10, "2024-06-30", (1, 1, 1)),  # Jan..Jun: -2, -1, 1, 2, 0, 1
        (20, "2024-06-30", (np.nan,) * 3),  # January's code unknown: the counts are unknown
        (20, "2024-07-31", (2, 3, 1)),  # Feb..Jul (6 cycles; January left the window)
    ],
)
def test_status_code_counts_by_hand(tiny_tables, loan_id, as_of, counts):
    x = _case(_with_status_codes(tiny_tables), loan_id, as_of)
    np.testing.assert_array_equal(x[STATUS_COUNTS].to_numpy(dtype=float), np.array(counts, dtype=float))


def test_book_without_status_codes_gives_nan(tiny_tables):
    X = build_features(tiny_tables, overdue_cases(tiny_tables["cycles"]), CFG)
    assert X[STATUS_COUNTS].isna().all().all() and (X[STATUS_COUNTS].dtypes == "float64").all()


def test_borrower_and_loan_features_by_hand(tiny_tables):
    x = _case(tiny_tables, 10, "2024-04-30")
    assert (x["months_on_book"], x["remaining_term"]) == (9, 15.0)
    assert x["debt_to_income"] == pytest.approx(300 / 2000)
    assert x["instalment_to_income"] == pytest.approx(100 / 2000)
    assert np.isnan(x["loan_to_value"])  # no collateral
    assert x["balance_to_principal"] == pytest.approx(1800 / 2000)
    assert (x["employment"], x["product"], x["collateral_type"]) == ("salaried", "consumer", "none")


def test_flag_counts_only_from_its_date(tiny_tables):
    before = _case(tiny_tables, 10, "2024-04-30")
    after = _case(tiny_tables, 10, "2024-06-30")
    assert not before["disputed_now"] and not before["any_flag_now"]
    assert after["disputed_now"] and after["any_flag_now"]


def test_contact_features_by_hand(tiny_tables):
    x = _case(tiny_tables, 10, "2024-04-30")
    assert (x["contact_attempts_7d"], x["contact_attempts_30d"], x["contact_attempts_90d"]) == (1, 2, 4)
    assert (x["call_attempts_7d"], x["rpc_7d"], x["rpc_30d"]) == (1, 1, 1)
    assert x["rpc_rate_90d"] == pytest.approx(0.5)
    # promise of 20 Mar (due 28 Mar) met a zero payment at the March cycle: broken;
    # promise of 28 Apr (due 10 May) is still open at 30 Apr
    assert (x["ptp_made_90d"], x["ptp_kept_90d"], x["ptp_broken_90d"]) == (2, 0, 1)
    assert (x["open_ptp"], x["open_ptp_amount"], x["ptp_kept_ratio_90d"]) == (1.0, 300.0, 0.0)
    assert x["days_since_last_rpc"] == pytest.approx(1 + 8 / 24)  # 28 Apr 16:00 to 30 Apr 00:00
    assert (x["last_contact_outcome"], x["last_contact_channel"]) == ("promise_to_pay", "call")
    assert (x["no_answers_30d"], x["third_party_contacts_30d"], x["sms_30d"]) == (1, 1, 0)
    later = _case(tiny_tables, 10, "2024-06-30")  # the May cycle paid 300: the April promise was kept
    assert (later["ptp_made_90d"], later["ptp_kept_90d"], later["open_ptp"]) == (1, 1, 0.0)
    assert later["ptp_kept_ratio_90d"] == 1.0


def test_action_features_by_hand(tiny_tables):
    x = _case(tiny_tables, 10, "2024-04-30")
    # the restructuring decided at 30 Apr is this case's treatment, not a feature
    assert (x["last_action"], x["days_since_last_action"]) == ("reminder", 30.0)
    assert (x["actions_reminder_90d"], x["actions_restructuring_90d"], x["action_cost_90d"]) == (1, 0, 1.0)
    assert (x["restructured_before"], x["under_restructuring"]) == (0.0, 0.0)
    later = _case(tiny_tables, 10, "2024-06-30")
    assert (later["last_action"], later["months_since_last_restructuring"]) == ("none", 2.0)
    assert (later["under_restructuring"], later["restructured_before"], later["actions_365d"]) == (
        1.0,
        1.0,
        2,
    )
    assert np.isnan(later["days_since_last_field_visit"])  # decided at as_of: not yet history


def test_columns_order_and_dtypes_follow_the_registry(tiny_tables):
    X = build_features(tiny_tables, overdue_cases(tiny_tables["cycles"]), CFG)
    assert list(X.columns) == ["loan_id", "as_of", *[f.name for f in FEATURES]]
    for f in FEATURES:
        assert X[f.name].dtype == f.pandas_dtype(), f.name


def test_rows_align_with_cases_in_any_order(tiny_tables):
    cases = overdue_cases(tiny_tables["cycles"])
    shuffled = cases.iloc[[2, 0, 1]].reset_index(drop=True)
    X = build_features(tiny_tables, cases, CFG).set_index(["loan_id", "as_of"])
    Y = build_features(tiny_tables, shuffled, CFG)
    assert (Y[["loan_id", "as_of"]].to_numpy() == shuffled.to_numpy()).all()
    pd.testing.assert_frame_equal(
        Y.set_index(["loan_id", "as_of"]), X.loc[Y.set_index(["loan_id", "as_of"]).index]
    )


@pytest.mark.parametrize("table", ["contacts", "actions"])
def test_absent_history_gives_nan_not_zero(tiny_tables, table):
    cases = overdue_cases(tiny_tables["cycles"])
    without = {k: v for k, v in tiny_tables.items() if k != table}
    X = build_features(without, cases, CFG)
    group = "contact" if table == "contacts" else "action"
    names = [f.name for f in features_in(group)] + (["restructured_before"] if table == "actions" else [])
    assert X[names].isna().all().all()
    others = [f.name for f in FEATURES if f.name not in names and f.dtype != "category"]
    pd.testing.assert_frame_equal(X[others], build_features(tiny_tables, cases, CFG)[others])


@pytest.mark.parametrize("table", ["contacts", "actions"])
def test_empty_history_gives_zero_counts(tiny_tables, table):
    tables = {**tiny_tables, table: tiny_tables[table].iloc[:0]}
    X = build_features(tables, overdue_cases(tiny_tables["cycles"]), CFG)
    count = "contact_attempts_90d" if table == "contacts" else "actions_365d"
    assert (X[count] == 0).all()


def test_case_without_cycle_at_as_of_is_rejected(tiny_tables):
    cases = pd.DataFrame({"loan_id": [10], "as_of": pd.to_datetime(["2024-04-15"])})
    with pytest.raises(InputError, match=r"cycles: no cycle row at as_of .*\(10, 2024-04-15\)"):
        build_features(tiny_tables, cases, CFG)


def test_unknown_loan_is_rejected(tiny_tables):
    cases = pd.DataFrame({"loan_id": [99], "as_of": pd.to_datetime(["2024-04-30"])})
    with pytest.raises(InputError, match=r"loans.loan_id: no row for case\(s\) \(99, 2024-04-30\)"):
        build_features(tiny_tables, cases, CFG)


def test_cases_need_keys(tiny_tables):
    with pytest.raises(InputError, match="cases: missing column"):
        build_features(tiny_tables, pd.DataFrame({"loan_id": [10]}), CFG)


def test_overdue_cases_filters_by_date(tiny_tables):
    cases = overdue_cases(tiny_tables["cycles"], as_of="2024-04-30")
    assert cases.to_dict("list") == {"loan_id": [10], "as_of": [pd.Timestamp("2024-04-30")]}
    assert len(overdue_cases(tiny_tables["cycles"])) == 3


# --- on the simulated book -------------------------------------------------------------------


def test_simulated_book_shape_and_consistency(sim_small, sim_small_cases, sim_small_features):
    X = sim_small_features
    assert len(X) == len(sim_small_cases) > 100
    assert (X[["loan_id", "as_of"]].to_numpy() == sim_small_cases.to_numpy()).all()
    for f in FEATURES:
        if f.dtype in ("int", "bool"):
            assert X[f.name].notna().all(), f.name
    assert (X["dpd"] > 0).all()
    assert (X["bucket_index"].to_numpy() == bucket_index(X["dpd"])).all()
    assert (X["max_dpd_12"] >= X["max_dpd_6"]).all() and (X["max_dpd_6"] >= X["max_dpd_3"]).all()
    assert (X["max_dpd_3"] >= X["dpd"]).all()
    assert (X["contact_attempts_90d"] >= X["contact_attempts_30d"]).all()
    assert (X["ptp_kept_90d"] + X["ptp_broken_90d"] <= X["ptp_made_90d"]).all()
    assert X["contact_attempts_90d"].sum() > 0 and X["actions_365d"].sum() > 0


def test_categories_are_the_registry_vocabularies(sim_small_features):
    for f in FEATURES:
        if f.dtype == "category":
            assert list(sim_small_features[f.name].cat.categories) == list(
                FEATURES_BY_NAME[f.name].categories
            )


def test_deterministic(sim_small, sim_small_cases, sim_small_features):
    again = build_features(sim_small.tables, sim_small_cases, CFG)
    pd.testing.assert_frame_equal(again, sim_small_features)


def test_duplicate_loan_key_is_an_input_error(tiny_tables):
    tiny_tables["loans"] = pd.concat([tiny_tables["loans"], tiny_tables["loans"].iloc[[0]]])
    with pytest.raises(InputError, match="loans.loan_id: key not unique"):
        build_features(tiny_tables, overdue_cases(tiny_tables["cycles"]), CFG)


def test_bad_case_dates_are_an_input_error(tiny_tables):
    with pytest.raises(InputError, match="cases.as_of: must be dates"):
        build_features(tiny_tables, pd.DataFrame({"loan_id": [10], "as_of": ["not a date"]}), CFG)


@pytest.mark.parametrize("loan_id", [10.5, "ten"])
def test_case_loan_ids_must_be_whole_numbers(tiny_tables, loan_id):
    cases = pd.DataFrame({"loan_id": [loan_id], "as_of": pd.to_datetime(["2024-04-30"])})
    with pytest.raises(InputError, match="cases.loan_id: must be whole numbers"):
        build_features(tiny_tables, cases, CFG)


def test_case_loan_ids_as_whole_floats_are_accepted(tiny_tables):
    cases = pd.DataFrame({"loan_id": [10.0], "as_of": pd.to_datetime(["2024-04-30"])})
    assert build_features(tiny_tables, cases, CFG)["loan_id"].tolist() == [10]


@pytest.mark.parametrize("name", [f.name for f in FEATURES if f.dtype == "category"])
@pytest.mark.parametrize("kind", ["object", "str", "all_missing"])
@pytest.mark.parametrize("repeat", [1, 20])  # a serving case (look-ups) and a book (factorize)
def test_categorical_codes_match_pandas(name, kind, repeat):
    """Registry categoricals built from codes equal `pd.Categorical(values, dtype)`: unknown labels
    and missing values (None, NaN, arrow nulls) become missing, codes keep pandas' width."""
    from features.build import _categorical

    dtype = FEATURES_BY_NAME[name].pandas_dtype()
    cats = list(dtype.categories)
    values = np.array([*cats[::-1], "not-a-category", None, np.nan, cats[0]] * repeat, dtype=object)
    if kind == "str":
        values = pd.array(values, dtype="str")
    elif kind == "all_missing":
        values = np.full(4 * repeat, np.nan)
    got = _categorical(values, name)
    with warnings.catch_warnings():  # pandas deprecates unknown labels; the old path mapped them to NaN
        warnings.simplefilter("ignore")
        expected = pd.Categorical(np.asarray(values, dtype=object), dtype=dtype)
    pd.testing.assert_extension_array_equal(got, expected)
    assert got.codes.dtype == expected.codes.dtype


@pytest.mark.parametrize("size", [0, 1, 2, 40, 64, 65, 500])
def test_key_positions_match_a_pandas_index(size):
    """The sorted look-up used for small tables answers as `pd.Index` (unique, get_indexer)."""
    from features.build import _positions

    rng = np.random.default_rng(size)
    for _ in range(50):
        keys = rng.integers(0, 2 * size + 1, size).astype(np.int64)
        ids = rng.integers(0, 2 * size + 3, 4).astype(np.int64)
        unique, pos = _positions(keys, ids)
        index = pd.Index(keys)
        assert unique == index.is_unique
        if unique:
            np.testing.assert_array_equal(pos, index.get_indexer(ids))
