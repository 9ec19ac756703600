"""The matrix LightGBM reads, built once per call instead of by LightGBM's per-call pandas path.

LightGBM converts a DataFrame on every ``predict`` (category remapping, dtype checks); for the small
frames a service sees per request that conversion, not the trees, dominates. So does pandas itself:
selecting 97 columns copies the frame (~1 ms) and reading them one ``Series`` at a time costs ~10 µs
each. This module therefore reads each wanted column's array straight from the frame's blocks and
writes it into one float matrix: plain numpy columns in one stacked cast, categoricals as codes,
nullable extension arrays with their mask as NaN. Category codes are only valid because every
categorical column carries the categories the booster was trained with (the registry's fixed
vocabularies); columns that do not are re-encoded to ``categories`` first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from rollcure.errors import InputError


@lru_cache(maxsize=256)
def _positions(have: tuple[str, ...], want: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Position in ``have`` of each wanted column (cached: a service sees the same columns every call)."""
    where = {name: i for i, name in enumerate(have)}
    missing = tuple(name for name in want if name not in where)
    return np.array([where.get(name, -1) for name in want], dtype=np.int64), missing


def column_positions(X: pd.DataFrame, columns: Sequence[str], what: str = "features") -> np.ndarray:
    """Positions of ``columns`` in ``X``; an input error naming the first missing ones."""
    positions, missing = _positions(tuple(X.columns), tuple(columns))
    if missing:
        raise InputError(f"{what}: missing column(s) {list(missing[:5])}")
    return positions


def _column_arrays(X: pd.DataFrame, positions: np.ndarray) -> list:
    """The 1-d array behind each column position, without building a Series per column.

    Reads pandas' block manager (``blknos``/``blklocs`` map a column to its block and row); falls
    back to the public per-column path when a pandas version lays frames out differently.
    """
    mgr = getattr(X, "_mgr", None)
    if not all(hasattr(mgr, a) for a in ("blknos", "blklocs", "blocks")):
        return [X.iloc[:, p].array for p in positions]
    blocks, blknos, blklocs = mgr.blocks, mgr.blknos, mgr.blklocs
    out = []
    for p in positions.tolist():
        values = blocks[blknos[p]].values
        out.append(values[blklocs[p]] if values.ndim == 2 else values)
    return out


def column_arrays(X: pd.DataFrame, columns: Sequence[str]) -> list:
    """The array behind each named column (numpy or pandas extension array), no Series built."""
    return _column_arrays(X, column_positions(X, columns))


def _codes(values: object, categories: list | None) -> np.ndarray:
    """Category codes as floats (NaN when missing), re-encoded to ``categories`` when they differ."""
    if not isinstance(values, pd.Categorical) or (
        categories is not None and list(values.categories) != categories
    ):
        s = pd.Series(values).astype(object)
        values = pd.Categorical(s.where(s.notna(), None), categories=categories)
    codes = values.codes
    return np.where(codes < 0, np.nan, codes)


def _floats(values: object) -> np.ndarray:
    """Any other column (nullable numbers and booleans, objects) as floats, missing as NaN."""
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return values.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(values, dtype=float)


def as_lgb_matrix(
    X: pd.DataFrame,
    columns: Sequence[str] | None = None,
    categories: Mapping[str, list] | None = None,
) -> np.ndarray:
    """Float matrix of ``columns`` (default: all, in order): category codes (NaN when missing),
    numbers and booleans as floats.

    ``categories`` names the columns LightGBM treats as categorical, with the categories it was
    trained on; without it, a column is categorical when its dtype is.
    """
    names = list(X.columns) if columns is None else list(columns)
    cats = categories or {}
    arrays = _column_arrays(X, column_positions(X, names))
    out = np.empty((len(X), len(names)), dtype=float)
    plain = [
        j
        for j, a in enumerate(arrays)
        if isinstance(a, np.ndarray) and a.dtype.kind in "fiub" and names[j] not in cats
    ]
    if plain:  # one cast for all numpy-backed numbers and booleans
        out[:, plain] = np.vstack([arrays[j] for j in plain]).T
    for j in sorted(set(range(len(names))) - set(plain)):
        a = arrays[j]
        if names[j] in cats or isinstance(a, pd.Categorical):
            out[:, j] = _codes(a, cats.get(names[j]))
        else:
            out[:, j] = _floats(a)
    return out
