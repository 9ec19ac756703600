"""Starting and stopping the service as a real process (`rollcure serve`, the demo, the tests).

``bentoml serve`` runs a supervisor and a worker process; ``start_service`` puts them in a new
process group so that ``stop_service`` (SIGTERM, then SIGKILL) stops both. The service reads its
configuration from ``$ROLLCURE_CONFIG`` and ``$ROLLCURE_DATA_DIR``, set here from the caller's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import yaml

from rollcure.config import DATA_DIR_ENV, RollcureConfig
from rollcure.errors import InputError
from serving.config import CONFIG_ENV, SERVICE_NAME

BENTOML_OPTIONS_ENV = "BENTOML_CONFIG_OPTIONS"

SERVICE_TARGET = "serving.service:RollcureService"
READY_PATH = "/readyz"


def write_config(cfg: RollcureConfig, path: Path) -> Path:
    """Write the config as YAML for the service process (it holds no secrets)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False))
    return path


def service_env(
    cfg: RollcureConfig, config_path: Path | None, base: dict[str, str] | None = None
) -> dict[str, str]:
    """The environment of the service process: the caller's, plus where config and data live."""
    env = dict(os.environ if base is None else base)
    env[DATA_DIR_ENV] = str(Path(cfg.data_dir).resolve())
    if config_path is not None:
        env[CONFIG_ENV] = str(Path(config_path).resolve())
    env.setdefault("BENTOML_DO_NOT_TRACK", "True")
    env.setdefault("OMP_NUM_THREADS", str(cfg.serving.omp_threads))
    workers = f"services.{SERVICE_NAME}.workers={cfg.serving.workers}"
    env[BENTOML_OPTIONS_ENV] = " ".join(o for o in (env.get(BENTOML_OPTIONS_ENV, ""), workers) if o)
    return env


def service_command(cfg: RollcureConfig, port: int | None = None) -> list[str]:
    bentoml = str(Path(sys.executable).with_name("bentoml"))
    return [
        bentoml,
        "serve",
        SERVICE_TARGET,
        "--port",
        str(port or cfg.serving.port),
        "--host",
        cfg.serving.host,
    ]


def start_service(
    cfg: RollcureConfig,
    config_path: Path | None,
    port: int | None = None,
    env: dict[str, str] | None = None,
    log_path: Path | None = None,
) -> subprocess.Popen:
    """Launch ``bentoml serve`` in its own process group; returns at once (see :func:`wait_ready`)."""
    if log_path is not None:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    out = open(log_path, "ab") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        service_command(cfg, port),
        env=service_env(cfg, config_path, env),
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def wait_ready(base_url: str, proc: subprocess.Popen, timeout: float = 120.0) -> float:
    """Poll the readiness probe until the bundle is loaded; returns the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise InputError(f"service: exited with code {proc.returncode} before it was ready")
        try:
            if httpx.get(base_url + READY_PATH, timeout=2.0).status_code == 200:
                return time.monotonic() - t0
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise InputError(f"service: not ready after {timeout:.0f} s at {base_url}")


def stop_service(proc: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
    """Signal the whole process group (supervisor and workers); SIGKILL whatever outlives ``grace``."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)
    # Workers may outlive the supervisor for a moment; make sure the group is gone.
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def check_servable(cfg: RollcureConfig) -> str:
    """The version the configured alias points at; an input error (exit 2) before any process starts
    when there is none, instead of a server whose worker keeps failing to load."""
    from serving.runtime import registered_version

    return registered_version(cfg, cfg.serving.model_alias)


def serve_forever(cfg: RollcureConfig, config_path: Path | None, port: int | None = None) -> int:
    """`rollcure serve`: run in the foreground until interrupted; returns the exit code."""
    check_servable(cfg)
    env = service_env(cfg, config_path)
    if config_path is None:
        # No file given: hand the effective config (e.g. a --data override) to the service.
        config_path = write_config(cfg, Path(cfg.data_dir) / "serving" / "service-config.yaml")
        env[CONFIG_ENV] = str(config_path.resolve())
    try:
        return subprocess.call(service_command(cfg, port), env=env)
    except KeyboardInterrupt:
        return 0
