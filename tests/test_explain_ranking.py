"""``top_k_columns`` picks exactly the columns a stable argsort puts first: ties in column order,
``-0.0`` equal to ``0.0``, NaN after every number, in both directions (hypothesis-generated
matrices with few distinct values so ties are common)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from models.explain.ranking import top_k_columns

_VALUES = st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 1e-300, np.nan, np.inf, -np.inf])


@settings(max_examples=200, deadline=None)
@given(
    values=hnp.arrays(np.float64, hnp.array_shapes(min_dims=2, max_dims=2, max_side=9), elements=_VALUES),
    k=st.integers(1, 10),
    largest=st.booleans(),
)
def test_equal_to_the_stable_argsort(values, k, largest):
    expected = np.argsort(-values if largest else values, axis=1, kind="stable")[:, :k]
    np.testing.assert_array_equal(top_k_columns(values, k, largest=largest), expected)


def test_a_column_slice_and_random_contributions():
    rng = np.random.default_rng(3)
    contrib = np.round(rng.normal(size=(5_000, 99)), 2)  # rounded: many ties
    phi = contrib[:, :98]  # not contiguous, as the explainer's output without its base column
    for largest in (True, False):
        expected = np.argsort(-phi if largest else phi, axis=1, kind="stable")[:, :3]
        np.testing.assert_array_equal(top_k_columns(phi, 3, largest=largest), expected)


def test_bad_shapes_are_refused_and_k_is_bounded():
    with pytest.raises(ValueError, match="2-D"):
        top_k_columns(np.zeros(3), 2)
    assert top_k_columns(np.zeros((4, 2)), 5).shape == (4, 2)
    assert top_k_columns(np.zeros((4, 2)), 0).shape == (4, 0)
