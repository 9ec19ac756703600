"""The one engine for parallel work: ``local`` (this process) or a ``dask.distributed`` cluster.

``run_tasks`` is the only place that knows which: it maps a function over tasks and hands back the
results in task order. On dask each task runs on a worker; a worker that dies takes its tasks to
another worker (``engine.allowed_failures`` times), and beyond that the run fails with one
:class:`EngineError` line rather than a traceback of dask internals. Without a scheduler address a
``LocalCluster`` sized to this machine is started and stopped around the run (it replaces the
home-made process pool of earlier versions); its workers are processes, so a script that uses
it needs the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import as_completed as finished_in_turn
from typing import Any

from rollcure.config.engine import EngineConfig
from rollcure.core.cores import usable_cores
from rollcure.core.errors import InputError
from rollcure.core.memory_env import WORKER_ENV

#: The module an operator's workers import at start: the scoring modules and MLflow's registry
#: client, for workers that load the bundle from the registry (``engine.worker_setup``).
WORKER_SETUP = "engine.worker_setup"

#: What a LocalCluster's workers import at start: the scoring modules only. They share this
#: machine's disk, so the driver hands them the bundle as a folder (``serving.batch.bundle_source``)
#: and they never import MLflow, which took about 3 s of each worker's start.
LOCAL_WORKER_SETUP = "engine.score"


class EngineError(RuntimeError):
    """The cluster could not finish the run (workers lost too often, scheduler gone)."""


def local_workers(cfg: EngineConfig) -> int:
    return cfg.workers if cfg.workers > 0 else usable_cores()


def local_threads(cfg: EngineConfig) -> int:
    return min(cfg.local_threads, usable_cores())


def _run_here(
    func: Callable,
    tasks: Sequence[Any],
    threads: int,
    on_done: Callable[[int], None] | None,
    kwargs: dict[str, Any],
) -> list[Any]:
    """The local engine: ``threads`` tasks at a time on threads of this process, results in task
    order. The heavy steps of a piece (Parquet reads, LightGBM, the numba kernels) release the GIL,
    so a second piece in flight uses the second core while the first holds the interpreter."""
    if threads <= 1 or len(tasks) <= 1:
        out = []
        for i, task in enumerate(tasks):
            out.append(func(task, **kwargs))
            if on_done is not None:
                on_done(i + 1)
        return out
    with ThreadPoolExecutor(min(threads, len(tasks))) as pool:
        futures = [pool.submit(func, task, **kwargs) for task in tasks]
        try:
            for done, future in enumerate(finished_in_turn(futures), start=1):
                future.result()  # the first failure ends the run
                if on_done is not None:
                    on_done(done)
        finally:
            for future in futures:
                future.cancel()  # those not started yet
        return [f.result() for f in futures]


def _dask_settings(cfg: EngineConfig) -> dict[str, object]:
    import dask
    import distributed  # noqa: F401  (its import registers the defaults read below)

    # worker processes a nanny here starts get the allocator settings; a value in the dask config
    # wins over ours, and the nanny lets this process's environment win over both
    environ = {**WORKER_ENV, **dask.config.get("distributed.nanny.pre-spawn-environ", {})}
    return {
        "distributed.nanny.pre-spawn-environ": environ,
        "distributed.scheduler.allowed-failures": cfg.allowed_failures,
        "distributed.comm.timeouts.connect": f"{cfg.connect_timeout_seconds}s",
        # the driver gathers per-case values; a big book's results are larger than the default warning
        "distributed.admin.large-graph-warning-threshold": "1GB",
    }


@contextlib.contextmanager
def open_client(cfg: EngineConfig) -> Iterator[Any]:
    """A dask ``Client`` on ``cfg.scheduler``, or on a LocalCluster started for the block."""
    import dask
    from distributed import Client, LocalCluster

    with dask.config.set(_dask_settings(cfg)):
        if cfg.scheduler is not None:
            try:
                client = Client(cfg.scheduler, timeout=cfg.connect_timeout_seconds)
            except (OSError, TimeoutError) as exc:
                raise InputError(
                    f"--scheduler: no dask scheduler answered at {cfg.scheduler} within "
                    f"{cfg.connect_timeout_seconds:g} s ({exc.__class__.__name__})"
                ) from None
            try:
                client.wait_for_workers(1, timeout=cfg.connect_timeout_seconds)
            except TimeoutError:
                client.close()
                raise InputError(f"--scheduler: {cfg.scheduler} has no worker") from None
            with contextlib.closing(client):
                yield client
            return
        cluster = LocalCluster(
            n_workers=local_workers(cfg),
            threads_per_worker=cfg.threads_per_worker,
            memory_limit=cfg.memory_limit,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
            preload=[LOCAL_WORKER_SETUP],
        )
        with cluster, Client(cluster) as client:
            yield client


def _gather_in_order(
    client: Any,
    func: Callable,
    tasks: Sequence[Any],
    on_done: Callable[[int], None] | None,
    kwargs: dict[str, Any],
) -> list[Any]:
    from distributed import as_completed
    from distributed.client import FutureCancelledError

    futures = client.map(func, list(tasks), pure=False, **kwargs)
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    done = 0
    try:
        for future in as_completed(futures):
            results[index[future.key]] = future.result()
            future.release()
            done += 1
            if on_done is not None:
                on_done(done)
    except InputError:
        raise
    except FutureCancelledError as exc:
        raise EngineError(f"engine: the cluster cancelled the run ({exc})") from None
    except Exception as exc:
        if type(exc).__name__ == "KilledWorker":
            raise EngineError(
                "engine: workers died running one task more often than engine.allowed_failures allows "
                "(out of memory or killed); nothing was written"
            ) from None
        if isinstance(exc, (OSError, TimeoutError)) or type(exc).__module__.startswith("distributed"):
            raise EngineError(
                f"engine: the cluster failed ({exc.__class__.__name__}: {exc}); nothing was written"
            ) from None
        raise
    finally:
        client.cancel([f for f in futures if not f.done()])
    return results


def run_tasks(
    cfg: EngineConfig,
    func: Callable[..., Any],
    tasks: Sequence[Any],
    *,
    on_done: Callable[[int], None] | None = None,
    client: Any = None,
    **kwargs: Any,
) -> list[Any]:
    """``[func(t, **kwargs) for t in tasks]`` here (``local``) or on the cluster (``dask``), in
    task order. ``client``: an open dask client to reuse (else one is opened for the call)."""
    if cfg.kind == "local":
        return _run_here(func, tasks, local_threads(cfg), on_done, kwargs)
    if client is not None:
        return _gather_in_order(client, func, tasks, on_done, kwargs)
    with open_client(cfg) as opened:
        return _gather_in_order(opened, func, tasks, on_done, kwargs)
