"""MLflow I/O: where runs go, registering a bundle, moving aliases, loading a bundle back.

Local by default: a SQLite store and an artifact folder under ``<data_dir>/mlflow``. The
``MLFLOW_TRACKING_URI`` environment variable (or ``training.tracking_uri``) points a team at a
shared server instead. The bundle folder is logged as an MLflow pyfunc model (``registry.pyfunc``:
a loader module from the installed package, a signature from the request model, an input
example), so any MLflow client can ``mlflow.pyfunc.load_model("models:/<name>@champion")`` and
decide a payload frame, while ``load_bundle`` reads the same folder back as a ``Bundle`` for the
service; aliases (``challenger``, ``champion``) replace deprecated registry stages. mlflow is
imported inside the functions: importing it costs seconds.

Registering records the SHA-256 of every bundle file (``models.digest``) as a tag of the model
version and of its logged model; ``load_bundle`` hands them to ``Bundle.load``, which refuses a
folder that differs, and refuses a version that has none recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from models.bundle import Bundle
from models.digest import folder_digests
from rollcure.config import RollcureConfig
from rollcure.core.errors import InputError

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

CHALLENGER = "challenger"
CHAMPION = "champion"
BUNDLE_ARTIFACT = "bundle"
TRACKING_ENV = "MLFLOW_TRACKING_URI"
#: How MLflow 3 names a logged model as a model version's source.
_LOGGED_MODEL = "models:/"
#: Tag (on the model version and its logged model) holding the bundle files' SHA-256 as JSON.
DIGESTS_TAG = "rollcure.bundle_sha256"


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


def client(cfg: RollcureConfig) -> MlflowClient:
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


def register_bundle(
    cfg: RollcureConfig,
    run_id: str,
    bundle: Bundle,
    alias: str = CHALLENGER,
    input_example: pd.DataFrame | None = None,
) -> str:
    """Log ``bundle`` to the run as a pyfunc model, register it as a new version of the
    registered model and point ``alias`` at it. ``input_example``: a payload frame
    (``registry.pyfunc.payload_frame``) stored with the model, which MLflow also decides once as
    a check that the logged model loads and serves."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from registry.pyfunc import LOADER_MODULE, pip_requirements, signature

    c = client(cfg)
    name = cfg.training.registered_model
    try:
        c.get_registered_model(name)
    except MlflowException:
        c.create_registered_model(
            name, description="Roll-forward and cure models with calibrators, reason codes and policy"
        )
    with tempfile.TemporaryDirectory() as tmp, tracking(cfg), _in_run(run_id):
        folder = bundle.save(Path(tmp) / BUNDLE_ARTIFACT)
        digests = json.dumps(folder_digests(folder), sort_keys=True)
        info = mlflow.pyfunc.log_model(
            name=BUNDLE_ARTIFACT,
            loader_module=LOADER_MODULE,
            data_path=str(folder),
            signature=signature(),
            input_example=input_example,
            pip_requirements=pip_requirements(),
            registered_model_name=name,
        )
    version = str(info.registered_model_version)
    c.set_model_version_tag(name, version, DIGESTS_TAG, digests)
    if getattr(info, "model_id", None):
        c.set_logged_model_tags(info.model_id, {DIGESTS_TAG: digests})
    c.set_registered_model_alias(name, alias, version)
    return version


@contextlib.contextmanager
def _in_run(run_id: str) -> Iterator[None]:
    """``run_id`` as MLflow's active run for one block (it may be active already)."""
    import mlflow

    active = mlflow.active_run()
    if active is not None and active.info.run_id == run_id:
        yield
        return
    with mlflow.start_run(run_id=run_id, nested=active is not None):
        yield


def resolve_version(cfg: RollcureConfig, ref: str) -> ModelVersion:
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


def download_bundle(cfg: RollcureConfig, ref: str, dst: Path) -> tuple[Path, dict[str, str], ModelVersion]:
    """Download the bundle folder of an alias or version number into ``dst``: the folder, the
    file digests recorded at registration (to load it with) and the version."""
    import mlflow

    mv = resolve_version(cfg, ref)
    uri = _prepared_uri(cfg)
    source = mv.source
    if source is None:
        raise InputError(f"model: version {mv.version} of {mv.name!r} has no source to download")
    if source.startswith(_LOGGED_MODEL):  # resolved by MLflow through its process-wide store,
        # which need not be this one: ask this store where the logged model lives
        source = client(cfg).get_logged_model(source.removeprefix(_LOGGED_MODEL)).artifact_location
    digests = _recorded_digests(cfg, mv)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    local = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=source, dst_path=str(dst), tracking_uri=uri, registry_uri=uri
        )
    )
    return local / _bundle_folder(local), digests, mv


def load_bundle(cfg: RollcureConfig, ref: str = CHAMPION) -> Bundle:
    """Download and load the bundle of an alias (``champion``/``challenger``) or version number."""
    with tempfile.TemporaryDirectory() as tmp:
        folder, digests, mv = download_bundle(cfg, ref, Path(tmp))
        bundle = Bundle.load(folder, digests=digests)
    bundle.metadata = {**bundle.metadata, "registered_version": str(mv.version), "run_id": mv.run_id}
    return bundle


def _recorded_digests(cfg: RollcureConfig, mv: ModelVersion) -> dict[str, str]:
    """The file digests recorded at registration: the version's tag, else its logged model's (a
    version created by hand from a registered source shares that source's digests)."""
    recorded = (mv.tags or {}).get(DIGESTS_TAG)
    source = mv.source or ""
    if recorded is None and source.startswith(_LOGGED_MODEL):
        logged = client(cfg).get_logged_model(source.removeprefix(_LOGGED_MODEL))
        recorded = (logged.tags or {}).get(DIGESTS_TAG)
    if recorded is None:
        raise InputError(
            f"model: version {mv.version} of {mv.name!r} has no file digests recorded at registration; "
            "register it again (`rollcure train`) so its artifact can be checked"
        )
    return dict(json.loads(recorded))


def _bundle_folder(model_dir: Path) -> str:
    """The bundle folder inside a downloaded pyfunc model (its flavor's ``data``)."""
    from mlflow.models import Model

    flavor = Model.load(str(model_dir)).flavors.get("python_function", {})
    if "data" not in flavor:
        raise InputError(f"model: {model_dir.name} is not a rollcure bundle (no pyfunc data folder)")
    return flavor["data"]
