"""The matrix LightGBM reads, built once per call instead of by LightGBM's per-call pandas path.

LightGBM converts a DataFrame on every ``predict`` (category remapping, dtype checks); for the small
frames a service sees per request that conversion, not the trees, dominates. So does pandas itself:
selecting 97 columns copies the frame (~1 ms) and reading them one ``Series`` at a time costs ~10 µs
each. This module therefore reads each wanted column's array through `rollcure.core.pandas_compat`
(straight from the frame's blocks where that is allowed) and writes it into one float matrix: plain
numpy columns in one stacked cast, categoricals as codes, nullable extension arrays with their mask
as NaN. Category codes are only valid because every categorical column carries the categories the
booster was trained with (the registry's fixed vocabularies); columns that do not are re-encoded to
``categories`` first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from rollcure.core.errors import InputError
from rollcure.core.pandas_compat import column_arrays as compat_column_arrays
from rollcure.core.pandas_compat import copy_numeric_columns


def _positions(have: pd.Index, want: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Position in ``have`` of each wanted column (-1 when missing) and the missing names.

    Computed on every call (~70-95 µs): a cache per column index bought ~3.5% of a single-case
    request, under the bar a cache must clear (docs/experiments.md, "pandas fast paths")."""
    where = {name: i for i, name in enumerate(have.tolist())}
    missing = tuple(name for name in want if name not in where)
    return np.array([where.get(name, -1) for name in want], dtype=np.int64), missing


def column_positions(X: pd.DataFrame, columns: Sequence[str], what: str = "features") -> np.ndarray:
    """Positions of ``columns`` in ``X``; an input error naming the first missing ones."""
    positions, missing = _positions(X.columns, tuple(columns))
    if missing:
        raise InputError(f"{what}: missing column(s) {list(missing[:5])}")
    return positions


def _same_categories(dtype: pd.CategoricalDtype, categories: list) -> bool:
    """Exact comparison of categories and their order (dtype equality is not used: unordered
    dtypes compare equal whatever the order of their categories, and codes depend on it)."""
    return dtype.categories.tolist() == list(categories)


def column_arrays(X: pd.DataFrame, columns: Sequence[str]) -> list:
    """The array behind each named column (numpy or pandas extension array), no Series built."""
    return compat_column_arrays(X, column_positions(X, columns))


def column_values(X: pd.DataFrame, columns: Sequence[str]) -> list[np.ndarray]:
    """What ``X[c].to_numpy()`` gives for each named column (read-only, as pandas' copy-on-write
    returns it), read from the frame's blocks: building a Series per column costs 10-80 µs in
    pandas 3, more than the arithmetic on a single case that reads it."""
    out = []
    for a in column_arrays(X, columns):
        if isinstance(a, np.ndarray) or isinstance(a.dtype, np.dtype):  # datetime blocks hold pandas arrays
            a = np.asarray(a).view()
            a.flags.writeable = False
        else:
            a = a.to_numpy()
        out.append(a)
    return out


def _codes(values: object, categories: list | None) -> np.ndarray:
    """Integer category codes (-1 when missing), re-encoded to ``categories`` when they differ."""
    if isinstance(values, pd.Categorical) and (
        categories is None or _same_categories(values.dtype, categories)
    ):
        return values.codes
    s = pd.Series(values).astype(object)
    return pd.Categorical(s.where(s.notna(), None), categories=categories).codes


def _floats(values: object) -> np.ndarray:
    """Any other column (nullable numbers and booleans, objects) as floats, missing as NaN."""
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return values.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(values, dtype=float)


def _stacked(columns: list[np.ndarray], n: int) -> np.ndarray:
    """Equal-length 1-d arrays as an (n, k) float matrix in one cast (``np.column_stack`` converts
    each array to 2-d first, which dominates on one row)."""
    return np.concatenate(columns, dtype=float).reshape(len(columns), n).T


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
    names = X.columns.tolist() if columns is None else list(columns)
    cats = categories or {}
    positions = column_positions(X, names)
    n = len(X)
    out = np.empty((n, len(names)), dtype=float)
    skip = np.fromiter((name in cats for name in names), dtype=bool, count=len(names))  # coded below
    rest = np.flatnonzero(~copy_numeric_columns(X, positions, skip, out))
    if not len(rest):
        return out
    arrays = dict(zip(rest.tolist(), compat_column_arrays(X, positions[rest]), strict=True))
    plain, coded, other = [], [], []
    for j in arrays:
        name, a = names[j], arrays[j]
        if name in cats or isinstance(a, pd.Categorical):
            coded.append(j)
        elif isinstance(a, np.ndarray) and a.dtype.kind in "fiub":
            plain.append(j)
        else:
            other.append(j)
    if plain:
        out[:, plain] = _stacked([arrays[j] for j in plain], n)
    if coded:
        codes = _stacked([_codes(arrays[j], cats.get(names[j])) for j in coded], n)
        out[:, coded] = np.where(codes < 0, np.nan, codes)
    for j in other:
        out[:, j] = _floats(arrays[j])
    return out
