"""Starting and stopping the service as a real process (`rollcure serve`, the demo, the tests).

``bentoml serve`` runs a supervisor and worker processes (each worker in a process group of its
own); ``stop_service`` signals the whole process tree (SIGTERM, then SIGKILL for what remains).
The service reads its configuration from ``$ROLLCURE_CONFIG`` and ``$ROLLCURE_DATA_DIR``, set here
from the caller's.
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
from rollcure.config.serving import CONFIG_ENV, INSECURE_DEV_ENV, SERVICE_NAME
from rollcure.core.errors import InputError

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


def _children(pid: int) -> list[int]:
    """Direct children of a process, from /proc (BentoML's workers run in their own process groups)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return children


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting for its parent counts as gone)."""
    return Path(f"/proc/{pid}").exists() and not _is_zombie(pid)


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, parents first."""
    tree, todo = [], [pid]
    while todo:
        p = todo.pop(0)
        tree.append(p)
        todo.extend(_children(p))
    return tree


def _signal_all(pids: list[int], sig: int) -> None:
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass


def stop_service(proc: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
    """Signal the service's whole process tree (CLI, supervisor, workers); SIGKILL what outlives ``grace``
    (counted from the signal).

    The tree is collected before signalling: BentoML starts each worker in a process group of its
    own, so signalling the supervisor's group alone would leave workers running (and, after a
    SIGKILL, still answering on the shared socket).
    """
    pids = process_tree(proc.pid)
    _signal_all(pids, sig)
    deadline = time.monotonic() + grace
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        pass
    while time.monotonic() < deadline and any(
        Path(f"/proc/{p}").exists() and not _is_zombie(p) for p in pids[1:]
    ):
        time.sleep(0.1)
    _signal_all(pids, signal.SIGKILL)
    if proc.poll() is None:
        proc.wait(timeout=grace)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def check_servable(cfg: RollcureConfig) -> str:
    """The version the configured alias points at; an input error (exit 2) before any process starts
    when there is none, instead of a server whose worker keeps failing to load."""
    from serving.runtime import registered_version

    return registered_version(cfg, cfg.serving.model_alias)


def serve_forever(
    cfg: RollcureConfig, config_path: Path | None, port: int | None = None, insecure_dev: bool = False
) -> int:
    """`rollcure serve`: run in the foreground until interrupted; returns the exit code.

    Refuses (an input error, exit 2) without the API token and the case-id salt in the environment
    unless ``insecure_dev``, which the service is then told through ``ROLLCURE_INSECURE_DEV``.
    """
    from serving.auth import require_secrets

    check_servable(cfg)
    env = service_env(cfg, config_path)
    if insecure_dev:
        env[INSECURE_DEV_ENV] = "1"
    require_secrets(env, cfg.serving.token_env, cfg.serving.salt_env)
    if config_path is None:
        # No file given: hand the effective config (e.g. a --data override) to the service.
        config_path = write_config(cfg, Path(cfg.data_dir) / "serving" / "service-config.yaml")
        env[CONFIG_ENV] = str(config_path.resolve())
    proc = subprocess.Popen(service_command(cfg, port), env=env, start_new_session=True)
    return _run_until_signalled(proc, cfg.serving.shutdown_grace_seconds)


class _Stop(Exception):
    """SIGTERM or SIGINT reached `rollcure serve`."""


def _raise_stop(signum: int, _frame: object) -> None:
    raise _Stop(signum)


def _run_until_signalled(proc: subprocess.Popen, grace: float) -> int:
    """Wait for the server; on SIGTERM or SIGINT stop its whole process tree within ``grace``.

    The server runs in a session of its own, so a signal to `rollcure serve` (a process manager's
    SIGTERM, Ctrl-C's SIGINT) reaches only this process, which passes SIGTERM to every process of
    the tree (BentoML's workers finish their in-flight requests, then exit) and kills what is still
    there after the grace period. Before, the signal killed only this process and left BentoML's
    supervisor and workers serving on the port.
    """
    previous = {sig: signal.signal(sig, _raise_stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return proc.wait()
    except _Stop:
        stop_service(proc, sig=signal.SIGTERM, grace=grace)
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if proc.poll() is None:  # any other way out (an error here) leaves no server behind
            stop_service(proc, sig=signal.SIGTERM, grace=grace)
