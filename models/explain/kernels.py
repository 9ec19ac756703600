"""The compiled loops of exact path-dependent TreeSHAP (numba, no C extension to build).

Why this is faster than LightGBM's ``pred_contrib`` while computing the same numbers: TreeSHAP's
value of a leaf with value ``v`` and distinct path features ``P`` (``d`` of them, zero fractions
``z``) for feature ``i`` on the path is ``v (o_i - z_i) sum_{S ⊆ P∖i} w(|S|, d) prod_{j∈S} o_j
prod_{j∈P∖S∖i} z_j`` with ``w(s, d) = s! (d-1-s)! / d!``, where ``o_j`` is 1 when the row agrees with
every split on ``j`` along the path, else 0. With ``A`` the agreed features and ``B`` the others this
is ``-v·z(B)·H(A)`` for ``i ∈ B`` and ``v·(1-z_i)·z(B)·H(A∖i)`` for ``i ∈ A``, where ``z(B)`` is the
product of ``B``'s zero fractions and ``H(C) = sum_s w(s, d)·e_{|C|-s}(z_C)`` (``e`` the elementary
symmetric polynomials). ``H`` depends on the row only through the mask ``A``, so it is tabulated per
leaf over all ``2^d`` masks (:func:`leaf_tables`, FastTreeSHAP v2's idea): a row then costs
``O(path length)`` per leaf instead of LightGBM's ``O(depth²)``. Leaves too deep to tabulate use
the same polynomial, built for the row's mask and divided by ``(t + z_i)`` for each agreed ``i``.

Second, a tree's contributions depend on the row only through the side it takes at each split, so
rows with the same split pattern (a bit per internal node, for trees of up to 64 of them) share
them: :func:`explain_rows` computes them once per distinct pattern per call and adds them to every
row that has it. Results do not depend on which rows share a call: every row's values are the same
function of its patterns, summed tree by tree in booster order.
"""

from __future__ import annotations

import numba
import numpy as np

#: LightGBM's ``kZeroThreshold`` (a float literal, 1e-35f): smaller magnitudes are read as 0.
ZERO_THRESHOLD = float(np.float32(1e-35))
#: Categorical values at or beyond this are out of every category set (LightGBM casts to int).
_INT_LIMIT = 2147483648.0
_HASH_MULT = np.uint64(0x9E3779B97F4A7C15)
#: Trees with more internal nodes than bits in a pattern are explained row by row.
PATTERN_BITS = 64


@numba.njit(cache=True, nogil=True)
def _goes_left(x: float, node: int, threshold, missing, default_left, cat_start, cat_len, cat_left) -> bool:
    """``Tree::Decision`` of LightGBM 4 for one value at one (global) internal node."""
    if x != x:
        if cat_start[node] >= 0:
            return False
        if missing[node] == 2:
            return default_left[node] == 1
        x = 0.0
    elif -ZERO_THRESHOLD <= x <= ZERO_THRESHOLD:
        x = 0.0
    start = cat_start[node]
    if start >= 0:
        if x <= -1.0 or x >= _INT_LIMIT:
            return False
        c = int(x)
        return c < cat_len[node] and cat_left[start + c] == 1
    if missing[node] == 1 and x == 0.0:
        return default_left[node] == 1
    return x <= threshold[node]


@numba.njit(cache=True, nogil=True)
def _weights(max_depth: int) -> np.ndarray:
    """Row ``d``: ``w(s, d) = s! (d-1-s)! / d!`` for ``s = 0..d-1``."""
    w = np.zeros((max_depth + 1, max_depth + 1))
    for d in range(1, max_depth + 1):
        w[d, 0] = 1.0 / d
        for s in range(d - 1):
            w[d, s + 1] = w[d, s] * (s + 1) / (d - 1 - s)
    return w


@numba.njit(cache=True, nogil=True)
def leaf_tables(leaf_value, unique_start, unique_zero, max_bits: int, budget: int):
    """``v·H(mask)`` for every mask of every leaf with at most ``max_bits`` path features, while the
    tables fit ``budget`` entries (shallow leaves first: most leaves, least memory). Returns the
    table start per leaf (-1: computed per row) and the tables."""
    n_leaves = len(leaf_value)
    start = np.full(n_leaves, -1, dtype=np.int64)
    depth = unique_start[1:] - unique_start[:-1]
    total = 0
    for d in range(1, max_bits + 1):
        for leaf in range(n_leaves):
            if depth[leaf] == d and total + (1 << d) <= budget:
                start[leaf] = total
                total += 1 << d
    tables = np.zeros(total)
    weights = _weights(max_bits)
    for leaf in range(n_leaves):
        if start[leaf] < 0:
            continue
        d = depth[leaf]
        z = unique_zero[unique_start[leaf] : unique_start[leaf + 1]]
        w = weights[d]
        poly = np.zeros((1 << d, d + 1))  # coefficients of prod_{j in mask} (t + z_j), by power of t
        poly[0, 0] = 1.0
        for m in range(1, 1 << d):
            j = 0
            while not (m >> j) & 1:
                j += 1
            prev = m & (m - 1)
            for k in range(d + 1):
                poly[m, k] = z[j] * poly[prev, k] + (poly[prev, k - 1] if k > 0 else 0.0)
            h = 0.0
            for s in range(d):
                h += w[s] * poly[m, s]
            tables[start[leaf] + m] = leaf_value[leaf] * h
        tables[start[leaf]] = leaf_value[leaf] * w[0]
    return start, tables


@numba.njit(cache=True, nogil=True)
def _untabled_leaf(v, d, m, zb, z, slots, acc, poly, quot, w) -> None:
    """A deep leaf's contributions for agreement mask ``m`` (``zb``: product over disagreed)."""
    poly[0] = 1.0
    a = 0
    for j in range(d):
        if (m >> j) & 1:
            a += 1
            poly[a] = 0.0
            for k in range(a, 0, -1):
                poly[k] = z[j] * poly[k] + poly[k - 1]
            poly[0] = z[j] * poly[0]
    h = 0.0
    for s in range(min(a, d - 1) + 1):
        h += w[s] * poly[s]
    for j in range(d):
        if (m >> j) & 1:  # divide out (t + z_j): the polynomial of A without j
            quot[a - 1] = poly[a]
            for k in range(a - 1, 0, -1):
                quot[k - 1] = poly[k] - z[j] * quot[k]
            hj = 0.0
            for s in range(a):
                hj += w[s] * quot[s]
            acc[slots[j]] += v * (1.0 - z[j]) * zb * hj
        else:
            acc[slots[j]] -= v * zb * h


@numba.njit(cache=True, nogil=True)
def _tree_phi(t, went_left, acc, f, table_start, tables, weights, poly, quot) -> None:
    """Contributions of tree ``t`` by slot into ``acc``, for the sides ``went_left`` (by node)."""
    (node_start, leaf_start, slot_start, tree_features, split_feature, threshold, missing, default_left,
     cat_start, cat_len, cat_left, leaf_value, path_start, path_node, path_left, path_unique,
     unique_start, unique_slot, unique_zero) = f  # fmt: skip
    acc[: slot_start[t + 1] - slot_start[t]] = 0.0
    for leaf in range(leaf_start[t], leaf_start[t + 1]):
        us = unique_start[leaf]
        d = unique_start[leaf + 1] - us
        if d == 0:
            continue
        m = (1 << d) - 1
        for p in range(path_start[leaf], path_start[leaf + 1]):
            if went_left[path_node[p]] != path_left[p]:
                m &= ~(1 << path_unique[p])
        zb = 1.0
        for j in range(d):
            if not (m >> j) & 1:
                zb *= unique_zero[us + j]
        if zb == 0.0:
            continue
        ts = table_start[leaf]
        if ts < 0:
            _untabled_leaf(leaf_value[leaf], d, m, zb, unique_zero[us:], unique_slot[us:], acc, poly, quot,
                           weights[d])  # fmt: skip
            continue
        h = zb * tables[ts + m]
        for j in range(d):
            if (m >> j) & 1:
                acc[unique_slot[us + j]] += (1.0 - unique_zero[us + j]) * zb * tables[ts + (m ^ (1 << j))]
            else:
                acc[unique_slot[us + j]] -= h


@numba.njit(cache=True, nogil=True)
def explain_rows(X, out, f, table_start, tables, base_value, max_nodes, max_slots, max_depth) -> None:
    """TreeSHAP of every row of ``X`` into ``out`` (n x (features + 1), zeroed by the caller),
    the base value last; ``f`` is the ``Forest`` arrays as a tuple in field order."""
    (node_start, leaf_start, slot_start, tree_features, split_feature, threshold, missing, default_left,
     cat_start, cat_len, cat_left) = f[:11]  # fmt: skip
    n = X.shape[0]
    size = 16
    while size < 2 * n:
        size *= 2
    shift = np.uint64(64 - int(np.log2(size)))
    keys = np.zeros(size, dtype=np.uint64)
    stamp = np.zeros(size, dtype=np.int64)
    where = np.zeros(size, dtype=np.int64)
    shared = np.zeros((min(n, size), max(max_slots, 1)))
    went_left = np.zeros(max(max_nodes, 1), dtype=np.int64)
    acc = np.zeros(max(max_slots, 1))
    poly = np.zeros(max_depth + 2)
    quot = np.zeros(max_depth + 2)
    weights = _weights(max_depth)
    for t in range(len(node_start) - 1):
        ns = node_start[t]
        nn = node_start[t + 1] - ns
        fs = slot_start[t]
        k = slot_start[t + 1] - fs
        if k == 0:
            continue
        by_pattern = nn <= PATTERN_BITS and n > 1
        distinct = 0
        for i in range(n):
            code = np.uint64(0)
            for node in range(nn):
                g = ns + node
                left = _goes_left(X[i, split_feature[g]], g, threshold, missing, default_left, cat_start,
                                  cat_len, cat_left)  # fmt: skip
                went_left[node] = left
                if left:
                    code |= np.uint64(1) << np.uint64(node)
            if not by_pattern:
                _tree_phi(t, went_left, acc, f, table_start, tables, weights, poly, quot)
                for s in range(k):
                    out[i, tree_features[fs + s]] += acc[s]
                continue
            h = (code * _HASH_MULT) >> shift
            while stamp[h] == t + 1 and keys[h] != code:
                h = (h + np.uint64(1)) & np.uint64(size - 1)
            if stamp[h] != t + 1:
                stamp[h] = t + 1
                keys[h] = code
                where[h] = distinct
                _tree_phi(t, went_left, shared[distinct], f, table_start, tables, weights, poly, quot)
                distinct += 1
            row = shared[where[h]]
            for s in range(k):
                out[i, tree_features[fs + s]] += row[s]
    for i in range(n):
        out[i, X.shape[1]] = base_value
