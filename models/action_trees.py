"""Every action's prediction of an action-response booster from one walk of each tree per case.

Why: the action models (``models.uplift``) see the case's features plus the action, so valuing
every action used to mean predicting each case once per action, seven rows a case. But most trees
never split on the action (on the default book 61-72% of them), and the others share the path down
to their first action split. Walking each tree once per case with the *set* of actions still on the
path (a bit mask), divided only at action splits, gives every action's margin for the cost of one
walk in the action-independent trees and a few in the others, instead of seven. Cases are
independent, so they are split over threads (the kernel releases the GIL). Each case's sum runs
over the trees in booster order, as LightGBM's ``Predict`` adds them, so the numbers equal
``Booster.predict`` on the stacked rows (``tests/test_action_trees.py``).

The trees come as :class:`models.explain.forest.Forest` arrays (one reading of ``dump_model``, the
same decisions as LightGBM's numeric and categorical splits with their missing-value sides); the
action is the booster's last feature, a categorical split on the action's position in ``ACTIONS``.
Only the objectives the action models use are supported (``regression``: identity, ``binary``: the
logistic with its ``sigmoid`` scale); any other is refused with an ``InputError``.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numba
import numpy as np

from models.explain.forest import Forest, forest_from_dump
from models.explain.kernels import ZERO_THRESHOLD, _category_left
from rollcure.core.arrays import FloatArray
from rollcure.core.errors import InputError

if TYPE_CHECKING:
    import lightgbm as lgb

#: Actions fit in the bits of one int64 mask.
_MAX_ACTIONS = 62
#: Below this many cases per thread a second thread costs more than it saves.
_MIN_CASES_PER_THREAD = 2048


@dataclass(frozen=True)
class ActionForest:
    """One booster's trees and output transform, ready to predict every action of every case."""

    forest: Forest
    #: the logistic's scale for ``binary`` boosters; 0 for ``regression`` (identity)
    sigmoid: float
    max_nodes: int
    #: per tree, 1 if any of its splits is on the action
    has_action: np.ndarray
    #: per node, the bit mask of the actions an action split sends left (0 at other splits)
    action_left: np.ndarray

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
        arrays = tuple(getattr(self.forest, f.name) for f in fields(self.forest))[2:]  # arrays, in order
        blocks = min(threads, max(1, len(x) // _MIN_CASES_PER_THREAD))
        bounds = np.linspace(0, len(x), blocks + 1).astype(np.int64).tolist()
        spans = list(zip(bounds[:-1], bounds[1:], strict=True))
        walk = (n_actions, self.max_nodes, self.has_action, self.action_left, *arrays)
        if blocks == 1:  # no pool: starting a thread costs more than one case's whole walk
            _margins(x, out, 0, len(x), *walk)
        else:
            with ThreadPoolExecutor(blocks) as pool:  # the kernel releases the GIL
                done = [pool.submit(_margins, x, out, a, b, *walk) for a, b in spans]
                for job in done:
                    job.result()
        if self.sigmoid > 0:
            out = 1.0 / (1.0 + np.exp(-self.sigmoid * out))
        return out


def action_forest(booster: lgb.Booster) -> ActionForest:
    """Read a booster trained with the action as its last feature (``models.uplift``)."""
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
    sizes = np.diff(forest.node_start)
    tree_of_node = np.repeat(np.arange(forest.n_trees), sizes)
    action_nodes = forest.split_feature == forest.n_features - 1
    has_action = np.bincount(tree_of_node[action_nodes], minlength=forest.n_trees) > 0
    action_left = np.zeros(len(forest.split_feature), dtype=np.int64)
    for g in np.flatnonzero(action_nodes).tolist():  # a few dozen nodes, once per booster
        start, length = int(forest.cat_start[g]), int(forest.cat_len[g])
        goes_left = forest.cat_left[start : start + length].astype(bool)
        action_left[g] = sum(1 << a for a in np.flatnonzero(goes_left).tolist() if a < _MAX_ACTIONS)
    return ActionForest(
        forest=forest,
        sigmoid=sigmoid,
        max_nodes=int(sizes.max(initial=0)),
        has_action=has_action.astype(np.int64),
        action_left=action_left,
    )


@numba.njit(cache=True, nogil=True)
def _margins(
    X, out, lo, hi, n_actions, max_nodes, has_action, action_left,
    node_start, leaf_start, slot_start, cat_node_start, tree_features, split_feature, threshold,
    nan_left, zero_left, cat_nodes, cat_start, cat_len, cat_left, left_child, right_child,
    node_unique, leaf_value, unique_start, unique_slot, unique_zero,
):  # fmt: skip
    """Raw margins of cases ``lo..hi`` into ``out``: per tree, a depth-first walk carrying the bit
    mask of the actions on the path; a split on the action (the feature after the case's last)
    divides the mask, any other split sends the whole mask one way."""
    action_feature = X.shape[1]
    all_actions = (np.int64(1) << n_actions) - 1
    stack_node = np.empty(max_nodes + 2, dtype=np.int64)
    stack_mask = np.empty(max_nodes + 2, dtype=np.int64)
    n_trees = len(node_start) - 1
    for i in range(lo, hi):
        x = X[i]
        for t in range(n_trees):
            ns = node_start[t]
            if node_start[t + 1] == ns:  # a single leaf
                v = leaf_value[leaf_start[t]]
                for a in range(n_actions):
                    out[i, a] += v
                continue
            # the numeric and categorical decision below is written out in both walks: as a shared
            # numba function (inlined or not) the kernel ran four times slower (measured)
            if not has_action[t]:  # the same leaf for every action: one plain walk
                k = 0
                while k >= 0:
                    g = ns + k
                    value = x[split_feature[g]]
                    if cat_start[g] >= 0:
                        left = _category_left(value, cat_start[g], cat_len[g], cat_left)
                    elif value != value:
                        left = nan_left[g]
                    elif -ZERO_THRESHOLD <= value <= ZERO_THRESHOLD:
                        left = zero_left[g]
                    else:
                        left = np.int64(value <= threshold[g])
                    k = left_child[g] if left else right_child[g]
                v = leaf_value[leaf_start[t] + ~k]
                for a in range(n_actions):
                    out[i, a] += v
                continue
            # the walk carries the mask of the actions still on the path; an action split sends
            # each action its own way (one side waits on the stack), any other split all of them
            top = -1
            k = 0
            mask = all_actions
            while True:
                if k < 0:  # a leaf: ~k is its number in the tree
                    v = leaf_value[leaf_start[t] + ~k]
                    for a in range(n_actions):
                        if (mask >> a) & 1:
                            out[i, a] += v
                    if top < 0:
                        break
                    k = stack_node[top]
                    mask = stack_mask[top]
                    top -= 1
                    continue
                g = ns + k
                feature = split_feature[g]
                if feature == action_feature:
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
                value = x[feature]
                if cat_start[g] >= 0:
                    left = _category_left(value, cat_start[g], cat_len[g], cat_left)
                elif value != value:
                    left = nan_left[g]
                elif -ZERO_THRESHOLD <= value <= ZERO_THRESHOLD:
                    left = zero_left[g]
                else:
                    left = np.int64(value <= threshold[g])
                k = left_child[g] if left else right_child[g]
