"""Segmentation of the overdue book for strategists: who is behind, how much, and what we would do.

Two views, both from the package's own features, scores and decisions (no second copy of logic):

* ability x willingness (还款能力 / 还款意愿): the practitioners' four quadrants. Ability proxy =
  income headroom over the instalment ((income - other debt) / instalment); willingness proxy =
  mean of the repayment and promise-keeping record (paid / due over 6 cycles, kept promises share,
  right-party contact rate). Each proxy is split at the book's median, so the quadrants are
  relative to this book, as strategists read them.
* risk x balance: roll-forward probability bands (fixed cut-offs below) x balance terciles.

Per segment: cases, balance, expected loss (balance x roll-forward probability: the exposure
expected to move a bucket worse), mean cure and roll probabilities, the recommended action mix and
the expected recovery of the recommended actions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.bundle import Bundle
from rollcure.core.catalogue import ACTIONS

#: Roll-forward probability cut-offs of the risk bands (low < 0.3 <= mid < 0.6 <= high).
RISK_CUTS: tuple[float, ...] = (0.3, 0.6)
RISK_BANDS: tuple[str, ...] = ("low", "mid", "high")
BALANCE_BANDS: tuple[str, ...] = ("small", "medium", "large")
QUADRANTS: tuple[str, ...] = ("able_willing", "unable_willing", "able_unwilling", "unable_unwilling")
MIX_ACTIONS: tuple[str, ...] = (*ACTIONS, "manual_review")


def _col(X: pd.DataFrame, name: str) -> np.ndarray:
    if name not in X.columns:
        return np.full(len(X), np.nan)
    return pd.to_numeric(X[name], errors="coerce").to_numpy(dtype=float)


def ability_proxy(X: pd.DataFrame) -> np.ndarray:
    """(income - other debt) / instalment; NaN where income is unknown."""
    headroom = _col(X, "monthly_income") - np.nan_to_num(_col(X, "other_debt"))
    return headroom / np.where(_col(X, "instalment") > 0, _col(X, "instalment"), np.nan)


def willingness_proxy(X: pd.DataFrame) -> np.ndarray:
    """Mean of paid/due (6 cycles, capped at 1), kept-promise share and right-party contact rate."""
    parts = np.column_stack(
        [np.clip(_col(X, "paid_to_due_6"), 0, 1), _col(X, "ptp_kept_ratio_90d"), _col(X, "rpc_rate_90d")]
    )
    known = ~np.isnan(parts)
    total = np.where(known, parts, 0).sum(axis=1)
    return np.divide(total, known.sum(axis=1), out=np.full(len(X), np.nan), where=known.any(axis=1))


def _above_median(x: np.ndarray) -> np.ndarray:
    """True above the median of the known values; unknown values count as below (conservative)."""
    med = np.nanmedian(x) if np.isfinite(x).any() else 0.0
    return np.nan_to_num(x, nan=-np.inf) > med


def assign_segments(X: pd.DataFrame, p_roll: np.ndarray) -> pd.DataFrame:
    """Quadrant, risk band and balance band per case (row-aligned with ``X``)."""
    able = _above_median(ability_proxy(X))
    willing = _above_median(willingness_proxy(X))
    quadrant = np.where(
        able & willing,
        QUADRANTS[0],
        np.where(willing, QUADRANTS[1], np.where(able, QUADRANTS[2], QUADRANTS[3])),
    )
    risk = np.asarray(RISK_BANDS, dtype=object)[np.searchsorted(RISK_CUTS, p_roll, side="right")]
    balance = X["balance"].to_numpy(dtype=float)
    cuts = np.nanquantile(balance, [1 / 3, 2 / 3]) if len(balance) else np.zeros(2)
    bal_band = np.asarray(BALANCE_BANDS, dtype=object)[np.searchsorted(cuts, balance, side="right")]
    return pd.DataFrame(
        {
            "quadrant": pd.Categorical(quadrant, categories=list(QUADRANTS)),
            "risk_band": pd.Categorical(risk, categories=list(RISK_BANDS)),
            "balance_band": pd.Categorical(bal_band, categories=list(BALANCE_BANDS)),
        }
    )


def segment_table(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Aggregate per segment. ``frame``: balance, p_roll_forward, p_cure, action, expected_recovery."""
    f = frame.assign(expected_loss=frame["balance"] * frame["p_roll_forward"])
    for a in MIX_ACTIONS:
        f[f"mix_{a}"] = (f["action"] == a).astype(float)
    agg = {
        "cases": ("balance", "size"),
        "balance": ("balance", "sum"),
        "expected_loss": ("expected_loss", "sum"),
        "p_cure": ("p_cure", "mean"),
        "p_roll_forward": ("p_roll_forward", "mean"),
        "expected_recovery": ("expected_recovery", "sum"),
        **{f"mix_{a}": (f"mix_{a}", "mean") for a in MIX_ACTIONS},
    }
    out = f.groupby(by, observed=False, sort=True).agg(**agg).reset_index()
    out["cases"] = out["cases"].fillna(0).astype(int)
    return out


def segment_book(bundle: Bundle, X: pd.DataFrame, decisions: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Both views of the book from the features and ``models.policy.decide`` output (row-aligned)."""
    X = X.reset_index(drop=True)
    d = decisions.reset_index(drop=True)
    idx = pd.Categorical(d["action"].replace({"manual_review": "none"}), categories=list(ACTIONS)).codes
    recovery = d[[f"recovery_{a}" for a in ACTIONS]].to_numpy()[np.arange(len(d)), idx]
    seg = assign_segments(X, d["score_p_roll_forward"].to_numpy())  # the book's risk, not the action's
    frame = pd.concat(
        [
            seg,
            pd.DataFrame(
                {
                    "balance": X["balance"].to_numpy(dtype=float),
                    "p_roll_forward": d["p_roll_forward"].to_numpy(),
                    "p_cure": d["p_cure"].to_numpy(),
                    "action": d["action"].to_numpy(),
                    "expected_recovery": recovery,
                }
            ),
        ],
        axis=1,
    )
    return {
        "ability_willingness": segment_table(frame, ["quadrant"]),
        "risk_balance": segment_table(frame, ["risk_band", "balance_band"]),
        "cases": pd.concat([X[["loan_id", "as_of"]], frame], axis=1),
    }
