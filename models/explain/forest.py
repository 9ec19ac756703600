"""A LightGBM booster's trees as flat arrays, read once from ``Booster.dump_model()``.

Why: the TreeSHAP kernels (``models.explain.kernels``) are compiled numba loops, which take arrays,
not nested dicts; and everything TreeSHAP needs per leaf that does not depend on the row is worked
out here, once per booster, instead of once per row as LightGBM's recursive ``pred_contrib`` does.
For each leaf that is the distinct features on its root-to-leaf path with their *zero fractions*
(the product of ``count(child) / count(node)`` over the path's splits on that feature) and the
leaf's value; for each internal node, its children and the position of its feature among the
distinct features above it (the bit it sets in the masks of the leaves below). The exact Shapley
formula of path-dependent TreeSHAP then only needs, per row, which path features the row agrees
with (a bit mask per leaf); the kernels tabulate each leaf's weights over every mask.

Decisions follow LightGBM's ``Tree::NumericalDecision`` and ``CategoricalDecision``: ``<=`` on
numbers; ``missing_type`` None (NaN read as 0), Zero (0 and NaN take the default side) and NaN
(NaN takes the default side); categories in the split's set go left, NaN, negative and unseen
codes go right. Linear trees, several trees per iteration (multiclass) and averaged output (random
forest mode) are not TreeSHAP of one margin as computed here: they are refused with an
``InputError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from rollcure.core.arrays import FloatArray, IntArray
from rollcure.core.errors import InputError

#: LightGBM's ``missing_type`` names, as the kernels' codes.
MISSING_TYPES: dict[str, int] = {"None": 0, "Zero": 1, "NaN": 2}
#: A dump node as ``json`` gives it (nested dicts, lists, numbers and strings).
Node = Mapping[str, object]


@dataclass(frozen=True)
class Forest:
    """The trees of one booster. ``*_start`` arrays have one entry per tree (or leaf) plus one.

    Nodes are internal nodes, numbered within their tree by LightGBM's ``split_index`` (and
    globally by ``node_start[tree] + split_index``); each
    tree's distinct split features get *slots* ``0..k-1`` (``tree_features``), and each leaf's
    distinct path features are listed by slot with their zero fraction.
    """

    n_features: int
    base_value: float
    node_start: IntArray
    leaf_start: IntArray
    slot_start: IntArray
    cat_node_start: IntArray
    tree_features: IntArray
    split_feature: IntArray
    threshold: FloatArray
    #: the side (1: left) of a NaN, and of a zero, at each node (categorical nodes: see cat_nodes)
    nan_left: IntArray
    zero_left: IntArray
    #: the categorical nodes (global numbers), tree by tree, and their category sets
    cat_nodes: IntArray
    cat_start: IntArray
    cat_len: IntArray
    cat_left: IntArray
    #: children by number in the tree (``~k``: the tree's k-th leaf); the node's feature's position
    #: among the distinct features on its path (the bit it sets in the leaves' masks below it)
    left_child: IntArray
    right_child: IntArray
    node_unique: IntArray
    leaf_value: FloatArray
    unique_start: IntArray
    unique_slot: IntArray
    unique_zero: FloatArray

    @property
    def n_trees(self) -> int:
        return len(self.node_start) - 1


class _Builder:
    """Accumulates the arrays tree by tree (plain lists; converted once at the end)."""

    def __init__(self) -> None:
        self.cols: dict[str, list[float]] = {name: [] for name in _LIST_FIELDS}
        self.starts: dict[str, list[int]] = {name: [0] for name in _START_FIELDS}

    def add_tree(self, tree: Node) -> float:
        """Flatten one tree; returns its expected value (LightGBM's ``Tree::ExpectedValue``)."""
        root = _child(tree, "tree_structure")
        slots: dict[int, int] = {}
        leaves: list[tuple[float, float]] = []
        nodes: dict[int, tuple[Node, int, int, int]] = {}
        self._walk(root, [], slots, leaves, nodes)
        if sorted(nodes) != list(range(len(nodes))):
            raise InputError("explain: malformed tree dump (split_index is not 0..n-1)")
        for index in range(len(nodes)):
            self._node(*nodes[index], self.starts["node_start"][-1] + index)
        self.cols["tree_features"].extend(slots)  # slots are numbered in insertion order
        ends = {"node_start": "split_feature", "leaf_start": "leaf_value", "cat_node_start": "cat_nodes"}
        for name, field in ends.items():
            self.starts[name].append(len(self.cols[field]))
        self.starts["slot_start"].append(len(self.cols["tree_features"]))
        if "leaf_value" in root:
            return float(root["leaf_value"])  # type: ignore[arg-type]
        total = float(root["internal_count"])  # type: ignore[arg-type]
        return sum(count / total * value for value, count in leaves)

    def _walk(
        self,
        node: Node,
        path: list[tuple[int, float]],
        slots: dict[int, int],
        leaves: list[tuple[float, float]],
        nodes: dict[int, tuple[Node, int, int, int]],
    ) -> int:
        """Depth first, left child first; returns the node's number in its tree (``~leaf`` for
        the tree's ``leaf``-th leaf). ``path``: (feature, count ratio) of the edges above."""
        if "leaf_value" in node:
            if "leaf_coeff" in node:
                raise InputError("explain: linear trees (linear_tree=true) are not supported by TreeSHAP")
            self._leaf(node, path, slots)
            leaves.append((float(node["leaf_value"]), float(node.get("leaf_count", 0))))  # type: ignore[arg-type]
            return ~(len(leaves) - 1)
        index = int(node["split_index"])  # type: ignore[call-overload]
        feature = int(node["split_feature"])  # type: ignore[call-overload]
        slots.setdefault(feature, len(slots))
        distinct = list(dict.fromkeys(f for f, _ in path))
        unique = distinct.index(feature) if feature in distinct else len(distinct)
        count = float(node["internal_count"])  # type: ignore[arg-type]
        left, right = (
            self._walk(child, [*path, (feature, _count(child) / count)], slots, leaves, nodes)
            for child in (_child(node, "left_child"), _child(node, "right_child"))
        )
        nodes[index] = (node, left, right, unique)
        return index

    def _node(self, node: Node, left: int, right: int, unique: int, number: int) -> None:
        c = self.cols
        c["left_child"].append(left)
        c["right_child"].append(right)
        c["node_unique"].append(unique)
        c["split_feature"].append(int(node["split_feature"]))  # type: ignore[call-overload]
        missing = MISSING_TYPES[str(node["missing_type"])]
        default_left = int(bool(node["default_left"]))
        if node["decision_type"] == "==":
            left_set = [int(v) for v in str(node["threshold"]).split("||")]
            c["threshold"].append(0.0)
            c["nan_left"].append(0)
            c["zero_left"].append(0)
            c["cat_nodes"].append(number)
            c["cat_start"].append(len(c["cat_left"]))
            c["cat_len"].append(max(left_set) + 1)
            member = np.zeros(max(left_set) + 1, dtype=np.int64)
            member[left_set] = 1
            c["cat_left"].extend(member.tolist())
        elif node["decision_type"] == "<=":
            threshold = float(node["threshold"])  # type: ignore[arg-type]
            zero_left = int(0.0 <= threshold)  # None: NaN is read as 0; Zero: 0 and NaN are missing
            c["threshold"].append(threshold)
            c["nan_left"].append(default_left if missing else zero_left)
            c["zero_left"].append(default_left if missing == MISSING_TYPES["Zero"] else zero_left)
            c["cat_start"].append(-1)
            c["cat_len"].append(0)
        else:
            raise InputError(f"explain: unknown decision_type {node['decision_type']!r}")

    def _leaf(self, node: Node, path: list[tuple[int, float]], slots: dict[int, int]) -> None:
        c = self.cols
        zero: dict[int, float] = {}
        for feature, ratio in path:
            zero[feature] = zero.get(feature, 1.0) * ratio
        c["unique_slot"].extend(slots[f] for f in zero)
        c["unique_zero"].extend(zero.values())
        c["leaf_value"].append(float(node["leaf_value"]))  # type: ignore[arg-type]
        self.starts["unique_start"].append(len(c["unique_slot"]))


_FLOAT_FIELDS = ("threshold", "leaf_value", "unique_zero")
_LIST_FIELDS = (
    "tree_features", "split_feature", "threshold", "nan_left", "zero_left", "cat_nodes", "cat_start",
    "cat_len", "cat_left", "left_child", "right_child", "node_unique", "leaf_value", "unique_slot",
    "unique_zero",
)  # fmt: skip
_START_FIELDS = ("node_start", "leaf_start", "slot_start", "cat_node_start", "unique_start")


def _child(node: Node, key: str) -> Node:
    child = node[key]
    if not isinstance(child, Mapping):
        raise InputError(f"explain: malformed tree dump ({key} is not a node)")
    return child


def _count(node: Node) -> float:
    return float(node["leaf_count" if "leaf_value" in node else "internal_count"])  # type: ignore[arg-type]


def forest_from_dump(dump: Node) -> Forest:
    """The flat arrays of ``booster.dump_model(num_iteration=...)``.

    >>> forest_from_dump({"num_tree_per_iteration": 1, "max_feature_idx": 0, "tree_info": [
    ...     {"tree_structure": {"leaf_value": 0.5}}]}).base_value
    0.5
    """
    if int(dump.get("num_tree_per_iteration", 1)) != 1:  # type: ignore[call-overload]
        raise InputError("explain: one tree per iteration expected (multiclass boosters are not supported)")
    if dump.get("average_output"):
        raise InputError("explain: averaged output (boosting=rf) is not supported")
    trees = dump["tree_info"]
    if not isinstance(trees, list):
        raise InputError("explain: malformed dump (tree_info is not a list)")
    builder = _Builder()
    base = sum(builder.add_tree(tree) for tree in trees)
    arrays: dict[str, np.ndarray] = {
        name: np.asarray(values, dtype=np.float64 if name in _FLOAT_FIELDS else np.int64)
        for name, values in builder.cols.items()
    }
    arrays.update({name: np.asarray(v, dtype=np.int64) for name, v in builder.starts.items()})
    return Forest(n_features=int(dump["max_feature_idx"]) + 1, base_value=float(base), **arrays)  # type: ignore[call-overload]
