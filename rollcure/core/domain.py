"""Collections domain vocabulary and maths, declared once.

Every threshold that decides a bucket, a regulatory tier or a label lives here so that the
simulator, the feature pipeline, the models and the policy cannot disagree about what "M2" or
"substandard" means. All functions are vectorised over numpy arrays / pandas Series.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DAYS_PER_CYCLE = 30

#: Delinquency buckets by days past due at cycle end (DESIGN §1). Upper bounds are inclusive.
BUCKETS: tuple[str, ...] = ("M0", "M1", "M2", "M3", "M4", "M5", "M6", "M7+")
_BUCKET_UPPER_DPD = np.array([0, 30, 60, 90, 120, 150, 180])

#: The five-tier loan classification (五级分类), ordered from best to worst.
TIERS: tuple[str, ...] = ("normal", "special_mention", "substandard", "doubtful", "loss")
#: Default DPD mapping: tier i holds DPD <= bound i (inclusive); anything above the last is "loss".
DEFAULT_TIER_DPD_BOUNDS: tuple[int, ...] = (0, 90, 270, 360)
#: Housing-fund scheme by count of missed instalments: <=2 normal, 3 special mention, 4-6
#: substandard, 7-12 doubtful, more than 12 loss.
DEFAULT_TIER_MISSED_BOUNDS: tuple[int, ...] = (2, 3, 6, 12)

PRODUCTS: tuple[str, ...] = ("card", "consumer", "micro", "mortgage", "housing_fund")
#: Products lent against collateral (their state is valued apart: see rollcure.core.value).
SECURED_PRODUCTS: tuple[str, ...] = ("mortgage", "housing_fund")
EMPLOYMENTS: tuple[str, ...] = ("salaried", "self_employed", "unemployed", "retired")
REGIONS: tuple[str, ...] = ("north", "south", "east", "west", "central")
COLLATERAL_TYPES: tuple[str, ...] = ("none", "property", "vehicle")
#: The collateral type of an unsecured loan (its collateral value is 0).
NO_COLLATERAL = "none"
CHANNELS: tuple[str, ...] = ("sms", "call", "visit", "letter")
PARTIES: tuple[str, ...] = ("debtor", "family", "work", "third")
OUTCOMES: tuple[str, ...] = (
    "no_answer",
    "wrong_number",
    "right_party_contact",
    "promise_to_pay",
    "refused",
    "dispute",
)
#: Contact outcomes that count as reaching the right party.
RIGHT_PARTY_OUTCOMES: tuple[str, ...] = ("right_party_contact", "promise_to_pay", "refused", "dispute")
#: Loan flags that block ordinary collection contact.
FLAGS: tuple[str, ...] = ("disputed", "deceased", "bankrupt", "fraud_suspected")


def bucket_index(dpd: np.ndarray | pd.Series) -> np.ndarray:
    """Bucket position 0..7 (M0..M7+) for days past due."""
    return np.searchsorted(_BUCKET_UPPER_DPD, np.asarray(dpd), side="left").astype(np.int8)


def transition_counts(cycles: pd.DataFrame, until: pd.Timestamp | None = None) -> np.ndarray:
    """Bucket-to-bucket move counts (from x to), one per loan and month-to-month step.

    A loan's next row counts only if it is the next calendar month: a row two months on (a month
    missing from the book) is not one transition, and a loan without a next row (repaid, charged
    off, end of data) has none. ``until`` keeps moves whose from-cycle is on or before it.
    """
    c = cycles[["loan_id", "cycle_date", "dpd"]].sort_values(["loan_id", "cycle_date"], kind="stable")
    by_loan = c.groupby("loan_id", sort=False)
    nxt = by_loan["dpd"].shift(-1)
    next_month = by_loan["cycle_date"].shift(-1).dt.to_period("M")
    ok = (nxt.notna() & (next_month == c["cycle_date"].dt.to_period("M") + 1)).to_numpy()
    if until is not None:
        ok = ok & (c["cycle_date"] <= until).to_numpy()
    k = len(BUCKETS)
    frm = bucket_index(c["dpd"].to_numpy()[ok]).astype(np.int64)
    to = bucket_index(nxt.to_numpy()[ok].astype(np.int64)).astype(np.int64)
    return np.bincount(frm * k + to, minlength=k * k).reshape(k, k)


def bucket_of(dpd: np.ndarray | pd.Series) -> np.ndarray:
    """Bucket label (M0..M7+) for days past due."""
    return np.asarray(BUCKETS, dtype=object)[bucket_index(dpd)]


def tier_by_dpd(dpd: np.ndarray | pd.Series, bounds: tuple[int, ...] = DEFAULT_TIER_DPD_BOUNDS) -> np.ndarray:
    """Five-tier class by days past due (bank scheme)."""
    idx = np.searchsorted(np.asarray(bounds), np.asarray(dpd), side="left")
    return np.asarray(TIERS, dtype=object)[idx]


def tier_by_missed(
    missed: np.ndarray | pd.Series, bounds: tuple[int, ...] = DEFAULT_TIER_MISSED_BOUNDS
) -> np.ndarray:
    """Five-tier class by count of missed instalments (housing-fund scheme)."""
    idx = np.searchsorted(np.asarray(bounds), np.asarray(missed), side="left")
    return np.asarray(TIERS, dtype=object)[idx]


def cycles_in_horizon(horizon_days: int) -> int:
    """Whole monthly cycles an outcome window of ``horizon_days`` covers (at least one).

    Labels (recovered amount) and the simulator's oracle both count the window this way, so the
    model's target and the truth it is judged against cover the same months.
    """
    return max(1, round(horizon_days / DAYS_PER_CYCLE))


def is_roll_forward(dpd_now: np.ndarray | pd.Series, dpd_next: np.ndarray | pd.Series) -> np.ndarray:
    """True where the next cycle's bucket is worse than this cycle's."""
    return bucket_index(dpd_next) > bucket_index(dpd_now)


def is_cure(dpd_next: np.ndarray | pd.Series) -> np.ndarray:
    """True where the case is current (DPD 0) at the next cycle."""
    return np.asarray(dpd_next) == 0


#: Shortest month: instalments fall due at least this many days apart.
MIN_DAYS_BETWEEN_INSTALMENTS = 28


def dpd_matches_missed(dpd: np.ndarray | pd.Series | int, missed: np.ndarray | pd.Series | int) -> np.ndarray:
    """True where days past due can go with the count of missed instalments.

    A loan is past due exactly when an instalment is missed, and with ``m`` missed the oldest fell
    due at least ``m - 1`` instalment periods ago, so ``dpd > (m - 1) * 28``. No upper bound: a
    matured loan keeps ageing without new instalments.
    """
    d, m = np.asarray(dpd, dtype=np.int64), np.asarray(missed, dtype=np.int64)
    return ((d == 0) == (m == 0)) & ((m == 0) | (d > (m - 1) * MIN_DAYS_BETWEEN_INSTALMENTS))
