"""Worker processes for `rollcure score`: chunks scored in parallel, results handed back in order.

Kept apart from ``serving.batch`` and free of heavy imports because a worker imports this module
before anything else: OpenMP reads ``OMP_NUM_THREADS`` once, when LightGBM first loads it, so the
initializer must set it before the bundle (and with it LightGBM) is unpickled. Workers are started
with ``spawn``: a forked child of a process that has already run OpenMP threads can hang.
"""

from __future__ import annotations

import os
import pickle
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

#: OpenMP threads per worker when there are several: the workers already fill the cores, and
#: more threads than cores only adds spin-waiting.
THREADS_PER_WORKER = 1


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def worker_count(requested: int, n_jobs: int) -> int:
    """``requested`` processes (0 = one per usable core), never more than there are chunks."""
    wanted = requested if requested > 0 else usable_cores()
    return max(1, min(wanted, n_jobs))


def in_order(submit: Callable[[Any], Future], jobs: Iterable[Any], limit: int) -> Iterator[Any]:
    """The result of ``submit(job)`` for every job, in job order, with at most ``limit`` jobs
    submitted and not yet handed on: memory holds at most ``limit`` chunks however slow the
    consumer (the Parquet writer) or however uneven the chunks."""
    pending: deque[Future] = deque()
    for job in jobs:
        if len(pending) >= limit:
            yield pending.popleft().result()
        pending.append(submit(job))
    while pending:
        yield pending.popleft().result()


def _start_worker(threads: int, payload: bytes) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)  # before the payload imports LightGBM
    setup, args = pickle.loads(payload)
    setup(*args)


def ordered_map(
    work: Callable[[Any], Any],
    jobs: Iterable[Any],
    workers: int,
    setup: Callable[..., None],
    setup_args: tuple,
) -> Generator[Any, None, None]:
    """``work(job)`` for every job in ``workers`` spawned processes, results in job order.

    Each process runs ``setup(*setup_args)`` once (load the model, open the book) with one OpenMP
    thread; at most ``workers + 1`` jobs are in flight, so one is queued while every worker is busy.
    ``work``, ``setup`` and their arguments must be picklable (module-level functions).
    """
    payload = pickle.dumps((setup, setup_args), protocol=pickle.HIGHEST_PROTOCOL)
    pool = ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=_start_worker,
        initargs=(THREADS_PER_WORKER, payload),
    )
    try:
        yield from in_order(lambda job: pool.submit(work, job), jobs, workers + 1)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
