"""Array types the layers annotate with, so a signature says what a function returns.

``np.ndarray`` alone is ``ndarray[Any, dtype[Any]]``: it admits anything. These name the dtype.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

#: Probabilities, margins, LightGBM input matrices, money.
FloatArray = npt.NDArray[np.float64]
#: Row positions, counts, category codes.
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
#: Strings and mixed Python values (pandas' object columns).
ObjectArray = npt.NDArray[np.object_]

#: A missing value (0-d object array of None) for ``np.where``: numpy's stubs take arrays, not a bare
#: ``None``, and the result is the same object array.
NO_VALUE: ObjectArray = np.array(None, dtype=object)


def expand_windows(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All (window, position) pairs with the position in its window [lo, hi), windows in order:
    the gather of ragged lists (events per case, reasons per case) without a loop over windows."""
    counts = np.maximum(hi - lo, 0)
    case = np.repeat(np.arange(lo.size), counts)
    starts = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return case, starts + np.arange(case.size)
