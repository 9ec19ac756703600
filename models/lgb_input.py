"""The matrix LightGBM reads, built once per call instead of by LightGBM's per-call pandas path.

LightGBM converts a DataFrame on every ``predict`` (category remapping, dtype checks); for the small
frames a service sees per request that conversion, not the trees, dominates. Category codes are
only valid here because every categorical column already carries the categories the booster was
trained with (the registry's fixed vocabularies; classifiers re-encode to them first).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def as_lgb_matrix(X: pd.DataFrame) -> np.ndarray:
    """Float matrix in column order: category codes (NaN when missing), numbers as floats."""
    is_cat = np.array([isinstance(t, pd.CategoricalDtype) for t in X.dtypes], dtype=bool)
    out = np.empty((len(X), X.shape[1]), dtype=float)
    if (~is_cat).any():  # one conversion for all numeric and boolean columns
        out[:, ~is_cat] = X.loc[:, ~is_cat].to_numpy(dtype=float, na_value=np.nan)
    for j in np.flatnonzero(is_cat):
        codes = X.iloc[:, j].cat.codes.to_numpy()
        out[:, j] = np.where(codes < 0, np.nan, codes)
    return out
