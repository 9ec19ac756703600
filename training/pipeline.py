"""End-to-end training: data → models → MLflow run → registered bundle → validation report.

``run_training`` is what ``rollcure train`` and ``rollcure demo`` call; ``write_report`` is what
``rollcure report`` calls on a registered bundle. I/O happens here and in ``registry.store``;
fitting and evaluation stay pure in ``training.fit``.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from engine.loan_sample import LoanSample, cut_to_sample, loan_sample
from models.bundle import Bundle, PolicyBundle
from rollcure.config import RollcureConfig
from rollcure.core.errors import InputError
from training.data import CaseData, frame_digest, load_case_data
from training.fit import TrainResult, evaluate, flat_metrics, train_models
from training.report import ReportContext, build_report
from training.split import TimeSplit

REPORT_NAME = "model_validation.html"


@dataclass
class TrainingOutcome:
    """What one training run produced."""

    result: TrainResult
    data: CaseData
    run_id: str
    version: str
    digest: str
    report_path: Path | None

    @property
    def bundle(self) -> Bundle:
        return self.result.bundle

    @property
    def metrics(self) -> dict[str, dict[str, dict[str, float]]]:
        return self.result.metrics


def _flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: value}


def _say(console: Any, message: str) -> None:
    if console is not None:
        console.print(message)


def _log_images(images: dict[str, str]) -> None:
    """Log the report's plots as PNG artifacts of the active run (``plots/<name>.png``)."""
    import base64

    import mlflow

    with tempfile.TemporaryDirectory() as tmp:
        for name, b64 in images.items():
            (Path(tmp) / f"{name}.png").write_bytes(base64.b64decode(b64))
        mlflow.log_artifacts(tmp, artifact_path="plots")


def input_example(tables: dict[str, pd.DataFrame], cases: pd.DataFrame, cfg: RollcureConfig) -> pd.DataFrame:
    """The registered model's input example: the latest training case whose loan ``tables`` hold
    (they may be a sample of the book) as a payload frame."""
    from features.payload_from_tables import payloads_from_tables
    from registry.pyfunc import payload_frame

    cases = cases[cases["loan_id"].isin(tables["loans"]["loan_id"])]
    if cases.empty:
        raise InputError("training.policy_max_loans: the loan sample holds no labelled case; raise the bound")
    latest = cases.loc[[cases["as_of"].idxmax()], ["loan_id", "as_of"]].reset_index(drop=True)
    return payload_frame(payloads_from_tables(tables, latest, cfg.features.payload_cycles))


def default_report_path(cfg: RollcureConfig) -> Path:
    return Path(cfg.data_dir) / "reports" / REPORT_NAME


def _train_on_dask(
    cfg: RollcureConfig, data_dir: Path, console: Any
) -> tuple[TrainResult, CaseData, dict[str, pd.DataFrame], LoanSample]:
    """Features and classifiers on the cluster (``training.fit_dask``); the action-response models
    and the input example read a bounded sample of the book's loans in this process, a piece at
    a time (``engine.loan_sample``)."""
    from engine.cluster import local_workers, open_client
    from engine.history import book_loan_count, history_pieces, read_book_sample
    from training.fit_dask import train_models_dask

    pieces = history_pieces(data_dir, cfg.engine.partitions or 4 * local_workers(cfg.engine))
    _say(console, f"building features on dask ({len(pieces)} pieces of {data_dir}) and training …")
    with open_client(cfg.engine) as client:
        result, data = train_models_dask(client, pieces, cfg)
    _say(
        console,
        f"{sum(result.bundle.metadata['n_cases'].values()):,} labelled cases × {len(data.spec)} features",
    )
    loans = book_loan_count(data_dir)
    sample = loan_sample(loans, cfg.training.policy_max_loans)
    # pieces of at most about the sample's size, so the driver holds one piece beyond the sample
    n_pieces = max(len(pieces), -(-loans // cfg.training.policy_max_loans))
    return result, data, read_book_sample(data_dir, sample.share, n_pieces), sample


def run_training(
    cfg: RollcureConfig,
    data_dir: Path,
    console: Any = None,
    *,
    promote: bool = False,
    report_out: Path | None = None,
    write_report_file: bool = True,
) -> TrainingOutcome:
    """Train both models, log and register the bundle as ``challenger``, optionally promote it to
    ``champion``, and write the validation report (also logged to the run)."""
    import mlflow

    from registry import store as registry
    from rollcure.core.io import read_tables

    if cfg.engine.kind == "dask":
        from engine.history import book_table_rows

        result, data, tables, sample = _train_on_dask(cfg, Path(data_dir), console)
        book_actions = book_table_rows(Path(data_dir), "actions")
    else:
        book = read_tables(Path(data_dir))
        _say(console, f"building features from {data_dir} …")
        data = load_case_data(book, cfg)
        _say(console, f"{len(data.cases):,} labelled cases × {len(data.spec)} features; training …")
        result = train_models(data.cases, data.spec, cfg.model, cfg.training, cfg.seed)
        sample = loan_sample(int(book["loans"]["loan_id"].nunique()), cfg.training.policy_max_loans)
        tables = cut_to_sample(book, sample.share)
        book_actions = len(book.get("actions", ()))
        del book  # only the sample is needed from here on
    result.bundle.feature_config = cfg.features
    if not sample.everything and not len(tables.get("actions", ())) and book_actions:
        raise InputError(
            f"training.policy_max_loans: the sample of {cfg.training.policy_max_loans:,} loans holds none "
            "of the book's logged actions; raise the bound"
        )
    if len(tables.get("actions", ())):  # a book with logged actions: learn what each action yields
        from training.backtest import book_valuation, fit_policy_models

        result.bundle.metadata["policy_loans"] = sample.describe(int(tables["loans"]["loan_id"].nunique()))
        sampled = "" if sample.everything else f" of a {sample.share:.1%} sample of the loans"
        _say(console, f"fitting the action-response models on the logged actions{sampled} …")
        oot_start = pd.Timestamp(result.split.oot[0])
        models = fit_policy_models(tables, cfg, oot_start)
        result.bundle.policy = PolicyBundle.from_config(cfg.policy, models)
        # what the models' value labels were valued with, for the report and the record
        valuation = book_valuation(tables, cfg, oot_start - pd.Timedelta(days=1))
        result.bundle.metadata["value"] = cfg.value.model_dump()
        result.bundle.metadata["recovery_factors"] = valuation.factors.to_frame().to_dict(orient="records")
    digest = frame_digest(data.cases)
    result.bundle.metadata["data_digest"] = digest
    exp_id = registry.experiment_id(cfg)
    with registry.tracking(cfg), mlflow.start_run(experiment_id=exp_id) as run:
        run_id = run.info.run_id
        params = {
            **_flatten("model", cfg.model.model_dump()),
            **_flatten("training", cfg.training.model_dump(exclude={"tracking_uri"})),
            "seed": cfg.seed,
            "data_dir": str(Path(data_dir).resolve()),
            "n_features": len(data.spec),
            **{f"n_{p}": n for p, n in result.bundle.metadata["n_cases"].items()},
            **{f"calibration.{t}": s.calibrator.method for t, s in result.bundle.scorers.items()},
            **{f"best_iteration.{t}": s.model.best_iteration_ for t, s in result.bundle.scorers.items()},
        }
        mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
        mlflow.set_tags({"data_digest": digest, "split": json.dumps(result.split.describe())})
        mlflow.log_metrics(flat_metrics(result.metrics))
        mlflow.log_dict(result.metrics, "metrics/oot_metrics.json")
        mlflow.log_text(json.dumps([s.to_dict() for s in data.spec], indent=2), "features.json")
        mlflow.log_text(result.by_bucket.to_csv(index=False), "metrics/oot_by_bucket.csv")
        example = input_example(tables, data.cases, cfg)
        version = registry.register_bundle(cfg, run_id, result.bundle, input_example=example)
        report_path = None
        if write_report_file:
            _say(console, "writing the validation report …")
            context = ReportContext(
                facts={"run id": run_id, "registered version": version, "data digest": digest[:16]}
            )
            images: dict[str, str] = {}
            html = build_report(result, data.cases, context, cfg.training.report_sample, cfg.seed, images)
            report_path = Path(report_out) if report_out else default_report_path(cfg)
            report_path.parent.mkdir(parents=True, exist_ok=True)
            report_path.write_text(html, encoding="utf-8")
            mlflow.log_artifact(str(report_path), artifact_path="report")
            _log_images(images)
    if promote:
        registry.promote(cfg, version)
    return TrainingOutcome(result, data, run_id, version, digest, report_path)


def evaluate_registered(cfg: RollcureConfig, ref: str, data_dir: Path | None = None) -> TrainingOutcome:
    """Reload a registered bundle and re-run its OOT evaluation on its data (by default the folder
    its run trained on): the same split dates, the baselines refitted on the same training cycles."""
    from registry import store as registry
    from rollcure.core.errors import InputError
    from rollcure.core.io import read_tables

    bundle = registry.load_bundle(cfg, ref)
    run_id = bundle.metadata.get("run_id")
    if run_id is None:
        raise InputError(f"bundle {ref}: no MLflow run is recorded with it, so it cannot be re-evaluated")
    if data_dir is None:
        stored = registry.client(cfg).get_run(run_id).data.params.get("data_dir")
        if not stored:
            raise InputError("--data: the run does not record its data folder; pass --data")
        data_dir = Path(stored)
    data = load_case_data(read_tables(Path(data_dir)), cfg)
    split = TimeSplit.from_description(bundle.metadata["split"])
    result = evaluate(bundle, data.cases, split, int(bundle.metadata.get("seed", cfg.seed)))
    version = str(bundle.metadata["registered_version"])
    return TrainingOutcome(result, data, run_id, version, frame_digest(data.cases), None)


def write_report(cfg: RollcureConfig, ref: str, out: Path, data_dir: Path | None = None) -> Path:
    """Write the validation report of a registered bundle and log it to the bundle's MLflow run."""
    from registry import store as registry

    outcome = evaluate_registered(cfg, ref, data_dir)
    context = ReportContext(
        facts={
            "model": f"{cfg.training.registered_model} {ref}",
            "registered version": outcome.version,
            "run id": outcome.run_id,
            "data digest": outcome.digest[:16],
        }
    )
    html = build_report(outcome.result, outcome.data.cases, context, cfg.training.report_sample, cfg.seed)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    registry.client(cfg).log_artifact(outcome.run_id, str(out), "report")
    return out
