"""Contact features: what collectors tried and heard in (as_of - window, as_of].

A promise to pay is resolved by the first cycle row on or after its date (and after the contact):
kept when that cycle's payment covers the promised share, broken otherwise. It counts as resolved
only when that cycle row is stamped at or before as_of, so a case never learns how a promise ends
before the book does.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features._events import (
    CENT,
    DAY_S,
    EventIndex,
    Labels,
    column_numpy,
    last_where,
    to_seconds,
    window_counts,
)
from features._repayment import CycleBook
from features.registry import CONTACT_WINDOW_DAYS, features_in
from rollcure.core.arrays import NO_VALUE, expand_windows
from rollcure.core.domain import OUTCOMES, RIGHT_PARTY_OUTCOMES

CONTACT_FEATURES = [f.name for f in features_in("contact")]


def missing_contact_features(n: int) -> dict[str, np.ndarray]:
    """All-NaN contact features, for books that keep no contact history."""
    return {name: np.full(n, np.nan) for name in CONTACT_FEATURES}


def _promise_resolution(
    loan: np.ndarray, ts: np.ndarray, ptp_date: np.ndarray, amount: np.ndarray, book: CycleBook, share: float
) -> tuple[np.ndarray, np.ndarray]:
    """(resolution time in seconds, kept) per promise; unresolvable promises resolve at +inf."""
    due = np.maximum(to_seconds(ptp_date), ts)
    p = book.index.position(loan, due, side="left")
    end = book.index.position(loan, np.full(loan.size, np.iinfo(np.int64).max // 2), side="right")
    found = p < end
    p = np.where(found, p, 0)
    res_t = np.where(found, book.t[p] if book.t.size else 0, np.iinfo(np.int64).max)
    kept = found & (book.paid[p] >= share * np.nan_to_num(amount) - CENT if book.t.size else False)
    return res_t, kept


def contact_features(
    contacts: pd.DataFrame,
    book: CycleBook,
    loan_id: np.ndarray,
    as_of_s: np.ndarray,
    t_min: int,
    t_max: int,
    ptp_kept_share: float,
) -> dict[str, np.ndarray]:
    """Contact features for the cases (loan_id, as_of_s). Each column is read from the frame once:
    for one serving case, column access costs more than the arithmetic."""
    loan = column_numpy(contacts, "loan_id")
    ts_raw = column_numpy(contacts, "ts")
    ts = to_seconds(ts_raw)
    idx = EventIndex.build(loan, ts, t_min, t_max)
    o = idx.order
    channel = Labels.of(contacts, "channel").take(o)
    party = Labels.of(contacts, "party").take(o)
    outcome_raw = Labels.of(contacts, "outcome")
    outcome = outcome_raw.take(o)
    t = ts[o]

    days = (7, 30, CONTACT_WINDOW_DAYS)
    hi, *lows = idx.positions(loan_id, [as_of_s, *(as_of_s - d * DAY_S for d in days)], "right")
    lo = dict(zip(days, lows, strict=True))
    lo90 = lo[CONTACT_WINDOW_DAYS]
    is_outcome = {o: outcome.equals(o) for o in OUTCOMES}  # each compared once (np.isin costs ~10 us)
    rpc = np.logical_or.reduce([is_outcome[o] for o in RIGHT_PARTY_OUTCOMES])

    d90 = CONTACT_WINDOW_DAYS
    counted = {  # feature -> (events counted, window days), counted together in one pass
        "call_attempts_7d": (channel.equals("call"), 7),
        "rpc_7d": (rpc, 7),
        "rpc_30d": (rpc, 30),
        "rpc_90d": (rpc, d90),
        "disputes_90d": (is_outcome["dispute"], d90),
        "refusals_90d": (is_outcome["refused"], d90),
        "wrong_numbers_90d": (is_outcome["wrong_number"], d90),
        "no_answers_30d": (is_outcome["no_answer"], 30),
        "visits_90d": (channel.equals("visit"), d90),
        "letters_90d": (channel.equals("letter"), d90),
        "sms_30d": (channel.equals("sms"), 30),
        "third_party_contacts_30d": (~party.equals("debtor"), 30),
    }
    masks, days = zip(*counted.values(), strict=True)
    counts = dict(
        zip(counted, window_counts(list(masks), [lo[d] for d in days], hi).astype(np.float64), strict=True)
    )
    attempts90 = (hi - lo90).astype(np.float64)
    rpc90 = counts.pop("rpc_90d")
    out: dict[str, np.ndarray] = {
        "contact_attempts_7d": (hi - lo[7]).astype(np.float64),
        "contact_attempts_30d": (hi - lo[30]).astype(np.float64),
        "contact_attempts_90d": attempts90,
        "rpc_rate_90d": np.where(attempts90 > 0, rpc90 / np.maximum(attempts90, 1), np.nan),
        **counts,
    }
    last = np.where(hi > lo90, hi - 1, -1)
    has_last = last >= 0
    safe = np.where(has_last, last, 0)
    out["last_contact_outcome"] = np.where(has_last, outcome.values(safe) if t.size else NO_VALUE, NO_VALUE)
    out["last_contact_channel"] = np.where(has_last, channel.values(safe) if t.size else NO_VALUE, NO_VALUE)
    out["days_since_last_contact"] = np.where(
        has_last, (as_of_s - (t[safe] if t.size else 0)) / DAY_S, np.nan
    )
    last_rpc = last_where(rpc, lo90, hi)
    out["days_since_last_rpc"] = np.where(
        last_rpc >= 0, (as_of_s - (t[np.maximum(last_rpc, 0)] if t.size else 0)) / DAY_S, np.nan
    )
    ptp_date = column_numpy(contacts, "ptp_date")
    promise = outcome_raw.equals("promise_to_pay") & pd.notna(ptp_date)
    rows = np.flatnonzero(promise)
    promises = {
        "loan": loan[rows],
        "ts_raw": ts_raw[rows],
        "ptp_date": ptp_date[rows],
        "amount": column_numpy(contacts, "ptp_amount", np.float64)[rows],
    }
    out.update(_promise_features(promises, book, loan_id, as_of_s, t_min, t_max, ptp_kept_share))
    return out


def _promise_features(promises, book, loan_id, as_of_s, t_min, t_max, share) -> dict[str, np.ndarray]:
    """Promises made in the window: kept, broken (resolved by as_of) and still open. Without any
    promise (most single serving cases) the counts are zero outright: indexing and resolving no
    promises costs more than the rest of the contact features."""
    n = loan_id.size
    if not promises["loan"].size:
        zero = np.zeros(n)
        return {
            "ptp_made_90d": zero,
            "ptp_kept_90d": zero.copy(),
            "ptp_broken_90d": zero.copy(),
            "ptp_kept_ratio_90d": np.full(n, np.nan),
            "open_ptp": zero.copy(),
            "open_ptp_amount": zero.copy(),
        }
    loan = promises["loan"].astype(np.int64)
    ts = to_seconds(promises["ts_raw"])
    res_t, kept = _promise_resolution(loan, ts, promises["ptp_date"], promises["amount"], book, share)
    idx = EventIndex.build(loan, ts, t_min, t_max)
    o = idx.order
    res_t, kept = res_t[o], kept[o]
    ptp_t = to_seconds(promises["ptp_date"], ceil=False)[o]
    amount = np.nan_to_num(promises["amount"])[o]
    hi, lo = idx.positions(loan_id, [as_of_s, as_of_s - CONTACT_WINDOW_DAYS * DAY_S], "right")
    case, ev = expand_windows(lo, hi)
    resolved = res_t[ev] <= as_of_s[case]
    is_open = ~resolved & (ptp_t[ev] >= as_of_s[case])
    n_kept = np.bincount(case, weights=resolved & kept[ev], minlength=n)
    n_broken = np.bincount(case, weights=resolved & ~kept[ev], minlength=n)
    n_res = n_kept + n_broken
    return {
        "ptp_made_90d": (hi - lo).astype(np.float64),
        "ptp_kept_90d": n_kept,
        "ptp_broken_90d": n_broken,
        "ptp_kept_ratio_90d": np.where(n_res > 0, n_kept / np.maximum(n_res, 1), np.nan),
        "open_ptp": (np.bincount(case, weights=is_open, minlength=n) > 0).astype(np.float64),
        "open_ptp_amount": np.bincount(case, weights=np.where(is_open, amount[ev], 0.0), minlength=n),
    }
