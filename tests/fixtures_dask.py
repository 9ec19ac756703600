"""Fixtures of the engine tests: a staged bundle, a local reference output, dask clusters.

Every dask process a test starts is torn down by its fixture: LocalClusters by their context
manager, ``dask scheduler`` / ``dask worker`` commands by killing their process groups (each is
started in a session of its own), whatever the test did. Ports are on 127.0.0.1 and every wait is
bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pytest
from fixtures_serving import free_port

from engine.cluster import WORKER_SETUP

DASK = str(Path(sys.executable).with_name("dask"))
#: Seconds a dask command may take to come up on a busy 2-core machine.
START_TIMEOUT = 90.0
SEED = 7
CHUNK = 150


@dataclass
class DaskProcesses:
    """A scheduler and its workers started as commands, each in its own process group."""

    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def kill(self, proc: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=10)

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            self.kill(proc)


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        args, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


@contextlib.contextmanager
def dask_processes(tmp: Path, n_workers: int, allowed_failures: int = 3) -> Iterator[DaskProcesses]:
    """``dask scheduler`` and ``n_workers`` × ``dask worker`` on 127.0.0.1, killed at the end."""
    from distributed import Client

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": str(allowed_failures),
        "OMP_NUM_THREADS": "1",
    }
    sched = _spawn(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        env,
        tmp / "scheduler.log",
    )
    procs = DaskProcesses(address, sched)
    try:
        for i in range(n_workers):
            args = [DASK, "worker", address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1"]
            args += ["--no-dashboard", "--memory-limit", "2GiB", "--name", f"w{i}", "--preload", WORKER_SETUP]
            procs.workers.append(_spawn(args, env, tmp / f"worker{i}.log"))
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with Client(address, timeout=5, set_as_default=False) as c:
                    c.wait_for_workers(n_workers, timeout=max(1.0, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield procs
    finally:
        procs.stop()


@pytest.fixture(scope="session")
def staged_bundle(trained_run, tmp_path_factory):
    """The trained bundle in a folder workers read, with its digests (no registry needed)."""
    from engine.bundle_source import stage_bundle

    assert trained_run.bundle.policy is not None  # the engine tests decide actions, not just scores
    return stage_bundle(trained_run.bundle, tmp_path_factory.mktemp("staged") / "bundle", "1")


@pytest.fixture(scope="session")
def local_reference(staged_bundle, trained_run, sim_default_dir, tmp_path_factory) -> pd.DataFrame:
    """`--engine local` on the default book: the output every engine must reproduce."""
    from engine.book import ParquetBook
    from engine.score import score_book

    out = tmp_path_factory.mktemp("local_ref") / "scores.parquet"
    score_book(
        ParquetBook(sim_default_dir),
        staged_bundle,
        trained_run.cfg.features,
        out,
        as_of=None,
        chunk_size=CHUNK,
        model_name="m",
        seed=SEED,
    )
    return pd.read_parquet(out)


@pytest.fixture(scope="session")
def local_cluster():
    """A LocalCluster of 2 worker processes (1 thread each) and its client, for the session."""
    from engine.cluster import open_client
    from rollcure.config.engine import EngineConfig

    cfg = EngineConfig(kind="dask", workers=2, memory_limit="2GiB")
    with open_client(cfg) as client:
        yield cfg, client


@pytest.fixture(scope="session")
def partitioned_book(sim_default_dir, tmp_path_factory) -> Path:
    """The default book rewritten by `rollcure partition` into 4 hash partitions."""
    from cli.main import run

    out = tmp_path_factory.mktemp("partitioned") / "book"
    assert run(["partition", "--data", str(sim_default_dir), "--out", str(out), "--partitions", "4"]) == 0
    return out
