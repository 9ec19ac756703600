"""Training on a dask cluster: features per piece on the workers, LightGBM fitted across them.

Each worker builds the labelled case frame of its pieces (``engine.book.history_pieces``: one
loan's whole history is in one piece, so features and labels equal those built on the whole
book); the driver reads back only the case dates (for the time split), the validation and
out-of-time cycles (for early stopping, calibration and evaluation) and a bounded sample of the
training cycles (for the baselines and the report). Then the workers keep only the training
cycles' feature matrices in float32 and labels (:func:`training_matrix`) and drop the rest. Each
target's classifier is ``lightgbm.dask.DaskLGBMClassifier`` over the training cycles where they
live, with the same parameters and monotone constraints as the local fit; the Dask estimator has
no early stopping, so the driver replays LightGBM's rule (stop when the validation log-loss has
not improved for ``early_stopping_rounds``) on the per-tree scores of the validation cycles and
keeps that many trees. The result is a ``GBMClassifier`` like a local fit, so the bundle is the
same artifact.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from engine.history import HistoryPiece
from models.bundle import Bundle, Scorer
from models.calibration import choose
from models.classifiers import GBMClassifier, categories_of, dense_prediction, monotone_vector
from models.feature_spec import FeatureSpec, spec_from_registry
from models.lgb_input import as_lgb_matrix
from rollcure.config import RollcureConfig
from rollcure.config.model import TARGETS
from rollcure.core.errors import InputError
from training.data import CaseData, join_cases
from training.fit import TrainResult, _check_frame, _has_both_classes, evaluate
from training.split import PARTS, TimeSplit, time_split

T = TypeVar("T")

#: Training cycles the driver keeps for the baselines and the report (a seeded sample).
DRIVER_TRAIN_SAMPLE = 200_000


def labelled_cases(piece: HistoryPiece, cfg: RollcureConfig) -> pd.DataFrame:
    """One task: a piece's tables -> features + labels (``training.data``), possibly empty."""
    from features.dataset import build_dataset

    try:
        tables = piece.tables()
        if "cycles" not in tables or tables["cycles"].empty:
            return pd.DataFrame()
        ds = build_dataset(tables, cfg.features)
        return join_cases(ds.X, ds.cases, ds.labels, tables["cycles"])
    except InputError as exc:
        raise InputError(str(exc)) from None


def training_matrix(frame: pd.DataFrame, names: list[str], categories: dict[str, list]) -> np.ndarray:
    """A piece's training cycles as the fit reads them: the feature matrix LightGBM builds from a
    frame (columns in feature order, category codes with NaN when missing: ``as_lgb_matrix``),
    in float32.

    Why a matrix, and why float32: LightGBM's dask fit concatenates a worker's pieces before
    binning them, and from a frame it converts the result to a matrix once more, so a worker held
    its training rows three times over (float64, every column of the case frame: an estimated
    5.5 GB per worker for a 5M-case book, against a 3 GiB limit). Pieces that are already float32 matrices
    are concatenated once and binned in place. float32 keeps about seven significant digits, far
    finer than the bins LightGBM cuts a feature into (``max_bin``, 255 by default); the fitted
    trees then read float64 features at scoring time, as a local fit's do.
    """
    return as_lgb_matrix(frame, names, categories).astype(np.float32)


def _labels(frame: pd.DataFrame, target: str) -> np.ndarray:
    return frame[target].to_numpy(dtype=np.int8)


def fit_watching_workers(client: Any, fit: Callable[[], T], poll_s: float = 2.0) -> T:
    """``fit()`` on the cluster, ended by one clear error if a worker it started with leaves.

    LightGBM's dask fit pins a task to each worker's address; a worker killed mid-fit (over its
    memory limit) comes back under another address and the pinned task waits for the old one
    for ever. The fit runs in a daemon thread while this one watches the scheduler's workers.
    """
    from engine.cluster import EngineError

    before = set(client.scheduler_info()["workers"])
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = fit()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="lightgbm-dask-fit", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(poll_s)
        gone = before - set(client.scheduler_info()["workers"])
        if thread.is_alive() and gone:
            raise EngineError(
                f"engine: {len(gone)} worker(s) left during the LightGBM fit (killed over the memory "
                "limit, or lost); raise engine.memory_limit or add workers"
            )
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _part(frame: pd.DataFrame, split: TimeSplit) -> pd.DataFrame:
    return frame.assign(_part=split.part_of(frame["as_of"]))


def _logloss(y: np.ndarray, margin: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, margin) - y * margin))


def early_stopped(losses: list[float], rounds: int) -> int:
    """Trees kept by LightGBM's early stopping on a validation curve (1-based best iteration)."""
    best, best_i = np.inf, 0
    for i, loss in enumerate(losses):
        if loss < best:
            best, best_i = loss, i
        elif i - best_i >= rounds:
            break
    return best_i + 1


def _best_iteration(model: GBMClassifier, X_valid: pd.DataFrame, y_valid: np.ndarray, rounds: int) -> int:
    """Replay early stopping: validation log-loss after each tree, from per-tree raw scores."""
    matrix = model.matrix(X_valid)
    margin = np.zeros(len(matrix))
    losses = []
    for i in range(model.booster_.current_iteration()):
        margin += dense_prediction(
            model.booster_.predict(matrix, raw_score=True, start_iteration=i, num_iteration=1)
        )
        losses.append(_logloss(y_valid, margin))
    return early_stopped(losses, rounds)


def _fit_target(
    client: Any, X: Any, y: Any, valid: pd.DataFrame, names: list[str], target: str, model: GBMClassifier
) -> GBMClassifier:
    import lightgbm as lgb
    from lightgbm.dask import DaskLGBMClassifier

    model._remember_columns(valid[names])  # categories are the registry's fixed vocabularies
    params: dict[str, Any] = dict(model._lgb_params())
    params.pop("num_threads", None)  # a worker uses its own threads (dask's nthreads)
    estimator = DaskLGBMClassifier(client=client, n_estimators=model.params.num_boost_round, **params)
    categorical = [names.index(c) for c in model.categories_]

    def fit() -> Any:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*(is set|will be ignored|Found .* in params).*")
            return estimator.fit(X, y, feature_name=names, categorical_feature=categorical)

    fit_watching_workers(client, fit)
    model.booster_ = lgb.Booster(model_str=estimator.booster_.model_to_string())
    model.best_iteration_ = model.booster_.current_iteration()
    y_valid = valid[target].to_numpy(dtype=float)
    model.best_iteration_ = _best_iteration(model, valid[names], y_valid, model.params.early_stopping_rounds)
    return model


def _training_rows(frame: pd.DataFrame, split: TimeSplit) -> pd.DataFrame:
    return frame.loc[np.asarray(split.part_of(frame["as_of"])) == "train"]


def _training_arrays(
    client: Any, frames: list[Any], split: TimeSplit, names: list[str], categories: dict[str, list]
) -> tuple[Any, dict[str, Any], int]:
    """The training cycles of the pieces' case frames (futures) as one float32 dask array, a chunk
    per piece, and one int8 label array per target, computed where the frames are and kept there;
    with the number of training cycles."""
    import dask.array as da
    from distributed import wait

    rows = client.map(_training_rows, frames, split=split)
    matrices = client.map(training_matrix, rows, names=names, categories=categories)
    labels = {t: client.map(_labels, rows, target=t) for t in TARGETS}
    lengths = client.gather(client.map(len, labels[TARGETS[0]]))
    wait([*matrices, *(f for fs in labels.values() for f in fs)])
    del rows  # only the matrices and labels stay on the workers

    def stacked(futures: list[Any], width: int | None, dtype: type) -> Any:
        shapes = [(n,) if width is None else (n, width) for n in lengths]
        return da.concatenate(
            [da.from_delayed(f, shape=sh, dtype=dtype) for f, sh in zip(futures, shapes, strict=True)]
        )

    X = stacked(matrices, len(names), np.float32)
    return X, {t: stacked(fs, None, np.int8) for t, fs in labels.items()}, int(sum(lengths))


def train_models_dask(
    client: Any, pieces: list[HistoryPiece], cfg: RollcureConfig
) -> tuple[TrainResult, CaseData]:
    """``training.fit.train_models`` with the case frame and the LightGBM fits on the cluster."""
    import dask.dataframe as dd

    from features.registry import FEATURES

    futures = client.map(labelled_cases, pieces, cfg=cfg, pure=False)
    sizes = client.gather(client.map(len, futures))
    keep = [f for f, n in zip(futures, sizes, strict=True) if n > 0]
    if not keep:
        raise InputError("--data: no overdue case has an observed next cycle, nothing to train on")
    meta = client.submit(lambda f: f.head(0), keep[0]).result()
    cases = dd.from_delayed(keep, meta=meta, verify_meta=False)
    spec: list[FeatureSpec] = [s for s in spec_from_registry(FEATURES) if s.name in meta.columns]
    names = [s.name for s in spec]
    _check_frame(meta, spec)
    split = time_split(cases["as_of"].compute(), cfg.training)
    cases = cases.map_partitions(_part, split, meta=meta.assign(_part=pd.Series(dtype=object)))
    full_train = cases[cases["_part"] == "train"]
    valid = cases[cases["_part"] == "valid"].compute()
    oot = cases[cases["_part"] == "oot"].compute()
    X, labels, n_train = _training_arrays(client, keep, split, names, categories_of(valid[names]))
    frac = min(1.0, DRIVER_TRAIN_SAMPLE / max(n_train, 1))
    train_sample = (
        full_train.sample(frac=frac, random_state=cfg.seed).compute() if frac < 1 else full_train.compute()
    )
    del futures, keep, cases, full_train  # the workers drop the full case frames: only X and labels stay
    model_cfg = cfg.model
    directions = {s.name: s.monotone for s in spec} if model_cfg.monotone else {}
    overrides = model_cfg.monotone_overrides if model_cfg.monotone else {}
    scorers: dict[str, Scorer] = {}
    cal_scores: dict[str, dict[str, float]] = {}
    for t in TARGETS:
        _has_both_classes(train_sample[t], t, "training")
        _has_both_classes(valid[t], t, "validation")
        mono = monotone_vector(names, directions, t, overrides)
        model = _fit_target(
            client, X, labels[t], valid, names, t, GBMClassifier(model_cfg.lightgbm, mono, seed=cfg.seed)
        )
        margin_valid = model.predict_margin(valid[names])
        calibrator, cal_scores[t] = choose(margin_valid, valid[t].to_numpy(), model_cfg.calibration, cfg.seed)
        scorers[t] = Scorer(model, calibrator)
    bundle = Bundle(scorers=scorers, features=list(spec), model_config=model_cfg)
    counts = {"train": n_train, "valid": len(valid), "oot": len(oot)}
    bundle.metadata = {"split": split.describe(), "seed": cfg.seed, "n_cases": {p: counts[p] for p in PARTS}}
    driver_cases = pd.concat([train_sample, valid, oot], ignore_index=True).drop(columns="_part")
    driver_cases = driver_cases.sort_values(["loan_id", "as_of"], kind="stable").reset_index(drop=True)
    result = evaluate(bundle, driver_cases, split, cfg.seed, cal_scores)
    return result, CaseData(cases=driver_cases, spec=spec, n_unlabelled=0)
