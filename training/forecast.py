"""Bucket-flow forecast: next cycle's bucket mix and overdue balance from account-level probabilities.

Each overdue case goes to M0 with its cure probability, one bucket worse with its roll-forward
probability, and otherwise stays where it is (partial payments that roll back a bucket are rare and
counted as staying). Summing these account-level probabilities gives the expected bucket counts;
the Markov transition matrix of the training cycles (the classic portfolio forecast) applied to
today's bucket counts gives the reference it must reconcile with.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rollcure.core.domain import BUCKETS, bucket_index, transition_counts


def expected_flow(bucket_now: np.ndarray, p_cure: np.ndarray, p_roll: np.ndarray) -> np.ndarray:
    """Expected count of cases in each next-cycle bucket (length len(BUCKETS))."""
    b = np.asarray(bucket_now, dtype=int)
    p_cure = np.clip(np.asarray(p_cure, dtype=float), 0, 1)
    p_roll = np.clip(np.asarray(p_roll, dtype=float), 0, 1 - p_cure)
    stay = 1 - p_cure - p_roll
    k = len(BUCKETS)
    out = np.bincount(np.zeros(len(b), dtype=int), weights=p_cure, minlength=k)
    out += np.bincount(np.minimum(b + 1, k - 1), weights=p_roll, minlength=k)
    out += np.bincount(b, weights=stay, minlength=k)
    return out


def transition_matrix(cycles: pd.DataFrame, until: pd.Timestamp | None = None) -> np.ndarray:
    """Row-stochastic bucket transition matrix from month-to-month moves (from-cycle dates <= until)."""
    k = len(BUCKETS)
    counts = transition_counts(cycles, until).astype(float)
    rows = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, rows, out=np.eye(k), where=rows > 0)


def bucket_forecast(
    dpd_now: np.ndarray,
    balance: np.ndarray,
    p_cure: np.ndarray,
    p_roll: np.ndarray,
    markov: np.ndarray,
    actual_cure: np.ndarray,
    actual_roll: np.ndarray,
) -> pd.DataFrame:
    """Forecast vs Markov vs simulated actual, per next-cycle bucket, plus overdue balance.

    The overdue balance forecast is the balance of the cases not expected to cure.
    """
    b = bucket_index(dpd_now).astype(int)
    k = len(BUCKETS)
    forecast = expected_flow(b, p_cure, p_roll)
    actual = expected_flow(b, np.asarray(actual_cure, float), np.asarray(actual_roll, float))
    counts_now = np.bincount(b, minlength=k).astype(float)
    markov_next = counts_now @ markov
    table = pd.DataFrame(
        {
            "bucket": list(BUCKETS),
            "now": counts_now,
            "forecast": forecast,
            "markov": markov_next,
            "actual": actual,
        }
    )
    bal = np.asarray(balance, dtype=float)
    overdue = {
        "bucket": "overdue_balance",
        "now": bal.sum(),
        "forecast": (bal * (1 - np.clip(p_cure, 0, 1))).sum(),
        "markov": (bal * (1 - markov[b, 0])).sum(),
        "actual": (bal * (1 - np.asarray(actual_cure, float))).sum(),
    }
    return pd.concat([table, pd.DataFrame([overdue])], ignore_index=True)


def forecast_error(table: pd.DataFrame) -> dict[str, float]:
    """Total absolute bucket-count error of the forecast and of Markov against the actual flow."""
    buckets = table[table["bucket"] != "overdue_balance"]
    return {
        "forecast_abs_error": float((buckets["forecast"] - buckets["actual"]).abs().sum()),
        "markov_abs_error": float((buckets["markov"] - buckets["actual"]).abs().sum()),
    }
