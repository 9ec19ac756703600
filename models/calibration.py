"""Probability calibration of a model's raw margin, chosen on the validation cycle.

Boosted trees with early stopping rank well but their probabilities drift, and the policy's
expected values multiply probabilities by money, so they must be calibrated. Two candidates:
Platt scaling (a logistic regression on the margin: smooth, 2 parameters) and isotonic regression
(monotone step function: flexible, needs more data). ``choose`` cross-fits both on two halves of
the validation cycle, keeps the one with the lower held-out log loss, then refits it on the whole
validation cycle. Calibration is monotone, so AUC is unchanged.

A fitted calibrator is a handful of numbers (Platt's two, isotonic's thresholds), so it is stored
as JSON (``to_dict``/``from_dict``): a bundle is read without unpickling anything, and Python's
float repr round-trips every float64 exactly, so a reloaded calibrator gives the same
probabilities.
"""

from __future__ import annotations

from typing import Literal, Required, TypedDict

import numpy as np

from models.metrics import log_loss
from rollcure.core.arrays import FloatArray

Method = Literal["isotonic", "platt", "none"]
#: What ``choose`` is asked for: a method, or ``auto`` for the better of isotonic and Platt.
Choice = Method | Literal["auto"]
_CANDIDATES: tuple[Method, ...] = ("platt", "isotonic")
_EPS = 1e-6


class CalibratorState(TypedDict, total=False):
    """A calibrator as JSON: its method, and Platt's line or the isotonic steps."""

    method: Required[Method]
    coef: float
    intercept: float
    x: list[float]
    y: list[float]


class Calibrator:
    """Maps raw log-odds to a calibrated probability."""

    def __init__(self, method: Method = "platt") -> None:
        if method not in ("isotonic", "platt", "none"):
            raise ValueError(f"calibration method must be isotonic, platt or none, got {method!r}")
        self.method = method

    def fit(self, margin: FloatArray, y: FloatArray) -> Calibrator:
        margin = np.asarray(margin, dtype=float)
        y = np.asarray(y, dtype=float)
        if self.method == "platt":
            from sklearn.linear_model import LogisticRegression

            lr = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y.astype(int))
            self.coef_, self.intercept_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        elif self.method == "isotonic":
            from sklearn.isotonic import IsotonicRegression

            iso = IsotonicRegression(out_of_bounds="clip", y_min=_EPS, y_max=1 - _EPS).fit(margin, y)
            self.x_, self.y_ = iso.X_thresholds_.astype(float), iso.y_thresholds_.astype(float)
        return self

    def transform(self, margin: FloatArray) -> FloatArray:
        """Calibrated probability for each raw margin (vectorised; no sklearn object at predict time)."""
        margin = np.asarray(margin, dtype=float)
        if self.method == "platt":
            return 1.0 / (1.0 + np.exp(-(self.coef_ * margin + self.intercept_)))
        if self.method == "isotonic":
            return np.interp(margin, self.x_, self.y_)
        return 1.0 / (1.0 + np.exp(-margin))

    def to_dict(self) -> CalibratorState:
        """The fitted parameters as JSON-ready values (see :meth:`from_dict`)."""
        out: CalibratorState = {"method": self.method}
        if self.method == "platt":
            out["coef"], out["intercept"] = self.coef_, self.intercept_
        elif self.method == "isotonic":
            out["x"], out["y"] = self.x_.tolist(), self.y_.tolist()
        return out

    @classmethod
    def from_dict(cls, state: CalibratorState) -> Calibrator:
        """A fitted calibrator from :meth:`to_dict`'s values."""
        obj = cls(state["method"])
        if obj.method == "platt":
            obj.coef_, obj.intercept_ = float(state["coef"]), float(state["intercept"])
        elif obj.method == "isotonic":
            obj.x_ = np.asarray(state["x"], dtype=float)
            obj.y_ = np.asarray(state["y"], dtype=float)
        return obj


def choose(
    margin: FloatArray, y: FloatArray, method: Choice = "auto", seed: int = 0
) -> tuple[Calibrator, dict[str, float]]:
    """Fit the requested calibrator, or for ``auto`` the better of isotonic and Platt.

    Returns the fitted calibrator and the cross-fitted validation log loss of each candidate
    (logged to MLflow so a validator sees why one was chosen).
    """
    margin = np.asarray(margin, dtype=float)
    y = np.asarray(y, dtype=float)
    if method != "auto":
        return Calibrator(method).fit(margin, y), {}
    rng = np.random.default_rng(seed)
    half = rng.permutation(len(y)) < len(y) // 2
    scores: dict[str, float] = {}
    for name in _CANDIDATES:
        pred = np.empty(len(y))
        for fold in (half, ~half):
            pred[~fold] = Calibrator(name).fit(margin[fold], y[fold]).transform(margin[~fold])
        scores[name] = log_loss(y, pred)
    best = min(_CANDIDATES, key=scores.__getitem__)
    return Calibrator(best).fit(margin, y), scores
