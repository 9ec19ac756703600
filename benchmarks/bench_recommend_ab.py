"""POST /recommend in process, for comparing two checkouts side by side; prints one JSON line.

The service runs through its ASGI app (starlette's TestClient, no network, no locust), so the
figure moves far less between runs than ``bench_serving.py``'s. To compare a change with an older
checkout, run it alternately against each, e.g. ``PYTHONPATH=OLD python OLD/...`` and this file,
each on a data folder holding the tables and a champion trained by that checkout:

    .venv/bin/python benchmarks/bench_recommend_ab.py DATA_DIR [REQUESTS]

Figures: median and p90 of single-case requests, median of 100-case requests (wall ms).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import sys
import time


def main() -> None:
    data = sys.argv[1]
    reps = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    os.environ["ROLLCURE_DATA_DIR"] = data
    os.environ.setdefault("ROLLCURE_INSECURE_DEV", "1")  # an in-process benchmark: no token or salt needed
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    os.environ.pop("ROLLCURE_API_TOKEN", None)
    logging.disable(logging.WARNING)
    from starlette.testclient import TestClient

    from rollcure.core.io import read_tables
    from serving.demo import sample_payloads
    from serving.service import RollcureService

    payloads = sample_payloads(read_tables(data), 100)
    single, batch = [], []
    with TestClient(RollcureService.to_asgi()) as client:
        for p in payloads[:20]:  # warm-up
            client.post("/recommend", json={"cases": [p]})
        for i in range(reps):
            t0 = time.perf_counter()
            r = client.post("/recommend", json={"cases": [payloads[i % len(payloads)]]})
            single.append(time.perf_counter() - t0)
            r.raise_for_status()
        for _ in range(20):
            t0 = time.perf_counter()
            client.post("/recommend", json={"cases": payloads}).raise_for_status()
            batch.append(time.perf_counter() - t0)
    doc = {
        "single_median_ms": round(1e3 * statistics.median(single), 2),
        "single_p90_ms": round(1e3 * sorted(single)[int(0.9 * len(single))], 2),
        "batch100_median_ms": round(1e3 * statistics.median(batch), 1),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_1m": os.getloadavg()[0],
        },
    }
    print(json.dumps(doc))


if __name__ == "__main__":
    main()
