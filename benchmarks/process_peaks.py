"""Peak memory of a benchmark's child process tree (a CLI run, its dask workers), read from /proc.

Shared by the batch-scoring and distributed-training benchmarks, which both run ``rollcure`` as a
child process and report each process's own high-water mark.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path


def high_water_kb(pid: int) -> int:
    """Peak resident set size so far of a running process (VmHWM), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_peaks(proc: subprocess.Popen, poll_s: float = 0.2) -> dict[int, int]:
    """Each process's high-water mark (kB) in the tree of ``proc`` until it exits."""
    import psutil

    root = psutil.Process(proc.pid)
    peaks: dict[int, int] = {}
    while proc.poll() is None:
        try:
            pids = [proc.pid] + [c.pid for c in root.children(recursive=True)]
        except psutil.NoSuchProcess:
            pids = [proc.pid]
        for pid in pids:
            peaks[pid] = max(peaks.get(pid, 0), high_water_kb(pid))
        time.sleep(poll_s)
    return peaks
