"""Fixtures of the features stage: a tiny hand-built book whose features can be worked out by hand,
and (once the simulator lands) features of the simulated small book, built once per session."""

from __future__ import annotations

import pandas as pd
import pytest

from features.schemas import TABLE_DTYPES
from rollcure.core.domain import bucket_of


def make_tiny_tables() -> dict[str, pd.DataFrame]:
    """Two borrowers, two loans, six month-end cycles; loan 10 goes overdue, loan 20 stays current.

    Loan 10: instalment 100; pays in Jan-Feb, misses Mar and Apr, pays 300 in May (cures), misses Jun.
    """
    dates = pd.to_datetime(
        ["2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30"]
    ).astype("datetime64[ns]")
    borrowers = pd.DataFrame(
        {
            "borrower_id": [1, 2],
            "age": [35, 52],
            "monthly_income": [2000.0, 0.0],
            "employment": pd.array(["salaried", "retired"], dtype="str"),
            "region": pd.array(["north", "south"], dtype="str"),
            "bureau_score": [640, 710],
            "other_debt": [300.0, 50.0],
            "dependants": [2, 0],
            "phone_verified": [True, False],
            "address_verified": [True, True],
        }
    )
    loans = pd.DataFrame(
        {
            "loan_id": [10, 20],
            "borrower_id": [1, 2],
            "product": pd.array(["consumer", "mortgage"], dtype="str"),
            "origination_date": pd.to_datetime(["2023-07-15", "2020-01-10"]).astype("datetime64[ns]"),
            "principal": [2000.0, 100000.0],
            "annual_rate": [0.18, 0.05],
            "term_months": [24, 240],
            "instalment": [100.0, 660.0],
            "collateral_type": pd.array(["none", "property"], dtype="str"),
            "collateral_value": [0.0, 150000.0],
            "has_guarantor": [False, True],
            "disputed": [True, False],
            "deceased": [False, False],
            "bankrupt": [False, False],
            "fraud_suspected": [False, False],
            "flag_date": pd.to_datetime(["2024-05-15", None]).astype("datetime64[ns]"),
        }
    )
    dpd10 = [0, 0, 30, 60, 0, 30]
    paid10 = [100.0, 100.0, 0.0, 0.0, 300.0, 0.0]
    due10 = [100.0, 100.0, 100.0, 200.0, 300.0, 100.0]
    arrears10 = [0.0, 0.0, 100.0, 200.0, 0.0, 100.0]
    cycles = pd.DataFrame(
        {
            "loan_id": [10] * 6 + [20] * 6,
            "cycle_date": list(dates) * 2,
            "due_amount": due10 + [660.0] * 6,
            "paid_amount": paid10 + [660.0] * 6,
            "balance": [1900.0, 1800.0, 1800.0, 1800.0, 1500.0, 1500.0]
            + [90000.0 - 500 * i for i in range(6)],
            "arrears": arrears10 + [0.0] * 6,
            "dpd": dpd10 + [0] * 6,
            "missed_instalments": [0, 0, 1, 2, 0, 1] + [0] * 6,
        }
    )
    cycles["cycle_date"] = cycles["cycle_date"].astype("datetime64[ns]")
    cycles["bucket"] = pd.array(bucket_of(cycles["dpd"]), dtype="str")
    cycles = cycles[list(TABLE_DTYPES["cycles"])]
    ts = pd.to_datetime(
        ["2024-03-05 10:00", "2024-03-20 11:00", "2024-04-10 09:30", "2024-04-28 16:00", "2024-06-25 12:00"]
    ).astype("datetime64[ns]")
    contacts = pd.DataFrame(
        {
            "loan_id": [10] * 5,
            "ts": ts,
            "channel": pd.array(["sms", "call", "call", "call", "call"], dtype="str"),
            "party": pd.array(["debtor", "debtor", "family", "debtor", "debtor"], dtype="str"),
            "outcome": pd.array(
                ["no_answer", "promise_to_pay", "no_answer", "promise_to_pay", "refused"], dtype="str"
            ),
            "ptp_amount": [float("nan"), 100.0, float("nan"), 300.0, float("nan")],
            "ptp_date": pd.to_datetime([None, "2024-03-28", None, "2024-05-10", None]).astype(
                "datetime64[ns]"
            ),
        }
    )
    actions = pd.DataFrame(
        {
            "loan_id": [10, 10, 10, 10],
            "decided_at": pd.to_datetime(["2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30"]).astype(
                "datetime64[ns]"
            ),
            "action": pd.array(["reminder", "restructuring", "none", "field_visit"], dtype="str"),
            "cost": [1.0, 20.0, 0.0, 40.0],
            "propensity": [0.6, 0.2, 0.3, 0.4],
        }
    )
    return {
        "borrowers": borrowers,
        "loans": loans,
        "cycles": cycles,
        "contacts": contacts,
        "actions": actions,
    }


@pytest.fixture()
def tiny_tables() -> dict[str, pd.DataFrame]:
    """A fresh copy of the hand-built book for each test (tests may mutate it)."""
    return make_tiny_tables()


@pytest.fixture(scope="session")
def sim_small_cases(sim_small) -> pd.DataFrame:
    """Every overdue case of the small simulated book."""
    from features.cases import overdue_cases

    return overdue_cases(sim_small.tables["cycles"])


@pytest.fixture(scope="session")
def sim_small_features(sim_small, sim_small_cases) -> pd.DataFrame:
    """Features of every overdue case of the small simulated book, built once per session."""
    from features.build import build_features
    from rollcure.config.features import FeatureConfig

    return build_features(sim_small.tables, sim_small_cases, FeatureConfig())
