"""Merging concurrent requests into one pass (one feature build, one model call, one log commit).

Per request, the fixed costs (pandas frames, LightGBM calls, an fsynced commit) dwarf the per-case
work, so under load the service decides what is queued together rather than one request after the
other. BentoML's adaptive batching (``@bentoml.api(batchable=True)``) was not used: when its batch
function raises, every request of the batch gets the error, it may split one request across two
batches, and it cannot keep requests apart that must not share a pass.

How a pass is formed (:func:`take_jobs`): the oldest waiting request, plus every later one of the
same *kind* that shares no *key* with those taken, up to a case limit; the rest wait, in order, for
the next pass. The service makes the kind and keys such that a case's answer cannot depend on its
pass-mates (see ``serving.service``). A failed merged pass is re-run request by request
(:func:`run_isolated`), so a request fails only because of its own input.

One worker thread per coalescer runs the passes; the event loop only queues, hands over and wakes.
A request that arrives when no pass is running starts one at once (unless ``wait_s`` > 0).
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

#: What a pass returns per request: its answer, or the exception only it raised.
Outcome = Any
#: (kind, keys) of a request: only requests of one kind and disjoint keys share a pass.
MergeKey = tuple[Hashable, frozenset]


@dataclass
class Job(Generic[T]):
    """One request waiting for a pass."""

    items: Sequence[T]
    kind: Hashable = None
    keys: frozenset = field(default_factory=frozenset)
    future: Any = None


def take_jobs(queue: deque[Job], limit: int) -> list[Job]:
    """Remove and return the next pass: the oldest job and the later ones that fit beside it.

    A job fits when it has the first job's kind, shares no key with the jobs taken and keeps the
    pass within ``limit`` cases. The oldest job is always taken, however large (a lone request
    over the limit runs alone, as it would without merging). Jobs left behind keep their order.
    """
    first = queue.popleft()
    taken, size, keys = [first], len(first.items), set(first.keys)
    left: deque[Job] = deque()
    while queue and size < limit:
        job = queue.popleft()
        if job.kind == first.kind and size + len(job.items) <= limit and keys.isdisjoint(job.keys):
            taken.append(job)
            size += len(job.items)
            keys |= job.keys
        else:
            left.append(job)
    queue.extendleft(reversed(left))
    return taken


def run_isolated(
    groups: list[Sequence[T]], run_many: Callable[[list[Sequence[T]]], list[R]]
) -> list[R | Exception]:
    """``run_many`` on all groups at once; if that fails, on each group alone, each failure its own."""
    try:
        done: list[R | Exception] = list(run_many(groups))
        return done
    except Exception as exc:  # noqa: BLE001 - handed to the request(s) it belongs to
        if len(groups) == 1:
            return [exc]
    out: list[R | Exception] = []
    for group in groups:
        try:
            out.extend(run_many([group]))
        except Exception as exc:  # noqa: BLE001 - only this request fails
            out.append(exc)
    return out


def split(answers: Sequence[R], sizes: Sequence[int]) -> list[list[R]]:
    """A merged pass's answers cut back into one list per request (request order kept)."""
    out, start = [], 0
    for n in sizes:
        out.append(list(answers[start : start + n]))
        start += n
    return out


def _settle(future: asyncio.Future, outcome: Outcome) -> None:
    if future.done():  # the client went away; its decision is logged all the same
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class Coalescer(Generic[T, R]):
    """Queue of requests decided in merged passes by one worker thread.

    ``run_pass(context, groups)`` answers a list of requests (each a list of items) in one go and
    returns one answer per request; ``context()`` is read once per pass (the service's current
    model, so a pass never mixes two), ``limit(context)`` caps the cases of a pass and
    ``merge_key(items)`` gives a request's kind and keys. Use from one event loop.
    """

    def __init__(
        self,
        run_pass: Callable[[Any, list[Sequence[T]]], list[R]],
        *,
        context: Callable[[], Any],
        limit: Callable[[Any], int],
        merge_key: Callable[[Sequence[T]], MergeKey],
        wait_s: float = 0.0,
        name: str = "coalesce",
    ) -> None:
        self._run_pass = run_pass
        self._context = context
        self._limit = limit
        self._merge_key = merge_key
        self._wait_s = wait_s
        self._queue: deque[Job] = deque()
        self._drainer: asyncio.Task | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self.passes = 0  # how many passes ran (tests and diagnostics)

    async def submit(self, items: Sequence[T]) -> R:
        """The answer to one request, once the pass it joined has finished (or its own exception)."""
        loop = asyncio.get_running_loop()
        kind, keys = self._merge_key(items)
        job = Job(items, kind, keys, loop.create_future())
        self._queue.append(job)
        if self._drainer is None or self._drainer.done():
            self._drainer = loop.create_task(self._drain())
        return await job.future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while self._queue:
            if self._wait_s > 0:
                await asyncio.sleep(self._wait_s)
            context = self._context()
            jobs = take_jobs(self._queue, self._limit(context))
            run_many = functools.partial(self._run_pass, context)
            try:
                outcomes = await loop.run_in_executor(
                    self._executor, run_isolated, [j.items for j in jobs], run_many
                )
            except Exception as exc:  # noqa: BLE001 - never leave a request waiting
                outcomes = [exc] * len(jobs)
            self.passes += 1
            for job, outcome in zip(jobs, outcomes, strict=True):
                _settle(job.future, outcome)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
