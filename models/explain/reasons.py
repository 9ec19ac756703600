"""Per-case SHAP contributions and the top reasons up and down.

The contributions are exact Shapley values of the raw margin (path-dependent TreeSHAP,
``models.explain.treeshap``); LightGBM's ``pred_contrib`` and the ``shap`` package's
TreeExplainer compute the same numbers (tests check all three agree and that contributions plus
the base value equal the margin). Contributions are in log-odds; each is also
translated to probability points as the change in the calibrated probability if that one
contribution were removed: ``pp = 100 · (P(m) − P(m − φ))``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.calibration import Calibrator
from models.classifiers import GBMClassifier
from models.explain.ranking import top_k_columns
from models.feature_spec import FeatureSpec
from models.lgb_input import column_arrays
from models.reason_codes import format_values, reason_code, sentences

#: Columns of the long reasons table (``models.bundle.Reasons``), one array each from :func:`top_reasons`.
REASON_COLUMNS: tuple[str, ...] = (
    "case",
    "target",
    "direction",
    "rank",
    "code",
    "feature",
    "value",
    "contribution",
    "contribution_pp",
    "text",
)


def shap_contributions(model: GBMClassifier, X: pd.DataFrame) -> np.ndarray:
    """The same contributions via ``shap.TreeExplainer``, shape (n, features + 1), base value last."""
    import shap

    explainer = shap.TreeExplainer(model.booster_)
    values = explainer.shap_values(model._frame(X))
    if isinstance(values, list):  # older shap: one array per class
        values = values[-1]
    values = np.asarray(values)
    base = np.ravel(explainer.expected_value)[-1]
    return np.column_stack([values, np.full(len(values), base)])


def _values(
    X: pd.DataFrame, names: list[str], rows: np.ndarray, cols: np.ndarray, spec: list[FeatureSpec]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Raw value and its sentence start for each reason (one pass per feature that appears)."""
    used, inverse = np.unique(cols, return_inverse=True)
    raw = np.empty(len(rows), dtype=object)
    text = np.empty(len(rows), dtype=object)
    for u, (j, values) in enumerate(
        zip(used.tolist(), column_arrays(X, [names[j] for j in used]), strict=True)
    ):
        at = inverse == u
        taken = values[rows[at]]
        raw[at] = np.asarray(taken, dtype=object)
        text[at] = format_values(taken, spec[j])
    return raw, text, used, inverse


def top_reasons(
    contrib: np.ndarray,
    X: pd.DataFrame,
    spec: list[FeatureSpec],
    calibrator: Calibrator,
    target: str,
    top_k: int,
    direction: str,
) -> dict[str, np.ndarray]:
    """The ``top_k`` largest contributions per case in one direction ("up": positive, "down":
    negative), as the ``REASON_COLUMNS`` arrays with rows ordered by case then rank.

    One direction of one target is the unit of work because a decision shows exactly that, and
    formatting (the costly part) then runs only on the reasons kept; ``Bundle.explain`` combines
    targets and directions and ``Reasons.to_frame`` is the one adapter to a frame. ``contrib`` is
    (n, features + 1) with the base value last, columns in ``spec`` order; ``X`` holds the features
    by name (other columns are ignored). A reason is listed only if its contribution is non-zero in
    its direction. Vectorised: the Python loops run over features, never over cases.
    """
    n, f = len(X), len(spec)
    phi = contrib[:, :f]
    margin = contrib.sum(axis=1)
    k = min(top_k, f)
    order = top_k_columns(phi, k, largest=direction == "up")
    rows = np.repeat(np.arange(n), k)
    cols = order.ravel()
    vals = phi[rows, cols]
    keep = vals > 0 if direction == "up" else vals < 0
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    pp = 100.0 * (calibrator.transform(margin[rows]) - calibrator.transform(margin[rows] - vals))
    names = [s.name for s in spec]
    raw, value_text, used, inverse = _values(X, names, rows, cols, spec)
    codes = np.array([reason_code(target, spec[j].group, direction) for j in used.tolist()], dtype=object)
    return {
        "case": rows,
        "target": np.full(len(rows), target, dtype=object),
        "direction": np.full(len(rows), direction, dtype=object),
        "rank": np.tile(np.arange(1, k + 1), n)[keep],
        "code": codes[inverse],
        "feature": np.array(names, dtype=object)[cols],
        "value": raw,
        "contribution": vals,
        "contribution_pp": pp,
        "text": sentences(value_text, target, np.full(len(rows), direction), pp),
    }
