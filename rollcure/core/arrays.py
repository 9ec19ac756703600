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
