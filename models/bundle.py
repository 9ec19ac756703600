"""The bundle: the one artifact serving loads and the registry versions.

It holds both classifiers with their calibrators, the feature spec, the reason-code table, the
explanation settings, the model and policy configuration, and a slot for the policy's
action-response models. ``save``/``load`` use one folder: LightGBM text models and JSON for
everything a person may want to read, pickle only for the calibrators and the opaque
action-model slot.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from models.calibration import Calibrator
from models.classifiers import GBMClassifier
from models.explain import reason_arrays, top_reasons
from models.feature_spec import FeatureSpec, spec_from_dicts
from models.lgb_input import column_positions
from models.reason_codes import reason_code_table
from rollcure.config.model import TARGETS, ModelConfig
from rollcure.core.errors import InputError

BUNDLE_FORMAT = 1
_MANIFEST = "bundle.json"
_SCORE_COLUMNS = pd.Index([f"p_{t}" for t in TARGETS])
_SCORE_NAMES: tuple[str, ...] = tuple(_SCORE_COLUMNS.tolist())  # iterating a str Index is slow


@dataclass
class Bundle:
    """Roll-forward and cure models with everything needed to score and explain a case."""

    models: dict[str, GBMClassifier]
    calibrators: dict[str, Calibrator]
    features: list[FeatureSpec]
    model_config: ModelConfig = field(default_factory=ModelConfig)
    reason_codes: pd.DataFrame = field(default_factory=reason_code_table)
    #: The policy's settings (``rollcure.config.policy.PolicyConfig``), a plain dict, or None.
    policy_config: Any = None
    action_models: Any = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def feature_names(self) -> list[str]:
        return [f.name for f in self.features]

    @property
    def top_k(self) -> int:
        return self.model_config.top_k

    def _check(self, X: pd.DataFrame) -> None:
        """Raise an input error naming the missing features (no frame is copied)."""
        try:
            column_positions(X, self.feature_names)
        except InputError as err:
            raise InputError(f"{err} (bundle expects {len(self.features)})") from None

    def matrices(self, X: pd.DataFrame, targets: tuple[str, ...] = TARGETS) -> dict[str, np.ndarray]:
        """Each target model's LightGBM input, converted from the frame once for models that read
        the same columns and categories (both targets do: they are trained on one frame)."""
        self._check(X)
        first = self.models[targets[0]]
        shared = first.matrix(X)
        return {
            t: shared if _same_input(self.models[t], first) else self.models[t].matrix(X) for t in targets
        }

    def margin(self, X: pd.DataFrame, target: str) -> np.ndarray:
        """Raw log-odds of one target."""
        return self.models[target].predict_margin(self.matrices(X, (target,))[target])

    def score_arrays(
        self, X: pd.DataFrame, inputs: dict[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """:meth:`score`'s columns as arrays, for callers that read them back (the policy): a frame
        costs more than the two predictions on a single case. ``inputs``: :meth:`matrices` of X,
        when the caller converted X once for several stages."""
        inputs = self.matrices(X) if inputs is None else inputs
        p = [self.calibrators[t].transform(self.models[t].predict_margin(inputs[t])) for t in TARGETS]
        return dict(zip(_SCORE_NAMES, p, strict=True))

    def score(self, X: pd.DataFrame) -> pd.DataFrame:
        """Calibrated probabilities, one row per case: p_roll_forward, p_cure."""
        p = self.score_arrays(X).values()
        # one 2-d block with a ready column index: building the frame from a dict cost more than
        # the two predictions on a single case
        return pd.DataFrame(np.column_stack(list(p)), columns=_SCORE_COLUMNS, index=X.index, copy=False)

    def contributions(self, X: pd.DataFrame, target: str) -> pd.DataFrame:
        """SHAP contributions in log-odds per feature, plus ``base_value``; rows sum to the margin."""
        values = self.models[target].contributions(self.matrices(X, (target,))[target])
        return pd.DataFrame(values, columns=[*self.feature_names, "base_value"], index=X.index)

    def reasons(
        self, X: pd.DataFrame, target: str, direction: str, inputs: dict[str, np.ndarray] | None = None
    ) -> dict[str, np.ndarray]:
        """One target's reasons in one direction, as the columns of :meth:`explain`'s frame (rows by
        case, then rank): what a decision shows, with TreeSHAP run for that target only."""
        matrix = (self.matrices(X, (target,)) if inputs is None else inputs)[target]
        contrib = self.models[target].contributions(matrix)
        return reason_arrays(
            contrib, X, self.features, self.calibrators[target], target, self.top_k, direction
        )

    def explain(self, X: pd.DataFrame, top_k: int | None = None) -> pd.DataFrame:
        """Top-k reasons up and down per case and target (long frame, ``case`` = row position)."""
        inputs = self.matrices(X)
        k = top_k or self.top_k
        parts = [
            top_reasons(self.models[t].contributions(inputs[t]), X, self.features, self.calibrators[t], t, k)
            for t in TARGETS
        ]
        return pd.concat(parts, ignore_index=True)

    def save(self, path: Path) -> Path:
        """Write the bundle into ``path`` (created); returns the folder."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for t, model in self.models.items():
            state = model.to_state()
            (path / f"{t}.lgb.txt").write_text(state.pop("model"))
            (path / f"{t}.json").write_text(json.dumps(state, indent=1))
        with open(path / "calibrators.pkl", "wb") as fh:
            pickle.dump(self.calibrators, fh)
        with open(path / "action_models.pkl", "wb") as fh:
            pickle.dump(self.action_models, fh)
        self.reason_codes.to_csv(path / "reason_codes.csv", index=False)
        manifest = {
            "format": BUNDLE_FORMAT,
            "targets": list(self.models),
            "features": [f.to_dict() for f in self.features],
            "model_config": self.model_config.model_dump(),
            "policy_config": _dump_policy(self.policy_config),
            "explanation": {
                "top_k": self.top_k,
                "method": "lightgbm pred_contrib (TreeSHAP)",
                "units": "log-odds",
            },
            "metadata": self.metadata,
        }
        (path / _MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
        return path

    @classmethod
    def load(cls, path: Path) -> Bundle:
        """Read a bundle folder written by :meth:`save`."""
        path = Path(path)
        if not (path / _MANIFEST).is_file():
            raise InputError(f"bundle: {path} is not a bundle folder ({_MANIFEST} missing)")
        manifest = json.loads((path / _MANIFEST).read_text())
        if manifest.get("format") != BUNDLE_FORMAT:
            raise InputError(
                f"bundle: format {manifest.get('format')} not supported (expected {BUNDLE_FORMAT})"
            )
        models = {}
        for t in manifest["targets"]:
            state = json.loads((path / f"{t}.json").read_text())
            state["model"] = (path / f"{t}.lgb.txt").read_text()
            models[t] = GBMClassifier.from_state(state)
        with open(path / "calibrators.pkl", "rb") as fh:
            calibrators = pickle.load(fh)
        with open(path / "action_models.pkl", "rb") as fh:
            action_models = pickle.load(fh)
        reason_codes = pd.read_csv(path / "reason_codes.csv", dtype=str, keep_default_na=False)
        return cls(
            models=models,
            calibrators=calibrators,
            features=spec_from_dicts(manifest["features"]),
            model_config=ModelConfig.model_validate(manifest["model_config"]),
            reason_codes=reason_codes,
            policy_config=_load_policy(manifest["policy_config"]),
            action_models=action_models,
            metadata=manifest.get("metadata", {}),
        )


def _same_input(a: GBMClassifier, b: GBMClassifier) -> bool:
    return a is b or (a.features_ == b.features_ and a.categories_ == b.categories_)


def _dump_policy(policy: Any) -> dict | None:
    if policy is None:
        return None
    if hasattr(policy, "model_dump"):
        return {"type": "PolicyConfig", "value": policy.model_dump(mode="json")}
    return {"type": "dict", "value": policy}


def _load_policy(stored: dict | None) -> Any:
    if stored is None:
        return None
    if stored["type"] == "PolicyConfig":
        from rollcure.config.policy import PolicyConfig

        return PolicyConfig.model_validate(stored["value"])
    return stored["value"]
