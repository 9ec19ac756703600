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

import functools
import weakref
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from rollcure.core.errors import InputError
from rollcure.core.pandas_compat import column_arrays as compat_column_arrays
from rollcure.core.pandas_compat import copy_numeric_columns


class _PerObject:
    """Results derived from immutable objects (column indexes, categorical dtypes), remembered
    while each object lives and dropped when it dies.

    An ``id()`` alone is no key: once its object is collected the id is reused, and a new object
    would read the old object's entry. Here each entry holds a weak reference to its object and a
    hit needs that reference to still be the object asked about; the reference's callback removes
    the entry, so the cache neither keeps frames alive nor grows with every request.
    """

    def __init__(self) -> None:
        self._entries: dict[int, tuple[weakref.ref, dict]] = {}

    def of(self, obj: object) -> dict:
        """The memo dict of ``obj`` (empty the first time)."""
        key = id(obj)
        hit = self._entries.get(key)
        if hit is not None and hit[0]() is obj:
            return hit[1]
        memo: dict = {}
        self._entries[key] = (weakref.ref(obj, functools.partial(self._drop, key)), memo)
        return memo

    def _drop(self, key: int, ref: weakref.ref) -> None:
        hit = self._entries.get(key)
        if hit is not None and hit[0] is ref:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


#: Per column index: name -> position (``None``) and, per wanted column list, (positions,
#: missing). One request's frame is read by ~6 stages with different column lists, and listing a
#: string index costs ~50 µs in pandas 3 (a look-up ~95 µs uncached, ~1 µs cached: see
#: docs/experiments.md). Feature frames share the registry's column index, so entries last.
_BY_INDEX = _PerObject()


def _positions(have: pd.Index, want: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    """Position in ``have`` of each wanted column (-1 when missing) and the missing names."""
    memo = _BY_INDEX.of(have)
    hit = memo.get(want)
    if hit is not None:
        return hit
    where = memo.get(None)
    if where is None:
        where = memo[None] = {name: i for i, name in enumerate(have.tolist())}
    missing = tuple(name for name in want if name not in where)
    positions = np.array([where.get(name, -1) for name in want], dtype=np.int64)
    positions.flags.writeable = False  # shared by every caller
    memo[want] = (positions, missing)
    return positions, missing


def column_positions(X: pd.DataFrame, columns: Sequence[str], what: str = "features") -> np.ndarray:
    """Positions of ``columns`` in ``X``; an input error naming the first missing ones."""
    positions, missing = _positions(X.columns, tuple(columns))
    if missing:
        raise InputError(f"{what}: missing column(s) {list(missing[:5])}")
    return positions


#: Per categorical dtype object: model categories -> whether the dtype has exactly those, in that
#: order. Dtype equality is not used because unordered dtypes compare equal whatever the order of
#: their categories, and codes depend on it. Feature frames reuse the registry's dtypes.
_BY_DTYPE = _PerObject()


def _same_categories(dtype: pd.CategoricalDtype, categories: list) -> bool:
    """Exact comparison of categories and their order, remembered per dtype object (one dict
    look-up per column per call instead of ~13 µs)."""
    memo = _BY_DTYPE.of(dtype)
    key = tuple(categories)
    same = memo.get(key)
    if same is None:
        same = memo[key] = dtype.categories.tolist() == list(categories)
    return same


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
    if not isinstance(values, pd.Categorical) or (
        categories is not None and not _same_categories(values.dtype, categories)
    ):
        s = pd.Series(values).astype(object)
        values = pd.Categorical(s.where(s.notna(), None), categories=categories)
    return values.codes


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
    rest = rest.tolist()
    arrays = dict(zip(rest, compat_column_arrays(X, positions[rest]), strict=True))
    plain, coded, other = [], [], []
    for j in rest:
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
