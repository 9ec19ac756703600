"""The bundle: the one artifact serving loads and the registry versions.

Every part has one type, so the code that reads a bundle never guesses what it holds: a
``Scorer`` per target (the LightGBM classifier and the calibrator of its margin), the feature
spec, the model and feature configuration, the reason-code table, the metadata, and either no
policy or a ``PolicyBundle`` (the ``PolicyConfig``, the action-response models and the compliance
rules the models were trained and checked against). Each stage has one method returning arrays
(``score`` -> ``Scores``, ``explain`` -> ``Reasons``) and one ``to_frame`` adapter: at one case
per request, building frames only to read them back cost more than the models. ``save``/``load``
use one folder of LightGBM text models, JSON and CSV only: loading a bundle never unpickles
anything, so a bundle folder from a shared artifact store cannot run code when it is read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

import numpy as np
import pandas as pd

from models.calibration import Calibrator
from models.classifiers import GBMClassifier
from models.digest import check_digests
from models.explain import REASON_COLUMNS, top_reasons
from models.feature_spec import FeatureSpec, spec_from_dicts
from models.lgb_input import column_positions
from models.reason_codes import reason_code_table
from models.rules import RuleSet, load_rules
from models.uplift import ActionModels
from rollcure.config.features import FeatureConfig
from rollcure.config.model import TARGETS, ModelConfig
from rollcure.config.policy import PolicyConfig
from rollcure.core.arrays import FloatArray, IntArray, ObjectArray
from rollcure.core.catalogue import ACTIONS, CATALOGUE_ENV
from rollcure.core.errors import InputError

#: 2: calibrators and action models as JSON and LightGBM text (format 1 pickled them).
BUNDLE_FORMAT = 2
_MANIFEST = "bundle.json"
_CALIBRATORS = "calibrators.json"
_ACTION_MODELS = "action_models"
_SCORE_COLUMNS = pd.Index([f"p_{t}" for t in TARGETS])
_SCORE_NAMES: tuple[str, ...] = tuple(_SCORE_COLUMNS.tolist())  # iterating a str Index is slow
#: The action models' probabilities are their own log-odds through the logistic (no calibrator).
_LOGISTIC = Calibrator("none")
#: Reasons that raise a target's probability ("up") and that lower it ("down").
DIRECTIONS: tuple[str, ...] = ("up", "down")
#: A column of the reasons table: ``case``/``rank`` integers, contributions floats, the rest objects.
ReasonColumn = IntArray | FloatArray | ObjectArray
#: Each target's LightGBM input matrix (:meth:`Bundle.matrices`).
Matrices = dict[str, FloatArray]


class BundleMetadata(TypedDict, total=False):
    """What training and the registry record about a bundle (JSON in the manifest)."""

    #: ``TimeSplit.describe()``: part -> cycle dates.
    split: dict[str, list[str]]
    seed: int
    n_cases: dict[str, int]
    data_digest: str
    registered_version: str
    #: The MLflow run the registered version came from (None when MLflow records none).
    run_id: str | None
    #: The value definition (``rollcure.core.value.ValueConfig``) and the recovery-factor table the
    #: action models' labels were valued with (``RecoveryFactors.to_frame`` records).
    value: dict[str, object]
    recovery_factors: list[dict[str, object]]
    #: The loans those were fitted on (``engine.loan_sample``): share kept, loans in the book, kept.
    policy_loans: dict[str, float | int]


class _PolicyManifest(TypedDict):
    config: dict[str, object]
    rules: dict[str, object]


@dataclass(frozen=True)
class Scores:
    """Calibrated probabilities per case, one array per target (frame order)."""

    p_roll_forward: FloatArray
    p_cure: FloatArray

    def __getitem__(self, column: str) -> FloatArray:
        """A column by its frame name (``p_roll_forward``), as the strategies read scores."""
        if column not in _SCORE_NAMES:
            raise KeyError(f"scores: no column {column!r}; known: {list(_SCORE_NAMES)}")
        return self.p_roll_forward if column == "p_roll_forward" else self.p_cure

    def to_frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        """The scores as a frame (default index: row positions)."""
        # one 2-d block with a ready column index: building the frame from a dict cost more than
        # the two predictions on a single case
        values = np.column_stack([self[c] for c in _SCORE_NAMES])
        return pd.DataFrame(values, columns=_SCORE_COLUMNS, index=index, copy=False)


@dataclass(frozen=True)
class Reasons:
    """The long reasons table as columns of arrays (``models.explain.REASON_COLUMNS``)."""

    columns: dict[str, ReasonColumn]

    def __getitem__(self, column: str) -> ReasonColumn:
        return self.columns[column]

    def __len__(self) -> int:
        return len(self.columns["case"])

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({c: self.columns[c] for c in REASON_COLUMNS})


@dataclass(frozen=True)
class Scorer:
    """One target's classifier and the calibrator of its raw margin."""

    model: GBMClassifier
    calibrator: Calibrator


@dataclass(frozen=True)
class PolicyBundle:
    """What the policy decides with: its settings, the action-response models and the rules."""

    config: PolicyConfig
    action_models: ActionModels
    rules: RuleSet

    @classmethod
    def from_config(cls, config: PolicyConfig, action_models: ActionModels) -> PolicyBundle:
        """The policy of ``config`` with its rules file read now, so the bundle carries the rules
        its decisions are checked against (a later edit of the file needs a new bundle)."""
        return cls(config=config, action_models=action_models, rules=load_rules(config.rules_path))


@dataclass
class Bundle:
    """Roll-forward and cure models with everything needed to score, explain and decide a case."""

    scorers: dict[str, Scorer]
    features: list[FeatureSpec]
    model_config: ModelConfig = field(default_factory=ModelConfig)
    #: The feature settings it was trained with: what a payload's features are built with.
    feature_config: FeatureConfig = field(default_factory=FeatureConfig)
    reason_codes: pd.DataFrame = field(default_factory=reason_code_table)
    #: None: the bundle scores and explains but decides no action.
    policy: PolicyBundle | None = None
    metadata: BundleMetadata = field(default_factory=BundleMetadata)

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

    def matrices(self, X: pd.DataFrame, targets: tuple[str, ...] = TARGETS) -> Matrices:
        """Each target model's LightGBM input, converted from the frame once for models that read
        the same columns and categories (both targets do: they are trained on one frame)."""
        self._check(X)
        first = self.scorers[targets[0]].model
        shared = first.matrix(X)
        models = {t: self.scorers[t].model for t in targets}
        return {t: shared if _same_input(m, first) else m.matrix(X) for t, m in models.items()}

    def margin(self, X: pd.DataFrame, target: str) -> FloatArray:
        """Raw log-odds of one target."""
        return self.scorers[target].model.predict_margin(self.matrices(X, (target,))[target])

    def score(self, X: pd.DataFrame, inputs: Matrices | None = None) -> Scores:
        """Calibrated probabilities of every case (``Scores.to_frame`` for a frame). ``inputs``:
        :meth:`matrices` of X, when the caller converted X once for several stages."""
        inputs = self.matrices(X) if inputs is None else inputs
        p = [_probability(self.scorers[t], inputs[t]) for t in TARGETS]
        return Scores(*p)

    def contributions(self, X: pd.DataFrame, target: str, action: str | None = None) -> pd.DataFrame:
        """SHAP contributions in log-odds per feature, plus ``base_value``; rows sum to the margin.
        With ``action``: of the action models' probability of ``target`` next cycle under it."""
        if action is not None:
            models = self._action_models()
            values = models.contributions(X, target, action)
            return pd.DataFrame(values, columns=[*models.feature_names, "base_value"], index=X.index)
        values = self.scorers[target].model.contributions(self.matrices(X, (target,))[target])
        return pd.DataFrame(values, columns=[*self.feature_names, "base_value"], index=X.index)

    def explain(
        self,
        X: pd.DataFrame,
        *,
        targets: tuple[str, ...] = TARGETS,
        directions: tuple[str, ...] = DIRECTIONS,
        top_k: int | None = None,
        inputs: Matrices | None = None,
        action: str | None = None,
    ) -> Reasons:
        """Top-k reasons per case in each direction, target by target (rows by target, case,
        direction, rank; ``case`` = row position). TreeSHAP, the costly part, runs only for
        ``targets``: a decision shows one target's reasons in one direction. With ``action``: the
        reasons of the action models' roll-forward and cure probabilities under that action (their
        log-odds are the model's own, so the points are read through the logistic)."""
        k = top_k or self.top_k
        parts: list[dict[str, ReasonColumn]] = []
        if action is not None:
            models = self._action_models()
            spec = self._spec(models.feature_names)
            for t in targets:
                contrib = models.contributions(X, t, action)
                per = [top_reasons(contrib, X, spec, _LOGISTIC, t, k, d) for d in directions]
                parts.append(_by_case(per))
            return Reasons(parts[0] if len(parts) == 1 else _concat(parts))
        inputs = self.matrices(X, targets) if inputs is None else inputs
        for t in targets:
            scorer = self.scorers[t]
            contrib = scorer.model.contributions(inputs[t])
            per_direction = [
                top_reasons(contrib, X, self.features, scorer.calibrator, t, k, d) for d in directions
            ]
            parts.append(_by_case(per_direction))
        return Reasons(parts[0] if len(parts) == 1 else _concat(parts))

    def _action_models(self) -> ActionModels:
        if self.policy is None:
            raise InputError("bundle: no action-response models (train a policy to explain an action)")
        return self.policy.action_models

    def _spec(self, names: list[str]) -> list[FeatureSpec]:
        """The feature specs of ``names``, in that order (the action models' features)."""
        by_name = {f.name: f for f in self.features}
        unknown = [n for n in names if n not in by_name]
        if unknown:
            raise InputError(f"bundle: action models use features the bundle does not describe: {unknown}")
        return [by_name[n] for n in names]

    def save(self, path: Path) -> Path:
        """Write the bundle into ``path`` (created); returns the folder."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for t, scorer in self.scorers.items():
            state = scorer.model.to_state()
            (path / f"{t}.lgb.txt").write_text(state["model"])
            settings = {k: v for k, v in state.items() if k != "model"}
            (path / f"{t}.json").write_text(json.dumps(settings, indent=1))
        calibrators = {t: s.calibrator.to_dict() for t, s in self.scorers.items()}
        (path / _CALIBRATORS).write_text(json.dumps(calibrators, indent=1))
        if self.policy is not None:
            self.policy.action_models.save(path / _ACTION_MODELS)
        self.reason_codes.to_csv(path / "reason_codes.csv", index=False)
        manifest = {
            "format": BUNDLE_FORMAT,
            "actions": list(ACTIONS),
            "targets": list(self.scorers),
            "features": [f.to_dict() for f in self.features],
            "model_config": self.model_config.model_dump(),
            "feature_config": self.feature_config.model_dump(),
            "policy": None if self.policy is None else _policy_manifest(self.policy),
            "explanation": {
                "top_k": self.top_k,
                "method": "path-dependent TreeSHAP (models.explain; equal to lightgbm pred_contrib)",
                "units": "log-odds",
            },
            "metadata": self.metadata,
        }
        (path / _MANIFEST).write_text(json.dumps(manifest, indent=1, default=str))
        return path

    @classmethod
    def load(cls, path: Path, digests: Mapping[str, str] | None = None) -> Bundle:
        """Read a bundle folder written by :meth:`save`; with ``digests`` (``models.digest``, as
        recorded at registration) every file is checked against them before anything is read."""
        path = Path(path)
        if not (path / _MANIFEST).is_file():
            raise InputError(f"bundle: {path} is not a bundle folder ({_MANIFEST} missing)")
        if digests is not None:
            check_digests(path, digests)
        manifest = json.loads((path / _MANIFEST).read_text())
        if manifest.get("format") != BUNDLE_FORMAT:
            raise InputError(
                f"bundle: format {manifest.get('format')} not supported (expected {BUNDLE_FORMAT})"
            )
        trained_with = manifest.get("actions")
        if trained_with != list(ACTIONS):
            raise InputError(
                f"bundle: trained with the actions {trained_with}, but this process's action catalogue "
                f"has {list(ACTIONS)} (set {CATALOGUE_ENV} to the catalogue it was trained with, or retrain)"
            )
        calibrators = json.loads((path / _CALIBRATORS).read_text())
        scorers: dict[str, Scorer] = {}
        for t in manifest["targets"]:
            state = json.loads((path / f"{t}.json").read_text())
            state["model"] = (path / f"{t}.lgb.txt").read_text()
            scorers[t] = Scorer(GBMClassifier.from_state(state), Calibrator.from_dict(calibrators[t]))
        policy: PolicyBundle | None = None
        if manifest["policy"] is not None:
            policy = PolicyBundle(
                config=PolicyConfig.model_validate(manifest["policy"]["config"]),
                action_models=ActionModels.load(path / _ACTION_MODELS),
                rules=RuleSet.model_validate(manifest["policy"]["rules"]),
            )
        reason_codes = pd.read_csv(path / "reason_codes.csv", dtype=str, keep_default_na=False)
        return cls(
            scorers=scorers,
            features=spec_from_dicts(manifest["features"]),
            model_config=ModelConfig.model_validate(manifest["model_config"]),
            feature_config=FeatureConfig.model_validate(manifest["feature_config"]),
            reason_codes=reason_codes,
            policy=policy,
            metadata=manifest.get("metadata", {}),
        )


def _by_case(parts: list[dict[str, ReasonColumn]]) -> dict[str, ReasonColumn]:
    """One target's reasons of several directions, ordered by case (then direction, rank)."""
    if len(parts) == 1:  # already by case then rank
        return parts[0]
    columns = _concat(parts)
    order = np.argsort(columns["case"], kind="stable")
    return {c: v[order] for c, v in columns.items()}


def _concat(parts: list[dict[str, ReasonColumn]]) -> dict[str, ReasonColumn]:
    return {c: np.concatenate([p[c] for p in parts]) for c in REASON_COLUMNS}


def _probability(scorer: Scorer, matrix: FloatArray) -> FloatArray:
    return scorer.calibrator.transform(scorer.model.predict_margin(matrix))


def _same_input(a: GBMClassifier, b: GBMClassifier) -> bool:
    return a is b or (a.features_ == b.features_ and a.categories_ == b.categories_)


def _policy_manifest(policy: PolicyBundle) -> _PolicyManifest:
    return {"config": policy.config.model_dump(mode="json"), "rules": policy.rules.model_dump(mode="json")}
