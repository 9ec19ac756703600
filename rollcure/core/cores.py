"""How many cores this process may use: the one answer the engine and the kernels share."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """Cores this process may run on (the affinity mask, not the machine's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
