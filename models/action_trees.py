"""Every action's prediction of an action-response booster, for a block of cases at a time.

Why: the action models (``models.uplift``) see the case's features plus the action, so valuing
every action used to mean predicting each case once per action, seven rows a case. But most trees
never split on the action (on the default book 61-72% of them), and the others decide everything
but the action the same way for every action. So each tree's decisions on the case's features are
made once per case, and only the action splits are decided per action.

How, for the small trees the action models grow (``policy.num_leaves``, default 7): a tree of
``m <= LUT_MAX_NODES`` internal nodes is a function of ``m`` bits, one per split (1: the case goes
left), so its leaf is read from a table of ``2**m`` entries built once per booster; an action
split's bit is set per action from the action's side. The bits are computed for a block of cases
at a time, node by node over the block's cases (a compare of one row of the block's transposed
features with one threshold, a loop simple enough to vectorise), instead of walking one case down one
tree, where every level waits on the one before and half the branches are mispredicted. Measured
5x faster than that walk on the shipped models (``docs/experiments.md``). Larger trees are walked
case by case, carrying the bit mask of the actions still on the path and dividing it at action
splits. Each case's sum runs over the trees in booster order, as LightGBM's ``Predict`` adds them,
so the numbers equal ``Booster.predict`` on the stacked rows (``tests/test_action_trees.py``).

Missing values: a block's features are copied four times, one per (side of NaN, side of zero)
pair a split can have, with NaN and zero (``|x| <= kZeroThreshold``) replaced by -inf (left) or
+inf (right); a numeric split then reads the copy of its own pair and compares, which is
LightGBM's ``NumericalDecision``. Categorical splits on the case's features read the raw value.

The trees come as :class:`models.explain.forest.Forest` arrays (one reading of ``dump_model``); the
action is the booster's last feature, a categorical split on the action's position in ``ACTIONS``.
Only the objectives the action models use are supported (``regression``: identity, ``binary``: the
logistic with its ``sigmoid`` scale); any other is refused with an ``InputError``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numba
import numpy as np

from models.explain.forest import Forest, forest_from_dump
from models.explain.kernels import ZERO_THRESHOLD, _category_left
from rollcure.core.arrays import FloatArray, IntArray
from rollcure.core.errors import InputError

if TYPE_CHECKING:
    import lightgbm as lgb

#: Actions fit in the bits of one int64 mask.
_MAX_ACTIONS = 62
#: Below this many cases per thread a second thread costs more than it saves.
_MIN_CASES_PER_THREAD = 2048
#: Trees with at most this many internal nodes read their leaf from a table of 2**m entries
#: (8 KiB a tree at most); larger ones are walked.
LUT_MAX_NODES = 10
#: The largest table a tree may have (2**16 leaf numbers, 512 KiB): its code fits an int64.
_MAX_TABLE_NODES = 16
#: Cases decided together: their transposed features (4 copies) stay in the core's cache.
_BLOCK = 128


@dataclass(frozen=True)
class ActionForest:
    """One booster's trees and output transform, ready to predict every action of every case."""

    forest: Forest
    #: the logistic's scale for ``binary`` boosters; 0 for ``regression`` (identity)
    sigmoid: float
    max_nodes: int
    #: per tree, 1 if any of its splits is on the action
    has_action: IntArray
    #: per node, the bit mask of the actions an action split sends left (0 at other splits)
    action_left: IntArray
    #: per node: the row of a numeric split in the block's four copies of the features
    #: ((2 * NaN goes left + zero goes left) * case features + feature); 0 at other splits
    x_row: IntArray
    #: per node, 1 at a categorical split on a case feature (not the action)
    case_category: IntArray
    #: per tree, the bits of its action splits (by node number in the tree)
    action_nodes: IntArray
    #: trees x ``_MAX_ACTIONS``: the bits an action sets at the tree's action splits
    action_bits: IntArray
    #: per tree, where its leaf table starts in ``leaf_table`` (-1: the tree is walked)
    table_start: IntArray
    #: the leaf (number within its tree) of every tree's every combination of split bits
    leaf_table: IntArray

    @property
    def n_case_features(self) -> int:
        """Features a case brings: the booster's features less the action (the last)."""
        return self.forest.n_features - 1

    def predict(self, base: FloatArray, n_actions: int, threads: int = 1) -> FloatArray:
        """n x ``n_actions`` predictions (LightGBM's ``predict``: probabilities for ``binary``) of
        the float matrix ``base`` (cases x case features) with the action set to 0..n_actions-1."""
        if base.ndim != 2 or base.shape[1] != self.n_case_features:
            raise InputError(
                f"action trees: expected a cases x {self.n_case_features} matrix, got shape {base.shape}"
            )
        if not 1 <= n_actions <= _MAX_ACTIONS:
            raise InputError(f"action trees: n_actions must be in 1..{_MAX_ACTIONS}, got {n_actions}")
        if threads < 1:
            raise InputError(f"action trees: threads must be >= 1, got {threads}")
        out = np.zeros((base.shape[0], n_actions))
        x = np.ascontiguousarray(base, dtype=np.float64)
        blocks = min(threads, max(1, len(x) // _MIN_CASES_PER_THREAD))
        bounds = np.linspace(0, len(x), blocks + 1).astype(np.int64).tolist()
        spans = list(zip(bounds[:-1], bounds[1:], strict=True))
        f = self.forest
        trees = (
            self.max_nodes, f.node_start, f.split_feature, self.x_row, self.case_category, f.threshold,
            f.cat_start, f.cat_len, f.cat_left, f.left_child, f.right_child, f.leaf_start, f.leaf_value,
            self.action_left, self.action_nodes, self.action_bits, self.table_start, self.leaf_table,
        )  # fmt: skip
        if blocks == 1:  # no pool: starting a thread costs more than one case's whole walk
            _margins(x, out, 0, len(x), n_actions, _BLOCK, *trees)
        else:
            with ThreadPoolExecutor(blocks) as pool:  # the kernel releases the GIL
                done = [pool.submit(_margins, x, out, a, b, n_actions, _BLOCK, *trees) for a, b in spans]
                for job in done:
                    job.result()
        if self.sigmoid > 0:
            out = 1.0 / (1.0 + np.exp(-self.sigmoid * out))
        return out


def action_forest(booster: lgb.Booster, lut_max_nodes: int = LUT_MAX_NODES) -> ActionForest:
    """Read a booster trained with the action as its last feature (``models.uplift``); trees of
    at most ``lut_max_nodes`` internal nodes get a leaf table (0: every tree with a split is walked)."""
    if not 0 <= lut_max_nodes <= _MAX_TABLE_NODES:
        raise InputError(f"action trees: lut_max_nodes must be in 0..{_MAX_TABLE_NODES}, got {lut_max_nodes}")
    dump = booster.dump_model()
    objective = str(dump.get("objective", "")).split()
    sigmoid = 0.0
    if objective[:1] == ["binary"]:
        scale = [p.split(":", 1)[1] for p in objective[1:] if p.startswith("sigmoid:")]
        sigmoid = float(scale[0]) if scale else 1.0
    elif objective[:1] != ["regression"] or len(objective) > 1:
        raise InputError(
            f"action trees: objective {' '.join(objective)!r} is not supported (regression or binary)"
        )
    forest = forest_from_dump(dump)
    if not np.isfinite(forest.threshold).all():  # the copies' +-inf stand-ins need finite thresholds
        raise InputError("action trees: a split threshold is not finite (LightGBM writes at most 1e300)")
    sizes = np.diff(forest.node_start)
    tree_of_node = np.repeat(np.arange(forest.n_trees), sizes)
    n_case = forest.n_features - 1
    action_nodes = forest.split_feature == n_case
    has_action = np.bincount(tree_of_node[action_nodes], minlength=forest.n_trees) > 0
    action_left = np.zeros(len(forest.split_feature), dtype=np.int64)
    for g in np.flatnonzero(action_nodes).tolist():  # a few dozen nodes, once per booster
        start, length = int(forest.cat_start[g]), int(forest.cat_len[g])
        goes_left = forest.cat_left[start : start + length].astype(bool)
        action_left[g] = sum(1 << a for a in np.flatnonzero(goes_left).tolist() if a < _MAX_ACTIONS)
    categorical = forest.cat_start >= 0
    pair = 2 * forest.nan_left.astype(np.int64) + forest.zero_left.astype(np.int64)
    x_row = np.where(categorical | action_nodes, 0, pair * n_case + forest.split_feature)
    position = np.arange(len(forest.split_feature)) - np.repeat(forest.node_start[:-1], sizes)
    table_start, leaf_table = _leaf_tables(forest, lut_max_nodes)
    # the action splits' bits, for the trees read from a table (at most LUT_MAX_NODES nodes)
    tree_action_nodes = np.zeros(forest.n_trees, dtype=np.int64)
    action_bits = np.zeros((forest.n_trees, _MAX_ACTIONS), dtype=np.int64)
    for g in np.flatnonzero(action_nodes & (table_start[tree_of_node] >= 0)).tolist():
        t, bit = int(tree_of_node[g]), np.int64(1) << int(position[g])
        tree_action_nodes[t] |= bit
        action_bits[t] |= np.where((action_left[g] >> np.arange(_MAX_ACTIONS)) & 1 == 1, bit, 0)
    return ActionForest(
        forest=forest,
        sigmoid=sigmoid,
        max_nodes=int(sizes.max(initial=0)),
        has_action=has_action.astype(np.int64),
        action_left=action_left,
        x_row=x_row.astype(np.int64),
        case_category=(categorical & ~action_nodes).astype(np.int64),
        action_nodes=tree_action_nodes,
        action_bits=action_bits,
        table_start=table_start,
        leaf_table=leaf_table,
    )


def _leaf_tables(forest: Forest, lut_max_nodes: int) -> tuple[IntArray, IntArray]:
    """Per tree of at most ``lut_max_nodes`` internal nodes, the leaf each combination of its split
    bits reaches (all combinations walked at once, one level per step); -1 for the others."""
    sizes = np.diff(forest.node_start)
    starts = np.full(forest.n_trees, -1, dtype=np.int64)
    tables: list[np.ndarray] = []
    at = 0
    for t in np.flatnonzero(sizes <= lut_max_nodes).tolist():
        ns, m = int(forest.node_start[t]), int(sizes[t])
        codes = np.arange(1 << m, dtype=np.int64)
        k = np.zeros(len(codes), dtype=np.int64) if m else np.full(1, -1, dtype=np.int64)
        for _ in range(m):  # no path is longer than the tree's internal nodes
            inside = k >= 0
            node = np.where(inside, k, 0)
            goes_left = (codes >> node) & 1
            child = np.where(goes_left == 1, forest.left_child[ns + node], forest.right_child[ns + node])
            k = np.where(inside, child, k)
        starts[t] = at
        tables.append(~k)
        at += len(codes)
    table = np.concatenate(tables) if tables else np.zeros(0, dtype=np.int64)
    return starts, table.astype(np.int64)


@numba.njit(cache=True, nogil=True)
def _margins(
    X, out, lo, hi, n_actions, block, max_nodes, node_start, split_feature, x_row, case_category,
    threshold, cat_start, cat_len, cat_left, left_child, right_child, leaf_start, leaf_value,
    action_left, action_nodes, action_bits, table_start, leaf_table,
):  # fmt: skip
    """Raw margins of cases ``lo..hi`` into ``out``, ``block`` cases at a time: per tree, either
    every case's split bits (node by node over the block) and a table lookup per action, or a
    walk per case carrying the bit mask of the actions still on the path."""
    n_features = X.shape[1]
    n_trees = len(node_start) - 1
    all_actions = (np.int64(1) << n_actions) - 1
    block = max(1, min(block, hi - lo))  # a request of one case needs no 128-case scratch
    copies = np.empty((4 * n_features, block))
    code = np.empty(block, dtype=np.int64)
    value = np.empty(block)
    acc = np.empty((n_actions, block))
    stack_node = np.empty(max_nodes + 2, dtype=np.int64)
    stack_mask = np.empty(max_nodes + 2, dtype=np.int64)
    inf = np.inf
    for b0 in range(lo, hi, block):
        nb = min(block, hi - b0)
        # the four copies: (NaN side, zero side) = (right, right), (right, left), (left, right),
        # (left, left); a special value becomes -inf to go left and +inf to go right
        for f in range(n_features):
            for j in range(nb):
                v = X[b0 + j, f]
                is_nan = v != v
                is_zero = (v >= -ZERO_THRESHOLD) and (v <= ZERO_THRESHOLD)
                special = is_nan or is_zero
                copies[f, j] = inf if special else v
                copies[n_features + f, j] = (-inf if is_zero else inf) if special else v
                copies[2 * n_features + f, j] = (-inf if is_nan else inf) if special else v
                copies[3 * n_features + f, j] = -inf if special else v
        for a in range(n_actions):
            for j in range(nb):
                acc[a, j] = out[b0 + j, a]
        for t in range(n_trees):
            ns = node_start[t]
            ls = leaf_start[t]
            table = table_start[t]
            if table >= 0:
                m = node_start[t + 1] - ns
                act = action_nodes[t]
                for j in range(nb):
                    code[j] = 0
                for k in range(m):
                    g = ns + k
                    if (act >> k) & 1:
                        continue
                    if case_category[g]:
                        for j in range(nb):
                            left = _category_left(
                                X[b0 + j, split_feature[g]], cat_start[g], cat_len[g], cat_left
                            )
                            code[j] |= np.int64(left) << k
                        continue
                    row = copies[x_row[g]]
                    th = threshold[g]
                    for j in range(nb):
                        code[j] |= np.int64(row[j] <= th) << k
                if act == 0:  # one leaf for every action
                    for j in range(nb):
                        value[j] = leaf_value[ls + leaf_table[table + code[j]]]
                    for a in range(n_actions):
                        for j in range(nb):
                            acc[a, j] += value[j]
                else:
                    keep = ~act
                    for a in range(n_actions):
                        bits = action_bits[t, a]
                        for j in range(nb):
                            acc[a, j] += leaf_value[ls + leaf_table[table + ((code[j] & keep) | bits)]]
                continue
            for j in range(nb):  # a large tree: walk it, one case at a time
                top = -1
                k = 0 if node_start[t + 1] > ns else -1
                mask = all_actions
                while True:
                    if k < 0:  # a leaf: ~k is its number in the tree
                        v = leaf_value[ls + ~k]
                        for a in range(n_actions):
                            if (mask >> a) & 1:
                                acc[a, j] += v
                        if top < 0:
                            break
                        k = stack_node[top]
                        mask = stack_mask[top]
                        top -= 1
                        continue
                    g = ns + k
                    if split_feature[g] == n_features:  # the action: each action its own way
                        left_mask = mask & action_left[g]
                        right_mask = mask & ~action_left[g]
                        if left_mask and right_mask:
                            top += 1
                            stack_node[top] = right_child[g]
                            stack_mask[top] = right_mask
                            k, mask = left_child[g], left_mask
                        elif left_mask:
                            k = left_child[g]
                        else:
                            k = right_child[g]
                        continue
                    if case_category[g]:
                        left = _category_left(X[b0 + j, split_feature[g]], cat_start[g], cat_len[g], cat_left)
                    else:
                        left = np.int64(copies[x_row[g], j] <= threshold[g])
                    k = left_child[g] if left else right_child[g]
        for a in range(n_actions):
            for j in range(nb):
                out[b0 + j, a] = acc[a, j]
