"""LightGBM binary classifier with native categoricals, monotone constraints and early stopping.

A thin wrapper over ``lightgbm.train`` that keeps the Booster (the sklearn wrapper costs ~2 ms per
call in serving) and remembers the feature order and categories it was trained with, so a frame
with the columns in another order, or strings instead of categories, is scored the same way.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, TypedDict

import numpy as np
import pandas as pd

from models.lgb_input import as_lgb_matrix
from rollcure.config.model import LightGBMParams
from rollcure.core.arrays import FloatArray
from rollcure.core.errors import InputError

if TYPE_CHECKING:
    import lightgbm as lgb

    from models.explain.treeshap import TreeShap

#: LightGBM parameters as ``lightgbm.train`` takes them (numbers, strings, the constraint list).
LGBParams = dict[str, float | int | str | bool | list[int]]
#: The training and (optional) validation datasets of :meth:`GBMClassifier.bin`.
Binned = tuple["lgb.Dataset", "lgb.Dataset | None"]


class ClassifierState(TypedDict):
    """A fitted classifier as JSON-ready values plus LightGBM's model text (see ``to_state``)."""

    model: str
    features: list[str]
    categories: dict[str, list[object]]
    monotone: list[int] | None
    seed: int
    params: dict[str, object]


def monotone_vector(
    features: Sequence[str],
    directions: Mapping[str, int],
    target: str,
    overrides: Mapping[str, int] | None = None,
) -> list[int]:
    """Monotone constraint per feature for ``target``.

    ``directions`` is the registry's direction of each feature's effect on roll-forward risk;
    cure is the opposite event, so its constraints are reversed. Overrides (also stated for
    roll-forward) win over the registry.
    """
    merged = {**directions, **(overrides or {})}
    sign = {"roll_forward": 1, "cure": -1}.get(target)
    if sign is None:
        raise ValueError(f"target must be 'roll_forward' or 'cure', got {target!r}")
    return [int(sign * merged.get(name, 0)) for name in features]


@contextlib.contextmanager
def _quiet_reference_warning() -> Iterator[None]:
    """The validation set takes the training set's bins; LightGBM reports the (intended) param
    differences between them and the booster as a warning on every fit."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Overriding the parameters from Reference Dataset")
        yield


def categories_of(X: pd.DataFrame) -> dict[str, list[object]]:
    """The categorical columns of ``X`` and their categories, in column order: what a fit
    remembers, and what every matrix of the fit's features is coded with."""
    return {c: list(X[c].cat.categories) for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)}


class GBMClassifier:
    """One binary LightGBM model; ``predict_margin`` is the raw log-odds the explanations add up to."""

    def __init__(self, params: LightGBMParams, monotone: Sequence[int] | None = None, seed: int = 0) -> None:
        self.params = params
        self.monotone = list(monotone) if monotone is not None else None
        self.seed = seed

    def _lgb_params(self) -> LGBParams:
        p = self.params
        params: LGBParams = {
            "objective": "binary",
            "learning_rate": p.learning_rate,
            "num_leaves": p.num_leaves,
            "max_depth": p.max_depth,
            "min_child_samples": p.min_child_samples,
            "feature_fraction": p.feature_fraction,
            "bagging_fraction": p.bagging_fraction,
            "bagging_freq": p.bagging_freq,
            "lambda_l2": p.lambda_l2,
            "max_bin": p.max_bin,
            "cat_smooth": p.cat_smooth,
            "num_threads": p.num_threads,
            "seed": self.seed,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }
        if self.monotone is not None and any(self.monotone):
            params["monotone_constraints"] = self.monotone
            params["monotone_constraints_method"] = p.monotone_constraints_method
        return params

    def bin(self, X: pd.DataFrame, X_valid: pd.DataFrame | None = None) -> Binned:
        """LightGBM datasets of the features, binned once; ``fit(..., binned=...)`` reuses them for
        models with the same parameters. LightGBM stores monotone constraints in the Dataset, so
        models with other constraints (cure vs roll-forward) must not share them."""
        import lightgbm as lgb

        self._remember_columns(X)
        params = self._lgb_params()
        train = lgb.Dataset(
            self._frame(X), label=np.zeros(len(X)), params=params, free_raw_data=True
        ).construct()
        valid = None
        if X_valid is not None:
            with _quiet_reference_warning():
                valid = lgb.Dataset(
                    self._frame(X_valid), label=np.zeros(len(X_valid)), params=params, reference=train
                ).construct()
        return train, valid

    def _remember_columns(self, X: pd.DataFrame) -> None:
        self.features_: list[str] = list(X.columns)
        self.categories_: dict[str, list[object]] = categories_of(X)

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        X_valid: pd.DataFrame | None = None,
        y_valid: np.ndarray | None = None,
        binned: Binned | None = None,
    ) -> GBMClassifier:
        import lightgbm as lgb

        self._remember_columns(X)
        if self.monotone is not None and len(self.monotone) != len(self.features_):
            raise ValueError(f"monotone has {len(self.monotone)} entries for {len(self.features_)} features")
        train, valid = binned if binned is not None else self.bin(X, X_valid)
        train.set_label(np.asarray(y, dtype=float))
        valid_sets: list[lgb.Dataset] = []
        callbacks: list[Callable[..., object]] = []
        if valid is not None and y_valid is not None:
            valid.set_label(np.asarray(y_valid, dtype=float))
            valid_sets = [valid]
            callbacks = [lgb.early_stopping(self.params.early_stopping_rounds, verbose=False)]
        with _quiet_reference_warning():
            self.booster_ = lgb.train(
                self._lgb_params(),
                train,
                num_boost_round=self.params.num_boost_round,
                valid_sets=valid_sets,
                callbacks=callbacks,
            )
        self.best_iteration_ = int(self.booster_.best_iteration or self.booster_.current_iteration())
        return self

    def _frame(self, X: pd.DataFrame) -> pd.DataFrame:
        """Columns in training order; categorical columns re-encoded with the training categories."""
        missing = [c for c in self.features_ if c not in X.columns]
        if missing:
            raise InputError(f"features: missing column(s) {missing[:5]}")
        X = X[self.features_]
        recast = {
            c: pd.Categorical(X[c].astype(object).where(X[c].notna(), None), categories=cats)
            for c, cats in self.categories_.items()
            if not (isinstance(X[c].dtype, pd.CategoricalDtype) and list(X[c].cat.categories) == cats)
        }
        return X.assign(**recast) if recast else X

    def matrix(self, X: pd.DataFrame) -> FloatArray:
        """The float matrix LightGBM reads: training column order, categories re-encoded to the
        training ones. Compute it once and pass it to several predictions of the same frame."""
        return as_lgb_matrix(X, self.features_, self.categories_)

    def _input(self, X: pd.DataFrame | FloatArray) -> FloatArray:
        return X if isinstance(X, np.ndarray) else self.matrix(X)

    def predict_margin(self, X: pd.DataFrame | FloatArray) -> FloatArray:
        """Raw score in log-odds, using the early-stopped number of trees (``X``: frame or ``matrix(X)``)."""
        margin = self.booster_.predict(self._input(X), raw_score=True, num_iteration=self.best_iteration_)
        return dense_prediction(margin)

    def predict_proba(self, X: pd.DataFrame | FloatArray) -> FloatArray:
        """Uncalibrated probability (logistic of the margin)."""
        return 1.0 / (1.0 + np.exp(-self.predict_margin(X)))

    def contributions(self, X: pd.DataFrame | FloatArray, threads: int | None = None) -> FloatArray:
        """TreeSHAP contributions in log-odds, shape (n, features + 1); the last column is the base value.

        Computed by :meth:`explainer` (the values of LightGBM's ``pred_contrib``, which the tests
        hold them to, about ten times faster). ``threads``: by default
        ``models.explain.treeshap.default_threads()`` (``OMP_NUM_THREADS``, else this process's cores).
        """
        from models.explain.treeshap import default_threads  # models.explain imports this module

        threads = default_threads() if threads is None else threads
        return self.explainer().contributions(self._input(X), threads)

    def explainer(self) -> TreeShap:
        """The booster's exact TreeSHAP (``models.explain.tree_shap``), read from it on first use."""
        from models.explain.treeshap import tree_shap

        cached = getattr(self, "_tree_shap", None)  # (booster, iteration, explainer)
        if cached is None or cached[0] is not self.booster_ or cached[1] != self.best_iteration_:
            cached = (self.booster_, self.best_iteration_, tree_shap(self.booster_, self.best_iteration_))
            self._tree_shap = cached
        return cached[2]

    def feature_importance(self) -> pd.Series:
        """Total gain per feature, for the report."""
        gain = self.booster_.feature_importance(importance_type="gain", iteration=self.best_iteration_)
        return pd.Series(gain, index=self.features_).sort_values(ascending=False)

    # the Booster is saved as LightGBM's own text format (inspectable, exact round trip)
    def to_state(self) -> ClassifierState:
        return {
            "model": self.booster_.model_to_string(num_iteration=self.best_iteration_),
            "features": self.features_,
            "categories": self.categories_,
            "monotone": self.monotone,
            "seed": self.seed,
            "params": self.params.model_dump(),
        }

    @classmethod
    def from_state(cls, state: ClassifierState) -> GBMClassifier:
        import lightgbm as lgb

        obj = cls(LightGBMParams.model_validate(state["params"]), state["monotone"], state["seed"])
        obj.booster_ = lgb.Booster(model_str=state["model"])
        obj.features_ = list(state["features"])
        obj.categories_ = {k: list(v) for k, v in state["categories"].items()}
        obj.best_iteration_ = obj.booster_.current_iteration()
        return obj


def dense_prediction(predicted: object) -> FloatArray:
    """``Booster.predict`` is typed to return sparse matrices and lists too (for sparse input); a
    dense float matrix in gives a float64 array out, which this states (no copy)."""
    if not isinstance(predicted, np.ndarray):
        raise TypeError(f"lightgbm returned {type(predicted).__name__}, expected a numpy array")
    return np.asarray(predicted, dtype=np.float64)
