"""Fixtures of the serving stage (loaded by tests/conftest.py, visible to every test file).

``serving_setup``: a private copy of the ``trained_run`` registry with the trained version promoted
to champion, a config file for the service and a salt, so serving tests can promote and reload
without touching the registry other stages read. ``sample_payloads``: real serving payloads of
cases overdue at the last cycle of the default portfolio. ``service_client``: one in-process
client of the service for the session (the bundle loads once).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # starlette's TestClient warns on import that it prefers httpx2; the client works as documented.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from starlette.testclient import TestClient

TEST_SALT = "serving-test-salt"
N_SAMPLE_CASES = 40


@dataclass
class ServingSetup:
    cfg: object
    config_path: Path
    data_dir: Path
    version: str
    env: dict[str, str]


@contextlib.contextmanager
def use_registry(setup: ServingSetup) -> Iterator[None]:
    """Point MLflow at the setup's private registry for the duration of a block.

    ``mlflow.set_tracking_uri`` (called by ``registry.store.client``) also exports
    ``MLFLOW_TRACKING_URI``, which ``registry.store.tracking_uri`` then prefers over any config:
    in a process that has used one registry, every later config would reach that same one. The
    serving tests therefore name their registry explicitly and put the previous value back.
    """
    from registry.store import TRACKING_ENV, tracking_uri

    previous = os.environ.get(TRACKING_ENV)
    os.environ.pop(TRACKING_ENV, None)
    os.environ[TRACKING_ENV] = tracking_uri(setup.cfg)
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(TRACKING_ENV, None)
        else:
            os.environ[TRACKING_ENV] = previous


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service_env_for(setup: ServingSetup, config_path: Path | None = None) -> dict[str, str]:
    from rollcure.config.serving import CONFIG_ENV

    env = dict(setup.env)
    env[CONFIG_ENV] = str(config_path or setup.config_path)
    return env


def write_serving_config(setup: ServingSetup, path: Path, **serving: object) -> Path:
    """A variant of the setup's config with some ``serving`` fields changed."""
    from serving.runner import write_config

    cfg = setup.cfg.model_copy(update={"serving": setup.cfg.serving.model_copy(update=serving)})
    return write_config(cfg, path)


@pytest.fixture(scope="session")
def serving_setup(trained_run, tmp_path_factory) -> ServingSetup:
    from registry.store import TRACKING_ENV, promote
    from rollcure.config import RollcureConfig
    from serving.runner import write_config

    root = tmp_path_factory.mktemp("serving")
    shutil.copytree(Path(trained_run.cfg.data_dir) / "mlflow", root / "mlflow")
    cfg = RollcureConfig(data_dir=root, seed=7)
    config_path = write_config(cfg, root / "serving-config.yaml")
    env = {
        "ROLLCURE_DATA_DIR": str(root),
        "ROLLCURE_ID_SALT": TEST_SALT,
        "BENTOML_DO_NOT_TRACK": "True",
        # no token: the tests set one per request where they test auth (the service warns)
        "ROLLCURE_INSECURE_DEV": "1",
    }
    env = {k: v for k, v in {**os.environ, **env}.items() if k not in (TRACKING_ENV, "ROLLCURE_API_TOKEN")}
    setup = ServingSetup(cfg, config_path, root, str(trained_run.version), env)
    with use_registry(setup):
        promote(cfg, trained_run.version)
    return setup


@pytest.fixture(scope="session")
def sample_cases(sim_default_dir):
    """(tables, cases) of the first cases overdue at the latest cycle of the default portfolio."""
    from features.cases import overdue_cases
    from rollcure.core.io import read_tables

    tables = read_tables(sim_default_dir)
    latest = tables["cycles"]["cycle_date"].max()
    cases = overdue_cases(tables["cycles"], latest).head(N_SAMPLE_CASES).reset_index(drop=True)
    return tables, cases


@pytest.fixture(scope="session")
def sample_payloads(sample_cases) -> list[dict]:
    from features.payload_from_tables import payloads_from_tables

    tables, cases = sample_cases
    return [p.model_dump(mode="json") for p in payloads_from_tables(tables, cases)]


def _client(setup: ServingSetup, config_path: Path | None = None) -> TestClient:
    """An in-process client; the service reads ``setup``'s environment while it starts (only then:
    the rest of the session keeps its own environment)."""
    from serving.service import RollcureService

    patch = pytest.MonkeyPatch()
    for k, v in service_env_for(setup, config_path).items():
        patch.setenv(k, v)
    patch.delenv("ROLLCURE_API_TOKEN", raising=False)
    client = TestClient(RollcureService.to_asgi(), raise_server_exceptions=False)
    try:
        with use_registry(setup):
            client.__enter__()
    finally:
        patch.undo()
    return client


@pytest.fixture(scope="session")
def service_client(serving_setup, tmp_path_factory):
    """The service in-process with a small batch limit (10) and its own decision log.

    One per session: BentoML registers process-wide Prometheus metrics when it builds its app, so
    a second in-process app would collide; tests that need another setting use a real process.
    """
    log_dir = tmp_path_factory.mktemp("service_log")
    config = write_serving_config(
        serving_setup,
        log_dir / "config.yaml",
        max_batch_size=10,
        decision_log_url=f"sqlite:///{log_dir / 'decisions.sqlite'}",
    )
    client = _client(serving_setup, config)
    client.log_path = log_dir / "decisions.sqlite"
    yield client
    client.__exit__(None, None, None)


#: Backends of the decision log that the log, ledger and kill tests run on.
LOG_BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """A real PostgreSQL server (pgserver's, from PyPI) for the session, stopped at its end."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import pgserver

        server = pgserver.get_server(tmp_path_factory.mktemp("pgdata"), cleanup_mode="stop")
    yield server
    server.cleanup()


def fresh_pg_database(server) -> str:
    """The URL of a new, empty database on ``server``."""
    import uuid

    import sqlalchemy as sa

    name = f"log_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return server.get_uri(name)


@pytest.fixture(params=LOG_BACKENDS)
def log_url(request, tmp_path) -> str:
    """A fresh, empty decision-log database on each backend."""
    if request.param == "postgresql":
        return fresh_pg_database(request.getfixturevalue("pg_server"))
    return f"sqlite:///{tmp_path / 'decisions.sqlite'}"
