"""The building blocks of the event look-ups equal their plain forms: window counts over several
masks at once, the event index's ranks, and text columns compared as codes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features._events import CODED_FROM, EventIndex, Labels, window_count, window_counts


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


def test_event_index_ranks_equal_a_search_of_the_unique_loans():
    rng = np.random.default_rng(5)
    loan = rng.choice(np.array([-7, 3, 4, 10**12, 2**40]), 2_000)
    t = rng.integers(0, 10_000, loan.size)
    idx = EventIndex.build(loan, t, 0, 10_000)
    np.testing.assert_array_equal(idx.loans, np.unique(loan))
    order = np.lexsort((t, loan))
    rank = np.searchsorted(np.unique(loan), loan[order])
    np.testing.assert_array_equal(idx.keys, rank * idx.span + (t[order] + 1))
    empty = EventIndex.build(np.zeros(0, np.int64), np.zeros(0, np.int64), 0, 10)
    assert empty.loans.size == 0 and empty.keys.size == 0


@pytest.mark.parametrize("copies", [1, CODED_FROM // 8 + 1])  # compared as strings, then as codes
@pytest.mark.parametrize("dtype", ["str", "object", "category"])
def test_labels_compare_and_take_as_the_strings_do(dtype, copies):
    raw = ["call", None, "sms", "call", "pigeon", "visit", None, "sms"] * copies
    frame = pd.DataFrame({"channel": pd.Series(raw, dtype=dtype)})
    plain = frame["channel"].to_numpy(object)
    labels = Labels.of(frame, "channel")
    assert (labels.names is None) == (len(raw) < CODED_FROM)
    for value in ("call", "sms", "pigeon", "letter"):
        np.testing.assert_array_equal(labels.equals(value), plain == value)
    np.testing.assert_array_equal(~labels.equals("call"), plain != "call")
    at = np.array([0, 1, 4, 7, 1])

    got = labels.values(at)
    assert [repr(v) for v in got] == [repr(v) for v in plain[at]]  # the same objects: None stays None
    assert [repr(v) for v in labels.take(at).values(np.arange(at.size))] == [repr(v) for v in got]


@pytest.mark.parametrize("copies", [1, CODED_FROM])
def test_labels_of_an_object_column_keep_its_own_objects(copies):
    raw = ["call", 1, 1.0, True, None, np.nan, "call"] * copies
    frame = pd.DataFrame({"channel": pd.Series(raw, dtype=object)})
    labels = Labels.of(frame, "channel")
    plain = frame["channel"].to_numpy(object)
    np.testing.assert_array_equal(labels.equals("call"), plain == "call")
    at = np.arange(7)
    assert [repr(v) for v in labels.take(at).values(at)] == [repr(v) for v in raw[:7]]


@pytest.mark.parametrize("copies", [1, CODED_FROM])
@pytest.mark.parametrize("dtype", ["str", "object", "category"])
def test_labels_differ_from_a_vocabulary_as_the_strings_do(dtype, copies):
    vocabulary = ("M0", "M1", "M2")
    raw = ["M0", "M1", None, "M9", "M2", "M1"] * copies
    index = np.tile(np.array([0, 2, 1, 0, 2, 1]), copies)
    frame = pd.DataFrame({"bucket": pd.Series(raw, dtype=dtype)})
    want = frame["bucket"].to_numpy(object) != np.asarray(vocabulary, dtype=object)[index]
    got = Labels.of(frame, "bucket").differs_from(vocabulary, index)
    np.testing.assert_array_equal(got, want)
    assert got[:6].tolist() == [False, True, True, True, False, False]
