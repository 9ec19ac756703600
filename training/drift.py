"""Population stability (PSI) of each feature and score between training and OOT cases.

PSI = Σ (a − e) · ln(a / e) over bins, e the training share and a the OOT share. Numeric bins are
training deciles (plus one bin for missing values); categories and booleans are their own bins.
Rule of thumb used in the report: < 0.1 stable, 0.1–0.25 watch, > 0.25 shifted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

_EPS = 1e-4
_BINS = 10
PSI_WATCH = 0.1
PSI_SHIFT = 0.25


def bin_codes(expected: pd.Series, actual: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Bin of each value of both populations (bins from ``expected``) and the number of bins;
    monitoring's characteristic analysis reuses the PSI's bins."""
    if (
        isinstance(expected.dtype, pd.CategoricalDtype)
        or expected.dtype == bool
        or pd.api.types.is_string_dtype(expected)
    ):
        cats = pd.Index(pd.unique(pd.concat([expected, actual]).astype(str)))
        return cats.get_indexer(expected.astype(str)), cats.get_indexer(actual.astype(str)), len(cats)
    e = expected.astype(float).to_numpy()
    a = actual.astype(float).to_numpy()
    quantiles = np.linspace(0, 1, _BINS + 1)[1:-1]
    edges = np.unique(np.nanquantile(e, quantiles)) if np.isfinite(e).any() else np.array([])
    n = len(edges) + 2  # value bins plus one for missing

    def codes(x: np.ndarray) -> np.ndarray:
        return np.where(np.isnan(x), n - 1, np.searchsorted(edges, x, side="right"))

    return codes(e), codes(a), n


def psi_of_codes(expected_codes: np.ndarray, actual_codes: np.ndarray, n: int) -> float:
    """PSI from the bins of both populations (:func:`bin_codes`), so a caller comparing many
    populations with one reference bins the reference once."""
    pe = np.bincount(expected_codes, minlength=n) / max(len(expected_codes), 1) + _EPS
    pa = np.bincount(actual_codes, minlength=n) / max(len(actual_codes), 1) + _EPS
    return float(np.sum((pa - pe) * np.log(pa / pe)))


def psi(expected: pd.Series, actual: pd.Series) -> float:
    """PSI of one variable; 0 when both populations fall into the bins alike."""
    ce, ca, n = bin_codes(
        pd.Series(expected).reset_index(drop=True), pd.Series(actual).reset_index(drop=True)
    )
    return psi_of_codes(ce, ca, n)


def verdict(values: pd.Series | np.ndarray) -> np.ndarray:
    """Stable / watch / shifted per PSI value (the report's lines)."""
    v = np.asarray(values, dtype=float)
    return np.select([v > PSI_SHIFT, v > PSI_WATCH], ["shifted", "watch"], default="stable")


def psi_table(expected: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    """PSI per column (shared columns), largest first, with a stable / watch / shifted verdict."""
    rows = [
        {"variable": c, "psi": psi(expected[c], actual[c])} for c in expected.columns if c in actual.columns
    ]
    table = pd.DataFrame(rows).sort_values("psi", ascending=False, kind="stable").reset_index(drop=True)
    table["verdict"] = verdict(table["psi"])
    return table
