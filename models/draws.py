"""Per-case random draws from a counter-based hash, so a case's draws depend on its seed only.

The service merges concurrent requests into one pass and the batch scorer cuts the book into
chunks; with one generator over the whole frame a case's arm would depend on which other cases
share its pass. Here each case has its own 64-bit seed and each draw is ``splitmix64`` of that
seed and a fixed stream number (the draw's purpose), vectorised over uint64 arrays: the same case
with the same seed gets the same arm, exploration pick and random-challenger pick whatever its
companions.

A frame decided with one integer ``seed`` gives the case at row ``i`` the seed
``splitmix64(seed) + i`` (mod 2**64), so a frame seed reproduces as before and ``case_seeds``
says which per-case seeds it stands for.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from rollcure.core.errors import InputError

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
#: 53 random bits make every double in [0, 1) on a grid of 2**-53, as numpy's generators do.
_MANTISSA_SHIFT = np.uint64(11)
_UNIT = 2.0**-53


def splitmix64(x: npt.ArrayLike) -> npt.NDArray[np.uint64]:
    """The splitmix64 output function (Steele et al. 2014) of each uint64: a bijective mix."""
    with np.errstate(over="ignore"):
        z = np.asarray(x, dtype=np.uint64) + _GOLDEN
        z = (z ^ (z >> np.uint64(30))) * _M1
        z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def case_seeds(seed: int | np.ndarray, n: int) -> np.ndarray:
    """One uint64 seed per case: an integer array as given, or ``splitmix64(seed) + row`` for an int."""
    if isinstance(seed, (int, np.integer)):
        with np.errstate(over="ignore"):
            return splitmix64(np.uint64(int(seed) % 2**64)) + np.arange(n, dtype=np.uint64)
    arr = np.asarray(seed)
    if arr.shape != (n,) or arr.dtype.kind not in "iu":
        raise InputError(
            f"policy: seed must be an int or an integer array with one seed per case ({n}), "
            f"got {arr.dtype} array of shape {arr.shape}"
        )
    return arr.astype(np.uint64)  # negative int64 seeds wrap, still one distinct seed each


def uniforms(seeds: np.ndarray, n_streams: int) -> np.ndarray:
    """n x n_streams uniforms in [0, 1): column ``k`` is stream ``k`` of every case's own seed."""
    keys = splitmix64(seeds)  # decorrelate neighbouring seeds (row-derived ones are consecutive)
    with np.errstate(over="ignore"):
        counters = (np.arange(1, n_streams + 1, dtype=np.uint64) * _GOLDEN)[None, :]
        bits = splitmix64(keys[:, None] ^ counters)
    return (bits >> _MANTISSA_SHIFT).astype(np.float64) * _UNIT
