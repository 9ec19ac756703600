"""Exact TreeSHAP contributions of a LightGBM booster, the same numbers as ``pred_contrib``.

Why not LightGBM's own: ``predict(pred_contrib=True)`` walks the TreeSHAP recursion row by row, and
on the shipped models it costs 50-70 times the prediction; explanations were the batch scorer's
ceiling. :func:`tree_shap` reads the booster once (``models.explain.forest``), tabulates each leaf's
TreeSHAP weights and hands rows to the compiled kernel (``models.explain.kernels``), which also
computes each tree's contributions once per distinct split pattern in a block of rows. The values equal
``pred_contrib`` to rounding (the tests hold them to 1e-9 on the shipped models, on random rows with
NaNs and unseen categories, and on random small boosters), with the base value in the last column,
so contributions still sum to the margin. Threads split the rows into contiguous blocks (the kernel
releases the GIL); a row's values do not depend on the block it is in, so they do not depend on the
number of threads either.

>>> import lightgbm as lgb, numpy as np
>>> X = np.random.default_rng(0).normal(size=(500, 3))
>>> booster = lgb.train({"objective": "binary", "verbosity": -1}, lgb.Dataset(X, X[:, 0] > 0), 5)
>>> phi = tree_shap(booster).contributions(X[:4])
>>> bool(np.allclose(phi, booster.predict(X[:4], pred_contrib=True), rtol=0, atol=1e-12))
True
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING

import numpy as np

from models.explain.forest import Forest, forest_from_dump
from models.explain.kernels import explain_rows, leaf_tables
from rollcure.core.arrays import FloatArray, IntArray
from rollcure.core.cores import usable_cores
from rollcure.core.errors import InputError

if TYPE_CHECKING:
    import lightgbm as lgb

#: Leaves with up to this many distinct path features get a weight table (2^d entries; deeper
#: tables cost a cache miss per lookup, more than the quadrature they replace)...
MAX_TABLE_BITS = 10
#: ...while all tables together stay under this many entries (8 bytes each: 64 MiB).
TABLE_BUDGET = 1 << 23
#: Rows per kernel block: as many as fit in this many bytes of per-row scratch (a pattern per
#: tree, an accumulator per feature), within the row bounds. Patterns are shared within a block,
#: so larger blocks share more (on the shipped models 16k rows were ~25% faster than 2k).
BLOCK_BYTES = 24 << 20
BLOCK_ROWS = (256, 16384)
#: Fewer rows than this per extra thread run on one thread (starting threads costs more).
MIN_ROWS_PER_THREAD = 64


@dataclass(frozen=True)
class TreeShap:
    """A booster ready to explain: its flat trees and the leaves' weight tables."""

    forest: Forest
    table_start: IntArray
    tables: FloatArray
    ratio: FloatArray
    #: Gauss-Jacobi rules on [0, 1] for the weight (1-u)^α: nodes[α, q, :q], node_weights[α, q, :q]
    nodes: FloatArray
    node_weights: FloatArray
    #: the forest's arrays in field order (what the kernel unpacks) and its scratch sizes
    arrays: tuple[np.ndarray, ...]
    sizes: tuple[int, int, int]

    def contributions(self, X: FloatArray, threads: int = 1) -> FloatArray:
        """SHAP values of the raw margin, shape (n, features + 1), the base value last.

        ``X`` is the float matrix LightGBM predicts from (``GBMClassifier.matrix``), columns in the
        booster's feature order. ``threads`` >= 1; results are identical for any number.
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        f = self.forest
        if X.ndim != 2 or X.shape[1] != f.n_features:
            raise InputError(f"explain: expected {f.n_features} feature columns, got shape {X.shape}")
        if threads < 1:
            raise InputError(f"explain: threads must be >= 1, got {threads}")
        out = np.zeros((len(X), f.n_features + 1))
        blocks = min(threads, max(1, len(X) // MIN_ROWS_PER_THREAD))
        bounds = np.linspace(0, len(X), blocks + 1).astype(np.int64)
        if blocks == 1:
            self._run(X, out)
        else:
            with ThreadPoolExecutor(blocks) as pool:
                spans = zip(bounds[:-1], bounds[1:], strict=True)
                done = [pool.submit(self._run, X[a:b], out[a:b]) for a, b in spans]
                for job in done:
                    job.result()
        return out

    def _run(self, X: FloatArray, out: FloatArray) -> None:
        tabled = (self.table_start, self.tables, self.ratio, self.nodes, self.node_weights)
        explain_rows(X, out, self.arrays, tabled, self.forest.base_value, *self.sizes, self._block(len(X)))

    def _block(self, n: int) -> int:
        per_row = 8 * (self.forest.n_trees + self.forest.n_features + 1)
        low, high = BLOCK_ROWS
        return max(1, min(n, high, max(low, BLOCK_BYTES // per_row)))


def _sizes(f: Forest) -> tuple[int, int, int]:
    """Largest internal-node count, slot count and leaf path depth over the trees (scratch sizes)."""
    nodes = int(np.diff(f.node_start).max(initial=0))
    slots = int(np.diff(f.slot_start).max(initial=0))
    depth = int(np.diff(f.unique_start).max(initial=0))
    return nodes, slots, depth


def _gauss_jacobi(max_depth: int) -> tuple[FloatArray, FloatArray]:
    """The q-point Gauss-Jacobi rules for ``∫_0^1 (1-u)^α p(u) du`` (exact for degree 2q - 1), for
    every α and q a leaf of ``max_depth`` path features may need."""
    from scipy.special import roots_jacobi

    alphas, rules = max_depth + 1, (max_depth + 2) // 2 + 1
    nodes, node_weights = np.zeros((alphas, rules, rules)), np.zeros((alphas, rules, rules))
    for alpha in range(alphas):
        for q in range(1, rules):
            x, w = roots_jacobi(q, float(alpha), 0.0)
            nodes[alpha, q, :q], node_weights[alpha, q, :q] = (1.0 + x) / 2.0, w / 2.0 ** (alpha + 1)
    return nodes, node_weights


def explainer_from_dump(
    dump: dict, max_table_bits: int = MAX_TABLE_BITS, table_budget: int = TABLE_BUDGET
) -> TreeShap:
    """A :class:`TreeShap` from ``Booster.dump_model()`` output (the tests vary the table limits)."""
    forest = forest_from_dump(dump)
    depth = np.diff(forest.unique_start)
    if len(depth) and depth.max() >= 63:
        raise InputError(f"explain: a leaf has {depth.max()} distinct features on its path (at most 62)")
    start, tables, ratio = leaf_tables(forest.leaf_value, forest.unique_start, forest.unique_zero,
                                       max_table_bits, table_budget)  # fmt: skip
    arrays = tuple(getattr(forest, field.name) for field in fields(forest))[2:]  # after the two scalars
    sizes = _sizes(forest)
    return TreeShap(forest, start, tables, ratio, *_gauss_jacobi(sizes[2]), arrays, sizes)


def default_threads() -> int:
    """``OMP_NUM_THREADS`` when it is a positive integer (the service sets it for LightGBM, and
    dask gives each worker process 1), else the cores this process may use, as LightGBM itself
    does: the local engine, notebooks and tests. The kernels split cases over threads only when
    each thread gets enough of them, and give the same bits on any number of threads."""
    value = os.environ.get("OMP_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else usable_cores()


def tree_shap(booster: lgb.Booster, num_iteration: int | None = None) -> TreeShap:
    """The explainer of ``booster``'s first ``num_iteration`` iterations (all when ``None``)."""
    return explainer_from_dump(booster.dump_model(num_iteration=num_iteration))
