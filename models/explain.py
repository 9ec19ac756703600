"""Per-case SHAP contributions and the top reasons up and down.

LightGBM's own TreeSHAP (``pred_contrib``) gives exact Shapley values of the raw margin; the
``shap`` package's TreeExplainer computes the same numbers (tests check both agree and that
contributions plus the base value equal the margin). Contributions are in log-odds; each is also
translated to probability points as the change in the calibrated probability if that one
contribution were removed: ``pp = 100 · (P(m) − P(m − φ))``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.calibration import Calibrator
from models.classifiers import GBMClassifier
from models.feature_spec import FeatureSpec
from models.reason_codes import format_values, reason_code, sentences

#: Columns of the long reasons frame returned by :func:`top_reasons`.
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


def _codes(target: str, groups: np.ndarray, direction: str) -> np.ndarray:
    """Reason codes for many reasons at once (one code per distinct group, then gathered)."""
    distinct, inverse = np.unique(groups.astype(str), return_inverse=True)
    table = np.array([reason_code(target, g, direction) for g in distinct], dtype=object)
    return table[inverse] if len(groups) else np.array([], dtype=object)


def top_reasons(
    contrib: np.ndarray,
    X: pd.DataFrame,
    spec: list[FeatureSpec],
    calibrator: Calibrator,
    target: str,
    top_k: int,
) -> pd.DataFrame:
    """The ``top_k`` largest positive and negative contributions per case, as a long frame.

    ``contrib`` is (n, features + 1) with the base value last, columns in ``spec`` order. A
    reason is listed only if its contribution is non-zero in its direction. Vectorised: the
    Python loops run over features and ranks, never over cases.
    """
    n, f = len(X), len(spec)
    phi = contrib[:, :f]
    margin = contrib.sum(axis=1)
    k = min(top_k, f)
    order_up = np.argsort(-phi, axis=1, kind="stable")[:, :k]
    order_dn = np.argsort(phi, axis=1, kind="stable")[:, :k]
    frames = []
    for direction, order in (("up", order_up), ("down", order_dn)):
        rows = np.repeat(np.arange(n), k)
        cols = order.ravel()
        vals = phi[rows, cols]
        keep = vals > 0 if direction == "up" else vals < 0
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        pp = 100.0 * (calibrator.transform(margin[rows]) - calibrator.transform(margin[rows] - vals))
        value_text = np.empty(len(rows), dtype=object)
        raw_values = np.empty(len(rows), dtype=object)
        for j in np.unique(cols):
            at = cols == j
            column = X[spec[j].name].iloc[rows[at]]
            value_text[at] = format_values(column, spec[j])
            raw_values[at] = column.astype(object).to_numpy()
        groups = np.array([s.group for s in spec], dtype=object)[cols]
        frames.append(
            pd.DataFrame(
                {
                    "case": rows,
                    "target": target,
                    "direction": direction,
                    "rank": np.tile(np.arange(1, k + 1), n)[keep],
                    "code": _codes(target, groups, direction),
                    "feature": np.array([s.name for s in spec], dtype=object)[cols],
                    "value": raw_values,
                    "contribution": vals,
                    "contribution_pp": pp,
                    "text": sentences(value_text, target, np.full(len(rows), direction), pp),
                }
            )
        )
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(
        ["case", "direction", "rank"], ascending=[True, False, True], kind="stable"
    ).reset_index(drop=True)[list(REASON_COLUMNS)]
