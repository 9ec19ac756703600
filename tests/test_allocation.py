"""Allocation under capacity: exactness against the full LP and brute force, greedy gap, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from models.allocation import allocate, allocation_gap, capacity_bound, total_value
from rollcure.core.errors import InputError


def _random_problem(seed: int, n: int, n_actions: int = 6):
    rng = np.random.default_rng(seed)
    values = rng.normal(0, 10, (n, n_actions))
    eligible = rng.random((n, n_actions)) < 0.7
    eligible[:, 0] = True
    caps = np.array([np.inf, np.inf, *rng.integers(0, max(2, n // 4), n_actions - 2)], dtype=float)
    return values, eligible, caps


def _feasible(choice, eligible, caps):
    counts = np.bincount(choice, minlength=len(caps))
    return eligible[np.arange(len(choice)), choice].all() and (counts <= caps).all()


def test_brute_force_agrees_on_tiny_problems():
    for seed in range(25):
        values, eligible, caps = _random_problem(seed, n=5, n_actions=4)
        best = -np.inf
        for combo in itertools.product(range(4), repeat=5):
            c = np.array(combo)
            if _feasible(c, eligible, caps):
                best = max(best, total_value(values, c))
        got = allocate(values, eligible, caps)
        assert _feasible(got, eligible, caps)
        assert total_value(values, got) == pytest.approx(best)


@pytest.mark.parametrize("seed", range(8))
def test_reduced_lp_equals_full_lp_and_beats_greedy(seed):
    values, eligible, caps = _random_problem(seed, n=400)
    exact = allocate(values, eligible, caps)
    full = allocate(values, eligible, caps, method="full_lp")
    greedy = allocate(values, eligible, caps, method="greedy")
    for c in (exact, full, greedy):
        assert _feasible(c, eligible, caps)
    assert total_value(values, exact) == pytest.approx(total_value(values, full))
    assert total_value(values, greedy) <= total_value(values, exact) + 1e-9
    # The heuristic must still beat the trivial feasible answer (everyone on the fallback action).
    fallback = allocate(values, eligible, np.where(np.isinf(caps), np.inf, 0))
    assert total_value(values, greedy) > total_value(values, fallback)
    gap = allocation_gap(values, eligible, caps)
    assert gap["gap"] >= 0 and gap["greedy_value"] == pytest.approx(total_value(values, greedy))


def test_unbinding_capacity_gives_every_case_its_best_action():
    values, eligible, _ = _random_problem(3, n=200)
    caps = np.full(6, np.inf)
    caps[3] = 1e6
    best = np.where(eligible, values, -np.inf).argmax(axis=1)
    assert (allocate(values, eligible, caps) == best).all()


def test_capacity_bound_marks_better_actions_that_were_full():
    values = np.array([[0.0, 10.0], [0.0, 20.0]])
    chosen = allocate(values, np.ones((2, 2), bool), [np.inf, 1])
    assert chosen.tolist() == [0, 1]
    assert capacity_bound(values, np.ones((2, 2), bool), chosen).tolist() == [[False, True], [False, False]]


@pytest.mark.parametrize(
    ("values", "eligible", "caps", "needle"),
    [
        (np.zeros((2, 3)), np.ones((2, 2), bool), [np.inf] * 3, "same n x A shape"),
        (np.zeros((2, 3)), np.ones((2, 3), bool), [np.inf] * 2, "one entry per action"),
        (np.zeros((2, 3)), np.ones((2, 3), bool), [np.inf, -1, 1], "capacities must be >= 0"),
        (np.full((2, 3), np.nan), np.ones((2, 3), bool), [np.inf] * 3, "must be finite"),
        (np.zeros((2, 2)), np.array([[True, True], [False, True]]), [np.inf, 1], "row 1 has no eligible"),
    ],
)
def test_bad_input_is_named(values, eligible, caps, needle):
    with pytest.raises(InputError, match=needle):
        allocate(values, eligible, caps)


def test_unknown_method_lists_allowed():
    with pytest.raises(InputError, match="allowed: exact, greedy, full_lp"):
        allocate(np.zeros((1, 2)), np.ones((1, 2), bool), [np.inf, 1], method="magic")


def test_a_used_up_action_is_left_out_without_an_lp(monkeypatch):
    """The service's day can use up a limited action; later single cases must still get their best
    open action, and must not pay for an LP to learn that nothing can go to the used-up one."""
    import models.allocation as allocation

    def no_lp(*_args):
        raise AssertionError("the LP ran for a problem no capacity binds")

    monkeypatch.setattr(allocation, "_solve_lp", no_lp)
    values = np.array([[0.0, 9.0, 5.0, 1.0]])
    eligible = np.ones((1, 4), dtype=bool)
    assert allocate(values, eligible, [np.inf, 0, 3, 0.5]).tolist() == [2]
    assert allocate(values, eligible, [np.inf, 0, 0, 0]).tolist() == [0]
