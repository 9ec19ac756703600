"""Allocator settings of a batch process: declared once, applied by the CLI and given to dask workers.

Why: scoring a book allocates and frees arrays of hundreds of megabytes in every piece, and two
library defaults made that allocation, not the arithmetic, a large share of the wall time on this
kind of machine (transparent huge pages in ``madvise`` mode, so a page fault in an advised region
may stall on compaction):

- numpy advises huge pages for every large array (``NUMPY_MADVISE_HUGEPAGE``). With the advice,
  the same running sum over the same masks took 0.07-3.3 s from run to run, without it a steady
  0.3 s; ``rollcure score`` on 1M cases used 20 s of system time with it and 9 s without.
- Arrow's default pool (mimalloc in the pinned pyarrow) made concatenating and taking the reason
  strings of 1M cases take 2.6-2.7 s, against 0.14-0.27 s with the system allocator, once the
  process had scored a book (measured in ``docs/experiments.md``).

Both libraries read their variable when they load, so the values are set before numpy or pyarrow
is imported: by ``cli`` (the `rollcure` command) and, through dask's ``pre-spawn-environ``, in
every worker process a nanny starts. A value the operator set already wins (``setdefault``).

Dask workers get one more (``WORKER_ENV``). Dask starts them with ``MALLOC_TRIM_THRESHOLD_`` set, so
that freed memory goes back to the system; fixing one of glibc's thresholds also stops glibc from
raising its mmap threshold as it does in a plain process, so every array above 128 KiB became a
fresh mapping, faulted in page by page and unmapped again. With the threshold at 32 MiB (glibc's own
ceiling for the raised value) two workers scoring 1M cases spent 17-18 s in the kernel instead of
27-38 s.
"""

from __future__ import annotations

import ctypes
import os
import platform
from collections.abc import MutableMapping

#: Environment of a batch process: huge-page advice off for numpy, the system allocator for Arrow.
MEMORY_ENV: dict[str, str] = {
    "NUMPY_MADVISE_HUGEPAGE": "0",
    "ARROW_DEFAULT_MEMORY_POOL": "system",
}


#: What dask workers get besides ``MEMORY_ENV``: glibc's mmap threshold where a plain process lets it rise.
WORKER_ENV: dict[str, str] = {**MEMORY_ENV, "MALLOC_MMAP_THRESHOLD_": str(32 * 2**20)}


def apply_memory_env(environ: MutableMapping[str, str] | None = None) -> None:
    """Set each of ``MEMORY_ENV`` in ``environ`` (default: this process's) unless already set."""
    target = os.environ if environ is None else environ
    for key, value in MEMORY_ENV.items():
        target.setdefault(key, value)


#: glibc's ``mallopt`` parameters (``<malloc.h>``) and what a batch process sets them to.
M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
#: Freed memory glibc keeps for reuse before it gives any back (the largest value ``mallopt`` takes).
KEPT_FREE_BYTES = 2**31 - 1
#: The variables that set the same thing from outside: when the operator set one, ours is not applied.
_MALLOC_VARIABLES = ("MALLOC_MMAP_MAX_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_")


def reuse_freed_memory(environ: MutableMapping[str, str] | None = None) -> bool:
    """Make glibc serve large allocations from its heap and keep freed memory for the next one.

    Why: by default glibc gives each array above its mmap threshold (at most 32 MiB) a fresh
    mapping and unmaps it when freed, and returns the heap's free top to the system. A batch run
    allocates arrays of tens to hundreds of megabytes piece after piece, so every one of them is
    faulted in page by page again; on a virtual machine whose host backs guest memory lazily a
    fault can take tens of microseconds. In the dask driver, re-ordering 1M cases' options took
    0.7 s in one attempt and 4.7-6.0 s in the two before it on the same arrays, with 95k page faults
    each (docs/experiments.md, "Page faults on a virtual machine"). With no mappings and a 2 GiB
    trim threshold the main heap keeps the pages it has (threads' arenas still map requests above
    their 64 MiB heaps), and the peak memory is what it was. Applied through ``mallopt`` by the
    `rollcure` command (``cli.main.main``), since glibc reads its variables only when a process
    starts; the setting is this process's own (a child started with ``exec`` gets glibc's
    defaults). A no-op off glibc or when the operator set one of the variables or a malloc tunable.
    Returns whether the settings were applied.
    """
    env = os.environ if environ is None else environ
    if any(name in env for name in _MALLOC_VARIABLES) or "glibc.malloc." in env.get("GLIBC_TUNABLES", ""):
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, KEPT_FREE_BYTES) == 1)
