"""Recovery factors from a lender's own records: the value state of every cycle row and its moves.

What ``rollcure.core.value`` needs from the raw tables (cycles, loans, actions), never from a
simulator's truth: each cycle row's state (bucket × restructured × secured, or closed / charged
off), the monthly transition counts between consecutive rows of a loan, and the loss given
charge-off. Kept apart from the definition so that the definition stays pure arithmetic and this
module the only one that reads tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rollcure.core.domain import SECURED_PRODUCTS, bucket_index
from rollcure.core.value import (
    CHARGED_OFF,
    CLOSED,
    N_STATES,
    N_TRANSIENT,
    Valuation,
    ValueConfig,
    recovery_factors,
    state_code,
)


def month_index(dates: pd.Series | np.ndarray | list) -> np.ndarray:
    """Calendar month of each date as one integer (year × 12 + month): consecutive cycles differ by 1."""
    d = pd.DatetimeIndex(pd.to_datetime(dates))
    return (d.year * 12 + d.month).to_numpy(dtype=np.int64)


def observed_states(
    cycles: pd.DataFrame, loans: pd.DataFrame, actions: pd.DataFrame | None, cfg: ValueConfig
) -> pd.DataFrame:
    """The value state of every cycle row, from what a lender records (raw tables only).

    Returns the cycle rows sorted by loan and date with ``month`` (a month index), ``balance`` and
    ``state`` (a code of :func:`state_code`, or CLOSED / CHARGED_OFF). A row with no balance left is
    the loan's closure; the last row of a loan that leaves the book before the book ends with a
    balance is its charge-off. Restructured: a restructuring was decided within the
    ``restructured_window`` cycles before the row (it takes effect the cycle after the decision).
    """
    c = cycles[["loan_id", "cycle_date", "balance", "dpd"]].sort_values(["loan_id", "cycle_date"])
    c = c.reset_index(drop=True)
    month = month_index(c["cycle_date"])
    loan = c["loan_id"].to_numpy()
    secured_ids = loans.loc[loans["product"].isin(SECURED_PRODUCTS), "loan_id"].to_numpy()
    secured = np.isin(loan, secured_ids)
    restructured = np.zeros(len(c), dtype=bool)
    if actions is not None and len(actions):
        r = actions.loc[actions["action"].astype(str) == "restructuring", ["loan_id", "decided_at"]]
        if len(r):
            last = pd.merge_asof(
                pd.DataFrame({"month": month, "loan_id": loan, "row": np.arange(len(c))}).sort_values(
                    "month"
                ),
                pd.DataFrame({"month": month_index(r["decided_at"]), "loan_id": r["loan_id"].to_numpy()})
                .assign(decided=lambda f: f["month"])
                .sort_values("month"),
                on="month",
                by="loan_id",
                allow_exact_matches=False,
            ).sort_values("row")
            ago = month - last["decided"].to_numpy(dtype=float)
            restructured = np.nan_to_num(ago, nan=np.inf) <= cfg.restructured_window
    balance = c["balance"].to_numpy(dtype=float)
    state = state_code(bucket_index(c["dpd"].to_numpy()), restructured, secured)
    is_last = np.r_[loan[1:] != loan[:-1], True]
    book_end = month.max(initial=0)
    state = np.where(balance <= 0, CLOSED, state)
    state = np.where(is_last & (balance > 0) & (month < book_end), CHARGED_OFF, state)
    return pd.DataFrame(
        {"loan_id": loan, "month": month, "balance": balance, "secured": secured, "state": state}
    )


def transition_counts(states: pd.DataFrame, until_month: int | None = None) -> np.ndarray:
    """Monthly transition counts (N_STATES × N_STATES) between consecutive rows of each loan.

    ``until_month``: only transitions that end at or before that month index (no peeking past a
    training cut-off). Absorbing rows start no transition.
    """
    loan, month, s = (states[k].to_numpy() for k in ("loan_id", "month", "state"))
    step = (loan[1:] == loan[:-1]) & (month[1:] == month[:-1] + 1) & (s[:-1] < N_TRANSIENT)
    if until_month is not None:
        step &= month[1:] <= until_month
    counts = np.zeros((N_STATES, N_STATES))
    np.add.at(counts, (s[:-1][step], s[1:][step]), 1.0)
    return counts


def loss_given_chargeoff(states: pd.DataFrame, until_month: int | None = None) -> np.ndarray:
    """Written-off balance over the balance one cycle before the charge-off, per secured flag
    (unsecured, secured); 1 where the book has no charge-off of that kind yet (assume the worst)."""
    loan, month, s, bal = (states[k].to_numpy() for k in ("loan_id", "month", "state", "balance"))
    secured = states["secured"].to_numpy(dtype=bool)
    off = np.r_[False, (s[1:] == CHARGED_OFF) & (loan[1:] == loan[:-1])]
    if until_month is not None:
        off &= month <= until_month
    before = np.r_[0.0, bal[:-1]]
    out = np.ones(2)
    for k in (0, 1):
        rows = off & (secured == bool(k))
        if rows.any() and before[rows].sum() > 0:
            out[k] = float(np.clip(bal[rows].sum() / before[rows].sum(), 0.0, 1.0))
    return out


def estimate_valuation(
    cycles: pd.DataFrame,
    loans: pd.DataFrame,
    actions: pd.DataFrame | None,
    cfg: ValueConfig,
    until: pd.Timestamp | None = None,
) -> Valuation:
    """Recovery factors from the book's own history (up to ``until``), with the value config."""
    states = observed_states(cycles, loans, actions, cfg)
    until_month = None if until is None else int(month_index([until])[0])
    lgd = (
        loss_given_chargeoff(states, until_month)
        if cfg.loss_given_chargeoff is None
        else np.full(2, cfg.loss_given_chargeoff)
    )
    return Valuation(cfg, recovery_factors(transition_counts(states, until_month), lgd, cfg.chargeoff_window))
