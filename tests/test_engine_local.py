"""The local engine's threads and the allocator settings every batch process gets."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import pytest

from engine.cluster import _dask_settings, run_tasks
from rollcure.config.engine import EngineConfig
from rollcure.core.memory_env import MEMORY_ENV, WORKER_ENV, apply_memory_env


def _slow_echo(task: int, delays: dict[int, float]) -> tuple[int, str]:
    time.sleep(delays.get(task, 0.0))
    return task, threading.current_thread().name


def test_local_threads_return_results_in_task_order_and_count_every_task():
    """The first task is the slowest, so finishing order differs from task order."""
    seen: list[int] = []
    out = run_tasks(
        EngineConfig(local_threads=2),
        _slow_echo,
        list(range(6)),
        on_done=seen.append,
        delays={0: 0.3},
    )
    assert [task for task, _ in out] == list(range(6))
    assert seen == list(range(1, 7))
    assert len({name for _, name in out}) == 2  # two pieces really were in flight


def test_one_local_thread_runs_in_the_calling_thread():
    out = run_tasks(EngineConfig(local_threads=1), _slow_echo, [1, 2], delays={})
    assert {name for _, name in out} == {threading.current_thread().name}


def _fail_first(task: int, ran: list[int]) -> int:
    ran.append(task)
    if task == 0:
        raise ValueError("task 0 is broken")
    time.sleep(0.2)
    return task


def test_a_failing_local_task_ends_the_run_with_its_own_error_and_starts_no_more():
    ran: list[int] = []
    with pytest.raises(ValueError, match="task 0 is broken"):
        run_tasks(EngineConfig(local_threads=2), _fail_first, list(range(8)), ran=ran)
    assert 0 in ran and len(ran) < 8  # the tasks not started when it failed never ran


def test_memory_env_fills_only_what_is_not_set():
    environ = {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}
    apply_memory_env(environ)
    assert environ == {"ARROW_DEFAULT_MEMORY_POOL": "jemalloc", "NUMPY_MADVISE_HUGEPAGE": "0"}


def _probe(env: dict[str, str]) -> list[str]:
    code = (
        "import os, cli, pyarrow; "
        "print(pyarrow.default_memory_pool().backend_name, os.environ['NUMPY_MADVISE_HUGEPAGE'])"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.split()


def test_the_command_line_sets_the_allocators_before_numpy_and_arrow_load():
    clean = {k: v for k, v in os.environ.items() if k not in MEMORY_ENV}
    assert _probe(clean) == ["system", "0"]
    assert _probe({**clean, "ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}) == ["jemalloc", "0"]


_IN_HEAP = (
    "import numpy as np{setup}\n"
    "a = np.ones(100_000_000 // 8)\n"
    "spans = [line.split() for line in open('/proc/self/maps')]\n"
    "heap = [tuple(int(x, 16) for x in s[0].split('-')) for s in spans if s[-1] == '[heap]']\n"
    "print(any(lo <= a.ctypes.data < hi for lo, hi in heap))\n"
)
#: The `rollcure` command's entry point, run to its end (``--help`` exits 0).
_RUN_THE_COMMAND = (
    "\nimport sys\nfrom cli.main import main\nsys.argv = ['rollcure', '--help']\n"
    "try:\n    main()\nexcept SystemExit as done:\n    assert done.code == 0, done.code"
)


def _large_array_in_heap(setup: str, env: dict[str, str]) -> bool:
    """Whether a fresh 100 MB array lands in the process heap (reused memory) or a mapping of its own."""
    code = _IN_HEAP.format(setup=setup)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.split()[-1] == "True"  # the last line (the command may print before it)


def test_the_command_makes_glibc_reuse_freed_memory():
    from rollcure.core.memory_env import _MALLOC_VARIABLES

    clean = {k: v for k, v in os.environ.items() if k not in _MALLOC_VARIABLES and k != "GLIBC_TUNABLES"}
    assert not _large_array_in_heap("", clean)  # glibc's default: a mapping of its own
    assert not _large_array_in_heap("; import cli", clean)  # importing the package changes nothing
    assert _large_array_in_heap(_RUN_THE_COMMAND, clean)
    # a glibc variable or malloc tunable the operator set is theirs: nothing of ours is applied
    assert not _large_array_in_heap(_RUN_THE_COMMAND, {**clean, "MALLOC_TRIM_THRESHOLD_": "131072"})
    assert not _large_array_in_heap(
        _RUN_THE_COMMAND, {**clean, "GLIBC_TUNABLES": "glibc.malloc.mmap_max=65536"}
    )


def test_dask_workers_get_the_allocator_settings(monkeypatch):
    for key in WORKER_ENV:
        monkeypatch.delenv(key, raising=False)
    environ = _dask_settings(EngineConfig(kind="dask"))["distributed.nanny.pre-spawn-environ"]
    assert {k: environ[k] for k in WORKER_ENV} == WORKER_ENV
    assert MEMORY_ENV.items() <= WORKER_ENV.items()
    assert environ["MALLOC_TRIM_THRESHOLD_"]  # dask's own settings are kept


def test_a_pool_set_in_the_dask_config_wins_over_ours():
    import dask

    with dask.config.set({"distributed.nanny.pre-spawn-environ.ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}):
        environ = _dask_settings(EngineConfig(kind="dask"))["distributed.nanny.pre-spawn-environ"]
    assert environ["ARROW_DEFAULT_MEMORY_POOL"] == "jemalloc"
    assert environ["NUMPY_MADVISE_HUGEPAGE"] == WORKER_ENV["NUMPY_MADVISE_HUGEPAGE"]


def test_local_threads_are_at_most_the_usable_cores():
    from engine.cluster import local_threads
    from rollcure.core.cores import usable_cores

    assert local_threads(EngineConfig(local_threads=64)) == usable_cores()
    assert local_threads(EngineConfig(local_threads=1)) == 1
