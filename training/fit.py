"""Fit both targets with their baselines on a time split and score the OOT cycles.

Pure: takes the assembled case frame (keys, features, labels, current bucket) and returns
everything the registry, the report and the metric table need. No MLflow, no files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.baselines import LogisticScorecard, MarkovBaseline
from models.bundle import Bundle, Scorer
from models.calibration import choose
from models.classifiers import GBMClassifier, monotone_vector
from models.feature_spec import FeatureSpec
from models.metrics import METRICS, metric_table, metrics_by_group
from rollcure.config.model import TARGETS, ModelConfig
from rollcure.config.training import TrainingConfig
from rollcure.core.errors import InputError
from training.split import PARTS, TimeSplit, time_split

#: Columns the case frame must carry besides the features.
CASE_COLUMNS: tuple[str, ...] = ("loan_id", "as_of", "bucket", "next_bucket", *TARGETS)
MODELS: tuple[str, ...] = ("lightgbm", "markov", "logistic")


@dataclass
class TrainResult:
    """A fitted bundle, the split, OOT predictions of every model and the metric tables."""

    bundle: Bundle
    split: TimeSplit
    parts: pd.Series  # train / valid / oot per case of the input frame
    oot: pd.DataFrame  # keys, bucket, labels and p_<target>_<model> per OOT case
    metrics: dict[str, dict[str, dict[str, float]]]
    by_bucket: pd.DataFrame
    calibration_scores: dict[str, dict[str, float]]
    markov: MarkovBaseline
    valid_metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def _check_frame(cases: pd.DataFrame, spec: list[FeatureSpec]) -> None:
    missing = [c for c in (*CASE_COLUMNS, *(s.name for s in spec)) if c not in cases.columns]
    if missing:
        raise InputError(f"cases: missing column(s) {missing[:5]}")


def _has_both_classes(y: pd.Series, target: str, part: str) -> None:
    if y.nunique() < 2:
        raise InputError(f"{target}: the {part} cycles hold only one class; cannot train or validate")


def train_models(
    cases: pd.DataFrame, spec: list[FeatureSpec], model_cfg: ModelConfig, train_cfg: TrainingConfig, seed: int
) -> TrainResult:
    """Train LightGBM per target, fit the calibrator on validation, then evaluate OOT vs the baselines."""
    bundle, split, cal_scores = fit_bundle(cases, spec, model_cfg, train_cfg, seed)
    return evaluate(bundle, cases, split, seed, cal_scores)


def fit_bundle(
    cases: pd.DataFrame, spec: list[FeatureSpec], model_cfg: ModelConfig, train_cfg: TrainingConfig, seed: int
) -> tuple[Bundle, TimeSplit, dict[str, dict[str, float]]]:
    """The fitting half of :func:`train_models`: both classifiers and their calibrators."""
    _check_frame(cases, spec)
    names = [s.name for s in spec]
    split = time_split(cases["as_of"], train_cfg)
    parts = pd.Series(split.part_of(cases["as_of"]), index=cases.index, name="part")
    train, valid = cases[parts == "train"], cases[parts == "valid"]
    directions = {s.name: s.monotone for s in spec} if model_cfg.monotone else {}
    overrides = model_cfg.monotone_overrides if model_cfg.monotone else {}
    scorers: dict[str, Scorer] = {}
    cal_scores: dict[str, dict[str, float]] = {}
    for t in TARGETS:
        for part, frame in (("training", train), ("validation", valid)):
            _has_both_classes(frame[t], t, part)
        mono = monotone_vector(names, directions, t, overrides)
        model = GBMClassifier(model_cfg.lightgbm, mono, seed=seed)
        # no binned data shared between the targets: LightGBM keeps monotone constraints in the
        # Dataset, and cure's are the reverse of roll-forward's
        model.fit(train[names], train[t].to_numpy(), valid[names], valid[t].to_numpy())
        margin_valid = model.predict_margin(valid[names])
        calibrator, cal_scores[t] = choose(margin_valid, valid[t].to_numpy(), model_cfg.calibration, seed)
        scorers[t] = Scorer(model, calibrator)
    bundle = Bundle(scorers=scorers, features=list(spec), model_config=model_cfg)
    bundle.metadata = {
        "split": split.describe(),
        "seed": seed,
        "n_cases": {p: int((parts == p).sum()) for p in PARTS},
    }
    return bundle, split, cal_scores


def evaluate(
    bundle: Bundle,
    cases: pd.DataFrame,
    split: TimeSplit,
    seed: int,
    calibration_scores: dict[str, dict[str, float]] | None = None,
) -> TrainResult:
    """Score the OOT cycles with the bundle and with both baselines fitted on the training cycles.

    Used right after training and again by ``rollcure report`` on a registered bundle.
    """
    _check_frame(cases, bundle.features)
    names = bundle.feature_names
    parts = pd.Series(split.part_of(cases["as_of"]), index=cases.index, name="part")
    train, valid, oot = (cases[parts == p] for p in PARTS)
    if oot.empty:
        raise InputError(f"cases: no case in the out-of-time cycles {split.describe()['oot']}")
    markov = MarkovBaseline().fit(train["bucket"], train["next_bucket"])
    out = oot[list(CASE_COLUMNS)].reset_index(drop=True)
    scores_oot = bundle.score(oot[names])
    scores_valid = bundle.score(valid[names])
    valid_metrics = {}
    for t in TARGETS:
        logistic = LogisticScorecard(c=bundle.model_config.logistic_c, seed=seed).fit(
            train[names], train[t].to_numpy()
        )
        out[f"p_{t}_lightgbm"] = scores_oot[f"p_{t}"]
        out[f"p_{t}_markov"] = markov.predict(oot["bucket"], t)
        out[f"p_{t}_logistic"] = logistic.predict_proba(oot[names])
        valid_metrics[t] = metric_table(valid[t].to_numpy(dtype=float), scores_valid[f"p_{t}"])
    return TrainResult(
        bundle=bundle,
        split=split,
        parts=parts,
        oot=out,
        metrics=oot_metrics(out),
        by_bucket=bucket_metrics(out),
        calibration_scores=calibration_scores or {},
        markov=markov,
        valid_metrics=valid_metrics,
    )


def oot_metrics(oot: pd.DataFrame) -> dict[str, dict[str, dict[str, float]]]:
    """The ``--metrics-out`` table: target → model → metric."""
    return {
        t: {m: metric_table(oot[t].to_numpy(dtype=float), oot[f"p_{t}_{m}"].to_numpy()) for m in MODELS}
        for t in TARGETS
    }


def bucket_metrics(oot: pd.DataFrame) -> pd.DataFrame:
    """Metrics per target × model × current bucket (long frame)."""
    frames = []
    for t in TARGETS:
        for m in MODELS:
            table = metrics_by_group(
                oot[t].to_numpy(dtype=float), oot[f"p_{t}_{m}"].to_numpy(), oot["bucket"]
            )
            frames.append(table.rename(columns={"group": "bucket"}).assign(target=t, model=m))
    cols = ["target", "model", "bucket", "n", "rate", *METRICS]
    return pd.concat(frames, ignore_index=True)[cols]


def flat_metrics(metrics: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    """``oot_<target>_<model>_<metric>`` keys for MLflow (NaN dropped: MLflow rejects it)."""
    return {
        f"oot_{t}_{m}_{k}": v
        for t, by_model in metrics.items()
        for m, values in by_model.items()
        for k, v in values.items()
        if not np.isnan(v)
    }
