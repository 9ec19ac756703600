"""MLflow I/O: where runs go, registering a bundle, moving aliases, loading a bundle back.

Local by default: a SQLite store and an artifact folder under ``<data_dir>/mlflow``. The
``MLFLOW_TRACKING_URI`` environment variable (or ``training.tracking_uri``) points a team at a
shared server instead. The bundle is logged as plain run artifacts (one folder) and registered
as a model version whose source is that folder, so ``load_bundle`` needs nothing but MLflow and
the bundle code; aliases (``challenger``, ``champion``) replace deprecated registry stages.
mlflow is imported inside the functions: importing it costs seconds.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from models.bundle import Bundle
from rollcure.config import RollcureConfig
from rollcure.core.errors import InputError

CHALLENGER = "challenger"
CHAMPION = "champion"
BUNDLE_ARTIFACT = "bundle"
TRACKING_ENV = "MLFLOW_TRACKING_URI"


def tracking_uri(cfg: RollcureConfig) -> str:
    """Environment variable, then config, then ``sqlite:///<data_dir>/mlflow/mlflow.db``."""
    uri = os.environ.get(TRACKING_ENV) or cfg.training.tracking_uri
    if uri:
        return uri
    return f"sqlite:///{(Path(cfg.data_dir) / 'mlflow' / 'mlflow.db').resolve()}"


def artifact_root(cfg: RollcureConfig) -> str | None:
    """Artifact folder for a local SQLite store; None lets a remote server decide."""
    if tracking_uri(cfg).startswith("sqlite:///"):
        return (Path(cfg.data_dir) / "mlflow" / "artifacts").resolve().as_uri()
    return None


def _prepared_uri(cfg: RollcureConfig) -> str:
    """The configured store's URI, its local folder created on first use."""
    uri = tracking_uri(cfg)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return uri


def client(cfg: RollcureConfig) -> Any:
    """An ``MlflowClient`` on the configured store; MLflow's process-wide URI is left alone."""
    from mlflow.tracking import MlflowClient

    uri = _prepared_uri(cfg)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


@contextlib.contextmanager
def tracking(cfg: RollcureConfig) -> Iterator[str]:
    """MLflow's fluent API (``start_run``, ``log_*``) on the configured store for one block.

    ``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI``, which :func:`tracking_uri`
    prefers over any config: left set, every later config in the process would reach this same
    store. So the previous URI and variable are put back when the block ends.
    """
    import mlflow

    previous_uri, previous_env = mlflow.get_tracking_uri(), os.environ.get(TRACKING_ENV)
    uri = _prepared_uri(cfg)
    mlflow.set_tracking_uri(uri)
    try:
        yield uri
    finally:
        mlflow.set_tracking_uri(previous_uri)
        if previous_env is None:
            os.environ.pop(TRACKING_ENV, None)
        else:
            os.environ[TRACKING_ENV] = previous_env


def experiment_id(cfg: RollcureConfig) -> str:
    """The configured experiment, created with the local artifact root if missing."""
    c = client(cfg)
    exp = c.get_experiment_by_name(cfg.training.experiment)
    if exp is not None:
        return exp.experiment_id
    return c.create_experiment(cfg.training.experiment, artifact_location=artifact_root(cfg))


def register_bundle(cfg: RollcureConfig, run_id: str, bundle: Bundle, alias: str = CHALLENGER) -> str:
    """Log ``bundle`` to the run, create a registered version from it and point ``alias`` at it."""
    from mlflow.exceptions import MlflowException

    c = client(cfg)
    with tempfile.TemporaryDirectory() as tmp:
        folder = bundle.save(Path(tmp) / BUNDLE_ARTIFACT)
        c.log_artifacts(run_id, str(folder), artifact_path=BUNDLE_ARTIFACT)
    name = cfg.training.registered_model
    try:
        c.get_registered_model(name)
    except MlflowException:
        c.create_registered_model(
            name, description="Roll-forward and cure models with calibrators and reason codes"
        )
    source = f"{c.get_run(run_id).info.artifact_uri}/{BUNDLE_ARTIFACT}"
    version = c.create_model_version(name, source=source, run_id=run_id).version
    c.set_registered_model_alias(name, alias, version)
    return str(version)


def resolve_version(cfg: RollcureConfig, ref: str) -> Any:
    """The model version for an alias or a version number; unknown ones are input errors."""
    from mlflow.exceptions import MlflowException

    c = client(cfg)
    name = cfg.training.registered_model
    try:
        if str(ref).isdigit():
            return c.get_model_version(name, str(ref))
        return c.get_model_version_by_alias(name, ref)
    except MlflowException as exc:
        hint = " (train, then `rollcure promote` sets champion)" if ref == CHAMPION else ""
        raise InputError(f"model: no version or alias {ref!r} of registered model {name!r}{hint}") from exc


def promote(cfg: RollcureConfig, version: str | None = None) -> str:
    """Point ``champion`` at ``version`` (default: the current challenger); returns the version."""
    mv = resolve_version(cfg, version if version is not None else CHALLENGER)
    client(cfg).set_registered_model_alias(cfg.training.registered_model, CHAMPION, mv.version)
    return str(mv.version)


def load_bundle(cfg: RollcureConfig, ref: str = CHAMPION) -> Bundle:
    """Download and load the bundle of an alias (``champion``/``challenger``) or version number."""
    import mlflow

    mv = resolve_version(cfg, ref)
    uri = _prepared_uri(cfg)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=mv.source, dst_path=tmp, tracking_uri=uri, registry_uri=uri
        )
        bundle = Bundle.load(Path(local))
    bundle.metadata = {**bundle.metadata, "registered_version": str(mv.version), "run_id": mv.run_id}
    return bundle
