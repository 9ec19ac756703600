"""Every private-pandas fast path of rollcure, each beside the public-API code it replaces.

One serving case is a handful of rows, so pandas' fixed per-call costs (building a Series to read
a column, the DataFrame constructor's per-column checks) can outweigh the arithmetic. A few private
APIs avoid them; private APIs change without notice, so they live here and only here. Each fast
path has a public fallback that returns the same values and dtypes (tests/test_pandas_compat.py
checks every pair on NaN/NaT, categoricals, strings and empty frames), and runs only when:

- the installed pandas is in the range the pair was tested on (``TESTED_PANDAS``; pyproject pins
  it too, so an unpinned install still falls back instead of misreading a new layout);
- the private attribute exists;
- it is switched on: ``ROLLCURE_PANDAS_FAST`` holds ``all`` (the default), ``none``, or a comma
  list of names from ``FAST_PATHS`` (read once, at import; `use_fast_paths` switches at run time).
  The switch exists so benchmarks can run both sides in one build (docs/experiments.md).

Fast paths that bought under 10% end to end were dropped for their public code (wrapping datetime
blocks with ``DatetimeArray._simple_new``, building extension arrays with ``_from_sequence``): the
figures are in docs/experiments.md, section "pandas fast paths".
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

try:
    from pandas.api.internals import create_dataframe_from_blocks
except ImportError:  # a pandas without it: the public path only
    create_dataframe_from_blocks = None

#: Pandas versions (major, minor) the fast paths were checked against: [low, high).
TESTED_PANDAS = ((3, 1), (3, 2))
#: Name of each fast path (what ``ROLLCURE_PANDAS_FAST`` lists).
FAST_PATHS = ("column_array", "block_reads", "frame_from_blocks")
FAST_ENV = "ROLLCURE_PANDAS_FAST"
_NS = np.dtype("datetime64[ns]")


def _version() -> tuple[int, int]:
    major, minor = pd.__version__.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


def _parse(setting: str) -> frozenset[str]:
    setting = setting.strip().lower()
    if setting in ("", "all", "1"):
        return frozenset(FAST_PATHS)
    if setting in ("none", "0"):
        return frozenset()
    names = frozenset(s.strip() for s in setting.split(",") if s.strip())
    unknown = names - set(FAST_PATHS)
    if unknown:
        allowed = ", ".join(("all", "none", *FAST_PATHS))
        raise ValueError(f"{FAST_ENV}: unknown fast path(s) {sorted(unknown)}; allowed: {allowed}")
    return names


def _available() -> frozenset[str]:
    """Fast paths this pandas allows: none outside ``TESTED_PANDAS``, else those whose private
    API exists (``block_reads`` checks the frame's manager on every call)."""
    if not TESTED_PANDAS[0] <= _version() < TESTED_PANDAS[1]:
        return frozenset()
    have = {"block_reads"}
    if hasattr(pd.DataFrame, "_get_column_array"):
        have.add("column_array")
    if create_dataframe_from_blocks is not None:
        have.add("frame_from_blocks")
    return frozenset(have)


_AVAILABLE = _available()
_ON: frozenset[str] = _parse(os.environ.get(FAST_ENV, "all")) & _AVAILABLE


def enabled() -> frozenset[str]:
    """The fast paths in use."""
    return _ON


@contextmanager
def use_fast_paths(names: Iterable[str] | str) -> Iterator[None]:
    """Run the block with exactly these fast paths on (``"all"``, ``"none"`` or names); for tests
    and benchmarks. Those this pandas does not allow stay off whatever is asked."""
    global _ON
    before = _ON
    asked = _parse(names) if isinstance(names, str) else _parse(",".join(names) or "none")
    _ON = asked & _AVAILABLE
    try:
        yield
    finally:
        _ON = before


# --- reading columns -------------------------------------------------------------------------


def _read_only(values: np.ndarray) -> np.ndarray:
    view = values.view()
    view.flags.writeable = False  # a view into the frame, as `Series.to_numpy()` gives under CoW
    return view


def _public_column(frame: pd.DataFrame, i: int) -> np.ndarray | ExtensionArray:
    array = frame.iloc[:, i].array
    if isinstance(array, pd.arrays.NumpyExtensionArray):
        return _read_only(array.to_numpy())
    return array


def column_array(frame: pd.DataFrame, i: int) -> np.ndarray | ExtensionArray:
    """The values of column position ``i``: a read-only numpy array for numpy dtypes, else the
    extension array (as ``frame.iloc[:, i].array`` holds it). The fast path skips building a
    Series (~10 us in pandas 3; one serving case reads ~40 columns)."""
    if "column_array" in _ON:
        values = frame._get_column_array(i)
        return _read_only(values) if isinstance(values, np.ndarray) else values
    return _public_column(frame, i)


class _BlockManager(Protocol):
    """What the fast paths read of pandas' private block manager."""

    blknos: np.ndarray
    blklocs: np.ndarray
    blocks: Sequence[Any]


def _manager(frame: pd.DataFrame) -> _BlockManager | None:
    mgr = getattr(frame, "_mgr", None) if "block_reads" in _ON else None
    ok = all(hasattr(mgr, a) for a in ("blknos", "blklocs", "blocks"))
    return cast(_BlockManager, mgr) if ok else None


def column_arrays(frame: pd.DataFrame, positions: Sequence[int] | np.ndarray) -> list:
    """`column_array` of each position. The fast path maps positions to blocks once
    (``blknos``/``blklocs``) instead of building a Series per column."""
    mgr = _manager(frame)
    positions = np.asarray(positions, dtype=np.intp)
    if mgr is None:
        return [_public_column(frame, p) for p in positions.tolist()]
    blocks, out = mgr.blocks, []
    for b, loc in zip(mgr.blknos[positions].tolist(), mgr.blklocs[positions].tolist(), strict=True):
        values = blocks[b].values
        values = values[loc] if values.ndim == 2 else values
        out.append(_read_only(values) if isinstance(values, np.ndarray) else values)
    return out


def copy_numeric_columns(
    frame: pd.DataFrame, positions: np.ndarray, skip: np.ndarray, out: np.ndarray
) -> np.ndarray:
    """Write each column at ``positions`` held as plain numpy numbers or booleans (and not
    ``skip``-ped) into the matching column of ``out`` as floats; returns which columns it wrote.
    The fast path copies one fancy index per block (most features share one float block) instead
    of a Python step per column."""
    done = np.zeros(len(positions), dtype=bool)
    mgr = _manager(frame)
    if mgr is None:
        for j, a in enumerate(column_arrays(frame, positions)):
            if not skip[j] and isinstance(a, np.ndarray) and a.dtype.kind in "fiub":
                out[:, j] = a
                done[j] = True
        return done
    blknos, blklocs = mgr.blknos[positions], mgr.blklocs[positions]
    blknos = np.where(skip, -1, blknos)
    for b in dict.fromkeys(blknos.tolist()):
        if b < 0:
            continue
        values = mgr.blocks[b].values
        if isinstance(values, np.ndarray) and values.ndim == 2 and values.dtype.kind in "fiub":
            js = np.flatnonzero(blknos == b)
            out[:, js] = values[blklocs[js]].T
            done[js] = True
    return done


# --- building frames -------------------------------------------------------------------------


def frame_from_blocks(
    blocks: list[tuple[np.ndarray | ExtensionArray, np.ndarray]], n: int, columns: pd.Index
) -> pd.DataFrame:
    """A frame with a RangeIndex of ``n`` rows and ``columns`` from ``(values, places)`` blocks:
    a (k, n) numpy array (datetime64[ns] allowed) for ``k`` columns at ``places``, or a 1-d
    extension array for one column. The fast path hands the blocks to pandas as they are
    (``create_dataframe_from_blocks``; datetime blocks as public 1-d arrays, which pandas
    reshapes); the public one builds the frame column by column."""
    if "frame_from_blocks" in _ON:
        ready = []
        for values, places in blocks:
            if isinstance(values, np.ndarray) and values.dtype == _NS:  # 1-d DatetimeArrays
                places = np.atleast_1d(np.asarray(places))
                ready += [(pd.array(row, dtype=_NS), places[[i]]) for i, row in enumerate(values)]
            else:
                ready.append((values, places))
        return create_dataframe_from_blocks(ready, index=pd.RangeIndex(n), columns=columns)
    by_place: dict[int, object] = {}
    for values, places in blocks:
        places = np.atleast_1d(np.asarray(places)).tolist()
        if isinstance(values, np.ndarray):
            by_place.update(zip(places, values.reshape(len(places), n), strict=True))
        else:
            by_place[places[0]] = values
    frame = pd.DataFrame({i: by_place[i] for i in range(len(columns))}, index=pd.RangeIndex(n))
    frame.columns = columns
    return frame
