"""The compiled loops of exact path-dependent TreeSHAP (numba, no C extension to build).

Why this is faster than LightGBM's ``pred_contrib`` while computing the same numbers: TreeSHAP's
value of a leaf with value ``v`` and distinct path features ``P`` (``d`` of them, zero fractions
``z``) for feature ``i`` on the path is ``v (o_i - z_i) sum_{S ⊆ P∖i} w(|S|, d) prod_{j∈S} o_j
prod_{j∈P∖S∖i} z_j`` with ``w(s, d) = s! (d-1-s)! / d!``, where ``o_j`` is 1 when the row agrees with
every split on ``j`` along the path, else 0. With ``A`` the agreed features and ``B`` the others this
is ``-v·z(B)·H(A)`` for ``i ∈ B`` and ``v·(1-z_i)·z(B)·H(A∖i)`` for ``i ∈ A``, where ``z(B)`` is the
product of ``B``'s zero fractions and ``H(C) = sum_s w(s, d)·e_{|C|-s}(z_C)`` (``e`` the elementary
symmetric polynomials). ``z(B)·H(A)`` depends on the row only through the mask ``A``, so it is
tabulated per leaf over all ``2^d`` masks (:func:`leaf_tables`, FastTreeSHAP v2's idea): a row then
costs ``O(d)`` per leaf instead of LightGBM's ``O(depth²)``, and the masks of all leaves come from
one depth-first walk of the tree. Leaves too deep to tabulate integrate the same weights exactly by
Gauss-Jacobi quadrature (``w(s, d)`` is a Beta integral; Linear TreeSHAP's observation).

Second, a tree's contributions depend on the row only through the side it takes at each split, so
rows with the same split pattern (a bit per internal node, for trees of up to 64 of them) share
them: :func:`explain_rows` computes them once per distinct pattern in a block of rows and adds them
to every row that has it. A row's values do not depend on which rows share its block: they are the
same function of its patterns, summed tree by tree in booster order.
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


@numba.njit(cache=True, nogil=True, inline="always")
def _category_left(x: float, start: int, length: int, cat_left) -> int:
    """``Tree::CategoricalDecision``: NaN, negative and unseen codes go right (0)."""
    if x != x or x <= -1.0 or x >= _INT_LIMIT:
        return 0
    c = int(x)  # truncates toward zero, as LightGBM's cast does
    if c >= length:
        return 0
    return cat_left[start + c]


@numba.njit(cache=True, nogil=True)
def _shapley_weights(max_depth: int) -> np.ndarray:
    """Row ``d``: ``w(s, d) = s! (d-1-s)! / d!`` for ``s = 0..d-1``."""
    w = np.zeros((max_depth + 1, max_depth + 1))
    for d in range(1, max_depth + 1):
        w[d, 0] = 1.0 / d
        for s in range(d - 1):
            w[d, s + 1] = w[d, s] * (s + 1) / (d - 1 - s)
    return w


@numba.njit(cache=True, nogil=True)
def leaf_tables(leaf_value, unique_start, unique_zero, max_bits: int, budget: int):
    """``T[m] = v·z(not m)·H(m)`` for every mask ``m`` of every leaf with at most ``max_bits`` path
    features, while the tables fit ``budget`` entries (shallow leaves first: most leaves, least
    memory), and ``(1 - z_j) / z_j`` per path feature. Then a leaf adds ``-T[m]`` for a feature it
    disagrees with and ``(1 - z_j) / z_j · T[m ^ j]`` for one it agrees with. Returns the table
    start per leaf (-1: computed per row; also when a zero fraction is 0), the tables, the ratios."""
    n_leaves = len(leaf_value)
    start = np.full(n_leaves, -1, dtype=np.int64)
    depth = unique_start[1:] - unique_start[:-1]
    ratio = np.zeros(len(unique_zero))
    for j in range(len(unique_zero)):
        if unique_zero[j] > 0.0:
            ratio[j] = (1.0 - unique_zero[j]) / unique_zero[j]
    total = 0
    for d in range(1, max_bits + 1):
        for leaf in range(n_leaves):
            z = unique_zero[unique_start[leaf] : unique_start[leaf + 1]]
            if depth[leaf] == d and total + (1 << d) <= budget and z.min() > 0.0:
                start[leaf] = total
                total += 1 << d
    tables = np.zeros(total)
    weight_rows = _shapley_weights(max_bits)
    for leaf in range(n_leaves):
        if start[leaf] < 0:
            continue
        d = depth[leaf]
        z = unique_zero[unique_start[leaf] : unique_start[leaf + 1]]
        w = weight_rows[d]
        full = (1 << d) - 1
        poly = np.zeros((1 << d, d + 1))  # coefficients of prod_{j in mask} (t + z_j), by power of t
        outside = np.ones(1 << d)  # product of z_j over the features not in the mask
        poly[0, 0] = 1.0
        for m in range(1, 1 << d):
            j = 0
            while not (m >> j) & 1:
                j += 1
            prev = m & (m - 1)
            for k in range(d + 1):
                poly[m, k] = z[j] * poly[prev, k] + (poly[prev, k - 1] if k > 0 else 0.0)
        for m in range(1 << d):
            for j in range(d):
                if not (m >> j) & 1:
                    outside[m] *= z[j]
            h = 0.0
            for s in range(d):
                h += w[s] * poly[m, s]
            tables[start[leaf] + m] = leaf_value[leaf] * outside[m] * h if m != full else 0.0
    return start, tables, ratio


@numba.njit(cache=True, nogil=True, inline="always")
def _untabled_leaf(v, d, m, zero, slot, us, acc, nodes, node_weights, prefix, agreed) -> None:
    """A leaf without a table. ``w(s, d)`` is the Beta integral of ``u^s (1-u)^(d-1-s)`` on [0, 1],
    so feature ``j`` gets ``v (o_j - z_j) ∫ prod_{i≠j} (o_i u + z_i (1-u)) du`` (Linear TreeSHAP's
    observation). The disagreed features (``o = 0``, ``b`` of them) factor out as ``z(B) (1-u)^b``:
    a disagreed feature gets ``-v z(B) ∫ (1-u)^(b-1) prod_A``, an agreed one ``v (1 - z_j) z(B)
    ∫ (1-u)^b prod_{A∖j}``, both integrated exactly by Gauss-Jacobi rules for the weight ``(1-u)^α``
    with about ``|A|/2`` nodes (``nodes[α, q]``); prefix and suffix products leave each ``j`` out.
    The leaf's path features are ``zero[us:us + d]`` and ``slot[us:us + d]``."""
    a = 0
    zb = 1.0
    for j in range(d):
        if (m >> j) & 1:
            agreed[a] = j
            a += 1
        else:
            zb *= zero[us + j]
    if zb == 0.0:
        return
    b = d - a
    if b > 0:  # degree a: (a + 2) // 2 nodes
        q_count = (a + 2) // 2
        u = nodes[b - 1, q_count]
        total = 0.0
        for q in range(q_count):
            p = node_weights[b - 1, q_count, q]
            for r in range(a):
                p *= u[q] + zero[us + agreed[r]] * (1.0 - u[q])
            total += p
        for j in range(d):
            if not (m >> j) & 1:
                acc[slot[us + j]] -= v * zb * total
    if a == 0:
        return
    q_count = (a + 1) // 2  # degree a - 1
    u = nodes[b, q_count]
    run = prefix[0]
    for q in range(q_count):
        run[q] = node_weights[b, q_count, q]
    for r in range(a):
        zr = zero[us + agreed[r]]
        for q in range(q_count):
            prefix[r + 1, q] = run[q]
            run[q] *= u[q] + zr * (1.0 - u[q])
    run[:q_count] = 1.0
    for r in range(a - 1, -1, -1):
        zr = zero[us + agreed[r]]
        total = 0.0
        for q in range(q_count):
            total += prefix[r + 1, q] * run[q]
            run[q] *= u[q] + zr * (1.0 - u[q])
        acc[slot[us + agreed[r]]] += v * (1.0 - zr) * zb * total


@numba.njit(cache=True, nogil=True, inline="always")
def _tree_phi(t, went_left, acc, f, tabled, stack_node, stack_mask, prefix, members) -> None:
    """Contributions of tree ``t`` by slot into ``acc``, for the sides ``went_left`` (by node): depth
    first, carrying the mask of path features the row agrees with so far."""
    (node_start, leaf_start, slot_start, cat_node_start, tree_features, split_feature, threshold, nan_left,
     zero_left, cat_nodes, cat_start, cat_len, cat_left, left_child, right_child, node_unique, leaf_value,
     unique_start, unique_slot, unique_zero) = f  # fmt: skip
    table_start, tables, ratio, nodes, node_weights = tabled
    acc[: slot_start[t + 1] - slot_start[t]] = 0.0
    ns = node_start[t]
    if node_start[t + 1] == ns:
        return
    stack_node[0] = 0
    stack_mask[0] = -1
    top = 1
    while top > 0:
        top -= 1
        node = stack_node[top]
        m = stack_mask[top]
        g = ns + node
        for side in range(2):  # 0: left child, 1: right
            child = left_child[g] if side == 0 else right_child[g]
            agree_mask = m & ~((went_left[node] ^ (1 - side)) << node_unique[g])
            if child >= 0:
                stack_node[top] = child
                stack_mask[top] = agree_mask
                top += 1
                continue
            leaf = leaf_start[t] + ~child
            us = unique_start[leaf]
            d = unique_start[leaf + 1] - us
            mm = agree_mask & ((1 << d) - 1)
            ts = table_start[leaf]
            if ts < 0:
                _untabled_leaf(leaf_value[leaf], d, mm, unique_zero, unique_slot, us, acc, nodes,
                               node_weights, prefix, members)  # fmt: skip
                continue
            out = tables[ts + mm]
            for j in range(d):  # branch-free: the branch would follow the data and mispredict
                bit = (mm >> j) & 1
                agreed = float(bit)
                up = ratio[us + j] * tables[ts + (mm ^ (bit << j))]  # disagreed: reads T[m] again (cached)
                acc[unique_slot[us + j]] += agreed * up - (1.0 - agreed) * out  # exactly one of the two


@numba.njit(cache=True, nogil=True)
def _decide(x_row, t, f, went_left) -> np.uint64:
    """The side taken at each internal node of tree ``t`` (1: left, into ``went_left``) and, for
    trees of up to 64 nodes, the same as a bit pattern. Numeric nodes are decided without branches
    on the data (NaN and zero sides are per-node constants; mispredicted branches cost more than
    the comparisons), categorical ones after them."""
    node_start, cat_node_start = f[0], f[3]
    split_feature, threshold, nan_left, zero_left, cat_nodes, cat_start, cat_len, cat_left = f[5:13]
    ns = node_start[t]
    code = np.uint64(0)
    for k in range(node_start[t + 1] - ns):
        g = ns + k
        x = x_row[split_feature[g]]
        nan = np.int64(x != x)
        special = nan | np.int64((x >= -ZERO_THRESHOLD) & (x <= ZERO_THRESHOLD))
        side = nan * nan_left[g] + (1 - nan) * zero_left[g]
        left = special * side + (1 - special) * np.int64(x <= threshold[g])
        went_left[k] = left
        code |= np.uint64(left) << np.uint64(k & (PATTERN_BITS - 1))
    for c in range(cat_node_start[t], cat_node_start[t + 1]):
        g = cat_nodes[c]
        k = g - ns
        left = _category_left(x_row[split_feature[g]], cat_start[g], cat_len[g], cat_left)
        went_left[k] = left
        bit = np.uint64(1) << np.uint64(k & (PATTERN_BITS - 1))
        code = (code & ~bit) | (np.uint64(left) * bit)
    return code


@numba.njit(cache=True, nogil=True)
def explain_rows(X, out, f, tabled, base_value, max_nodes, max_slots, max_depth, block) -> None:
    """TreeSHAP of every row of ``X`` into ``out`` (n x (features + 1), zeroed by the caller),
    the base value last; ``f`` is the ``Forest`` arrays as a tuple in field order, ``tabled`` what
    :func:`leaf_tables` returns and the weights.

    Rows go in blocks of ``block``: first row by row, the split pattern of every tree (a row's
    features stay in cache), then tree by tree, the contributions of each distinct pattern, added
    to a feature-major accumulator (sequential writes), copied to ``out`` at the end of the block.
    """
    node_start, slot_start, tree_features = f[0], f[2], f[4]
    n, n_features = X.shape
    n_trees = len(node_start) - 1
    size = 16
    while size < 2 * block:
        size *= 2
    shift = np.uint64(64 - int(np.log2(size)))
    keys = np.zeros(size, dtype=np.uint64)
    stamp = np.zeros(size, dtype=np.int64)
    where = np.zeros(size, dtype=np.int64)
    shared = np.zeros((block, max(max_slots, 1)))
    ids = np.zeros(block, dtype=np.int64)
    codes = np.zeros((block, max(n_trees, 1)), dtype=np.uint64)
    acc_t = np.zeros((n_features, block))
    went_left = np.zeros(max(max_nodes, 1), dtype=np.int64)
    prefix = np.zeros((max_depth + 2, max_depth // 2 + 2))  # row 0: the running products
    stack_node = np.zeros(max_nodes + 2, dtype=np.int64)
    stack_mask = np.zeros(max_nodes + 2, dtype=np.int64)
    members = np.zeros(max_depth + 1, dtype=np.int64)
    generation = 0
    for b0 in range(0, n, block):
        rows = min(block, n - b0)
        acc_t[:, :rows] = 0.0
        for i in range(rows):
            for t in range(n_trees):
                codes[i, t] = _decide(X[b0 + i], t, f, went_left)
        for t in range(n_trees):
            fs = slot_start[t]
            k = slot_start[t + 1] - fs
            if k == 0:
                continue
            if node_start[t + 1] - node_start[t] > PATTERN_BITS:  # no pattern: one row at a time
                for i in range(rows):
                    _decide(X[b0 + i], t, f, went_left)
                    _tree_phi(t, went_left, shared[i], f, tabled, stack_node, stack_mask, prefix, members)
                    ids[i] = i
            else:
                generation += 1
                distinct = 0
                for i in range(rows):
                    code = codes[i, t]
                    h = (code * _HASH_MULT) >> shift
                    while stamp[h] == generation and keys[h] != code:
                        h = (h + np.uint64(1)) & np.uint64(size - 1)
                    if stamp[h] != generation:
                        stamp[h] = generation
                        keys[h] = code
                        where[h] = distinct
                        for node in range(node_start[t + 1] - node_start[t]):
                            went_left[node] = (code >> np.uint64(node)) & np.uint64(1)
                        _tree_phi(
                            t, went_left, shared[distinct], f, tabled, stack_node, stack_mask, prefix, members
                        )
                        distinct += 1
                    ids[i] = where[h]
            for s in range(k):
                row = acc_t[tree_features[fs + s]]
                for i in range(rows):
                    row[i] += shared[ids[i], s]
        for i in range(rows):
            for j in range(n_features):
                out[b0 + i, j] = acc_t[j, i]
            out[b0 + i, n_features] = base_value
