"""The window counts over several masks at once equal one running count per mask."""

from __future__ import annotations

import numpy as np

from features._events import window_count, window_counts


def test_window_counts_equal_one_count_per_mask():
    rng = np.random.default_rng(11)
    n_events, n_cases = 5_000, 700
    masks = [rng.random(n_events) < p for p in (0.0, 0.1, 0.5, 1.0)]
    hi = np.sort(rng.integers(0, n_events + 1, n_cases))
    lo = [np.maximum(hi - rng.integers(0, 60, n_cases), 0) for _ in masks]
    got = window_counts(masks, lo, hi)
    assert got.dtype == np.int64 and got.shape == (len(masks), n_cases)
    for i, mask in enumerate(masks):
        np.testing.assert_array_equal(got[i], window_count(mask, lo[i], hi))
    np.testing.assert_array_equal(got[3], hi - lo[3])  # an all-true mask counts the window


def test_window_counts_with_no_events():
    empty = np.zeros(0, dtype=bool)
    got = window_counts([empty, empty], [np.zeros(2, dtype=np.int64)] * 2, np.zeros(2, dtype=np.int64))
    np.testing.assert_array_equal(got, np.zeros((2, 2), dtype=np.int64))
