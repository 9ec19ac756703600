"""Assign one action per case to maximise total expected value under eligibility and capacities.

The problem is a transportation problem: cases supply one unit each, actions demand at most their
capacity, unlimited actions take the rest. Its constraint matrix is totally unimodular, so a vertex
solution of the LP (HiGHS dual simplex) is integral and the LP optimum is the true optimum.

Solving the full n x A LP at a million cases is wasteful; two exact reductions shrink it first:

1. A case whose best eligible action is unlimited gets it: moving it to a capacity-limited action
   cannot add value and only uses capacity. So each case only weighs its *gain* over its best
   unlimited action (its fallback) for each capacity-limited action.
2. A case assigned to a limited action ``a`` is among the top ``C`` cases by gain for ``a``, where
   ``C`` is the total limited capacity: otherwise some case with a larger gain for ``a`` sits on its
   fallback and swapping the two increases the value. So the LP only sees those candidates.

Even the candidates are many at a million cases, so the LP is solved by row generation: first on
the top cases per limited action, then, using its capacity prices (the LP duals), every case
whose gain beats an action's price joins, until none does. The final duals are feasible for all
cases, which proves the answer optimal for the whole book (tests compare it with the full LP).

``greedy`` is a faster heuristic (deferred acceptance: each case asks for its best remaining limited
action, each action keeps its highest-gain askers); ``allocation_gap`` reports how far it falls short.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from rollcure.core.errors import InputError

Method = Literal["exact", "greedy", "full_lp"]


def _validate(values: np.ndarray, eligible: np.ndarray, capacities: np.ndarray) -> None:
    if values.ndim != 2 or values.shape != eligible.shape:
        raise InputError(
            f"allocate: values {values.shape} and eligible {eligible.shape} must be the same n x A shape"
        )
    if capacities.shape != (values.shape[1],):
        raise InputError(
            f"allocate: capacities needs one entry per action ({values.shape[1]}), got {capacities.shape}"
        )
    if np.isnan(capacities).any() or (capacities < 0).any():
        raise InputError("allocate: capacities must be >= 0 (use inf for unlimited)")
    if not np.isfinite(values[eligible]).all():
        raise InputError("allocate: values of eligible actions must be finite")
    unlimited = np.isinf(capacities)
    if values.shape[0] and not eligible[:, unlimited].any(axis=1).all():
        bad = int(np.flatnonzero(~eligible[:, unlimited].any(axis=1))[0])
        raise InputError(f"allocate: case at row {bad} has no eligible unlimited action to fall back on")


def _fallback(values: np.ndarray, eligible: np.ndarray, unlimited: np.ndarray) -> tuple[np.ndarray, ...]:
    """Best eligible unlimited action per case (index into all actions) and its value."""
    v = np.where(eligible & unlimited, values, -np.inf)
    idx = v.argmax(axis=1)
    return idx, v[np.arange(len(v)), idx]


def _gains(values, eligible, capacities):
    unlimited = np.isinf(capacities)
    fb_idx, fb_val = _fallback(values, eligible, unlimited)
    # an action with no capacity left can take no case: leaving it out keeps the answer exact and
    # lets a service whose day has used up a limited action skip the LP for every later request
    limited = np.flatnonzero(~unlimited & (capacities >= 1))
    gain = np.where(eligible[:, limited], values[:, limited] - fb_val[:, None], -np.inf)
    caps = capacities[limited].astype(np.int64)
    return fb_idx, limited, gain, caps


def _solve_lp(gain: np.ndarray, caps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Optimal 0/1 assignment of rows to columns of ``gain`` (or none), row sums <= 1, column sums <= caps.

    Returns the column per row (-1 = none) and the capacity prices (LP duals, >= 0).
    """
    n, k = gain.shape
    rows, cols = np.nonzero(gain > 0)
    if len(rows) == 0:
        return np.full(n, -1), np.zeros(k)
    m = len(rows)
    var = np.arange(m)
    a_case = sparse.csr_matrix((np.ones(m), (rows, var)), shape=(n, m))
    a_act = sparse.csr_matrix((np.ones(m), (cols, var)), shape=(k, m))
    res = linprog(
        -gain[rows, cols],
        A_ub=sparse.vstack([a_case, a_act], format="csr"),
        b_ub=np.concatenate([np.ones(n), caps.astype(float)]),
        bounds=(0, None),
        method="highs-ipm",  # with crossover: a vertex, hence integral (TU matrix)
    )
    if res.status != 0:  # pragma: no cover - the problem is always feasible (x = 0)
        raise RuntimeError(f"allocation LP failed: {res.message}")
    x = res.x
    if np.abs(x - np.round(x)).max(initial=0) > 1e-6:  # pragma: no cover - TU matrix, vertex solution
        raise RuntimeError("allocation LP returned a fractional vertex")
    out = np.full(n, -1)
    chosen = x > 0.5
    out[rows[chosen]] = cols[chosen]
    prices = np.maximum(-res.ineqlin.marginals[n:], 0.0)
    return out, prices


def _top(scores: np.ndarray, mask: np.ndarray, count: int) -> np.ndarray:
    """Indices of the ``count`` largest scores among ``mask``."""
    pos = np.flatnonzero(mask)
    if len(pos) > count:
        pos = pos[np.argpartition(-scores[pos], count - 1)[:count]] if count > 0 else pos[:0]
    return pos


def _candidates(gain: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Rows that can be assigned a limited action in some optimal solution (reduction 2)."""
    total = int(caps.sum())
    keep = np.zeros(len(gain), dtype=bool)
    for j in range(gain.shape[1]):
        keep[_top(gain[:, j], gain[:, j] > 0, total)] = True
    return np.flatnonzero(keep)


def _solve_by_pricing(gain: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Exact optimum by row generation: solve the LP on a working set of cases, price the rest.

    With the working set's capacity prices, a case outside it belongs in the optimum only if some
    action's gain exceeds that action's price; such cases join the set (the best ones per action)
    and the LP is solved again. When no case outside prices in, the LP duals are feasible for the
    whole book, so the working set's solution is optimal for the whole book.
    """
    n, k = gain.shape
    work = np.zeros(n, dtype=bool)
    for j in range(k):
        work[_top(gain[:, j], gain[:, j] > 0, int(caps[j]))] = True
    tol = 1e-9 * max(1.0, float(np.abs(gain[np.isfinite(gain)]).max(initial=1.0)))
    while True:
        rows = np.flatnonzero(work)
        sub, prices = _solve_lp(gain[rows], caps)
        slack = gain - prices[None, :]
        added = 0
        for j in range(k):
            viol = ~work & (slack[:, j] > tol)
            take = _top(slack[:, j], viol, max(int(caps[j]), 1000))
            work[take] = True
            added += len(take)
        if added == 0:
            out = np.full(n, -1)
            out[rows] = sub
            return out


def _greedy(gain: np.ndarray, caps: np.ndarray) -> np.ndarray:
    """Deferred acceptance: free cases ask for their best remaining limited action, each action keeps
    its highest-gain holders and askers up to capacity, the rest drop that option and ask again.

    Each rejection removes one option of one case, so it ends; each round is vectorised over cases.
    """
    n, k = gain.shape
    work = gain.copy()
    out = np.full(n, -1)
    rows = np.arange(n)
    while True:
        free = out < 0
        prop = work.argmax(axis=1)
        pgain = work[rows, prop]
        asking = free & (pgain > 0)
        if not asking.any():
            return out
        out[asking] = prop[asking]
        for j in range(k):
            holders = np.flatnonzero(out == j)
            if len(holders) > caps[j]:
                order = np.argsort(-gain[holders, j], kind="stable")
                rejected = holders[order[caps[j] :]]
                out[rejected] = -1
                work[rejected, j] = -np.inf


def allocate(
    values: np.ndarray,
    eligible: np.ndarray,
    capacities: np.ndarray | list[float],
    method: Method = "exact",
) -> np.ndarray:
    """Chosen action index per case maximising total value under eligibility and capacities.

    ``values`` n x A expected values, ``eligible`` n x A booleans, ``capacities`` length A (``inf``
    = unlimited; every case needs an eligible unlimited action, e.g. ``none``). ``method``:
    ``exact`` (reduced LP), ``full_lp`` (the unreduced LP, for checking) or ``greedy``.

    >>> v = np.array([[0.0, 5.0], [0.0, 9.0]]); e = np.ones((2, 2), bool)
    >>> allocate(v, e, [np.inf, 1]).tolist()
    [0, 1]
    """
    values = np.asarray(values, dtype=float)
    eligible = np.asarray(eligible, dtype=bool)
    capacities = np.asarray(capacities, dtype=float)
    _validate(values, eligible, capacities)
    if method not in ("exact", "greedy", "full_lp"):
        raise InputError(f"allocate: method '{method}' unknown; allowed: exact, greedy, full_lp")
    fb_idx, limited, gain, caps = _gains(values, eligible, capacities)
    choice = fb_idx.copy()
    if len(limited) == 0 or len(values) == 0:
        return choice
    best = gain.argmax(axis=1)
    wants = gain[np.arange(len(gain)), best] > 0
    demand = np.bincount(best[wants], minlength=len(limited))
    if (demand <= caps).all():  # nothing binds: everyone gets their best action
        choice[wants] = limited[best[wants]]
        return choice
    if method == "greedy":
        sub = _greedy(gain, caps)
        rows = np.arange(len(gain))
    elif method == "full_lp":
        rows = np.arange(len(gain))
        sub, _ = _solve_lp(gain, caps)
    else:
        rows = _candidates(gain, caps)
        sub = _solve_by_pricing(gain[rows], caps)
    hit = sub >= 0
    choice[rows[hit]] = limited[sub[hit]]
    return choice


def total_value(values: np.ndarray, choice: np.ndarray) -> float:
    """Sum of the chosen actions' values."""
    return float(np.asarray(values)[np.arange(len(choice)), choice].sum())


def allocation_gap(values: np.ndarray, eligible: np.ndarray, capacities: np.ndarray | list[float]) -> dict:
    """Greedy against exact on the same problem: both totals and the relative optimality gap."""
    exact = total_value(values, allocate(values, eligible, capacities, "exact"))
    greedy = total_value(values, allocate(values, eligible, capacities, "greedy"))
    return {
        "exact_value": exact,
        "greedy_value": greedy,
        "gap": (exact - greedy) / abs(exact) if exact else 0.0,
    }


def capacity_bound(values: np.ndarray, eligible: np.ndarray, choice: np.ndarray) -> np.ndarray:
    """n x A: True where an eligible action was worth more than the chosen one (capacity took it)."""
    chosen = np.asarray(values)[np.arange(len(choice)), choice]
    return np.asarray(eligible) & (np.asarray(values) > chosen[:, None] + 1e-9)
