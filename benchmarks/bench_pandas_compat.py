"""Benchmark: what each private-pandas fast path buys end to end; prints one JSON document.

Two measurements, both switching `rollcure.core.pandas_compat` fast paths on and off:

- ``http``: `bench_serving.py` (the real ``bentoml serve`` process under locust), once per setting
  of ``ROLLCURE_PANDAS_FAST`` (all, none, and all but one for each fast path), the settings
  interleaved over ``--rounds`` so drift in machine load hits every setting alike;
- ``in_process``: the same ``/recommend`` requests through the service's ASGI app in this process
  (no network, no locust), one case per request, settings interleaved request by request with
  `use_fast_paths`, wall and process-CPU time. It resolves smaller differences than the HTTP
  run on a shared machine.

    .venv/bin/python benchmarks/bench_pandas_compat.py --data DIR [--seconds 15] [--rounds 1]

DIR is a data folder with a registered ``champion`` (see bench_serving.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _settings() -> dict[str, str]:
    from rollcure.core.pandas_compat import FAST_PATHS

    out = {"all": "all", "none": "none"}
    for name in FAST_PATHS:
        out[f"all_but_{name}"] = ",".join(p for p in FAST_PATHS if p != name) or "none"
    return out


def http_runs(data: Path, seconds: int, rate_seconds: int, rate: int, rounds: int) -> dict:
    """bench_serving.py once per setting and round; the median of each figure over rounds."""
    figures: dict[str, list[dict]] = {}
    for _ in range(rounds):
        for label, setting in _settings().items():
            env = {**os.environ, "ROLLCURE_PANDAS_FAST": setting}
            cmd = [sys.executable, str(HERE / "bench_serving.py"), "--data", str(data), "--seconds",
                   str(seconds), "--rate-seconds", str(rate_seconds), "--rate", str(rate)]  # fmt: skip
            done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            res = json.loads(done.stdout[done.stdout.index("{") :])
            figures.setdefault(label, []).append(
                {
                    "single_p50_ms": res["single_case"]["p50_ms"],
                    "single_mean_ms": res["single_case"]["mean_ms"],
                    "single_requests_per_s": res["single_case"]["requests_per_s"],
                    "batch100_cases_per_s": res["batch_100"]["cases_per_s"],
                    "rate_p50_ms": res["rate"]["p50_ms"],
                    "load_average_1m": res["machine"]["load_average_1m"],
                }
            )
    return {
        label: {k: float(np.median([r[k] for r in runs])) for k in runs[0]} for label, runs in figures.items()
    }


def _timed_requests(client, payloads: list, requests: int, batch: int) -> dict[str, dict[str, float]]:
    """Median wall and process-CPU ms per ``/recommend`` request of ``batch`` cases, per setting,
    the settings interleaved request by request."""
    from rollcure.core.pandas_compat import use_fast_paths

    settings = _settings()
    wall: dict[str, list[float]] = {label: [] for label in settings}
    cpu: dict[str, list[float]] = {label: [] for label in settings}
    for i in range(requests + 3):
        body = {"cases": [payloads[(i * batch + k) % len(payloads)] for k in range(batch)]}
        for label, fast in settings.items():
            with use_fast_paths(fast):
                t0, c0 = time.perf_counter(), time.process_time()
                r = client.post("/recommend", json=body)
                t1, c1 = time.perf_counter(), time.process_time()
            if r.status_code != 200:
                raise SystemExit(f"/recommend answered {r.status_code}: {r.text[:300]}")
            if i >= 3:  # warm-up
                wall[label].append((t1 - t0) * 1e3)
                cpu[label].append((c1 - c0) * 1e3)
    return {
        "wall_ms_median": {label: round(float(np.median(t)), 3) for label, t in wall.items()},
        "cpu_ms_median": {label: round(float(np.median(t)), 3) for label, t in cpu.items()},
    }


def in_process(data: Path, requests: int) -> dict:
    """The service's ASGI app in this process: single-case and 100-case requests per setting."""
    from starlette.testclient import TestClient

    from rollcure.config import load_config
    from rollcure.core.io import read_tables
    from serving.demo import sample_payloads
    from serving.runner import CONFIG_ENV, write_config
    from serving.service import RollcureService

    os.environ["ROLLCURE_DATA_DIR"] = str(data.resolve())
    os.environ.setdefault("ROLLCURE_INSECURE_DEV", "1")  # a loopback benchmark: no token or salt needed
    work = Path(tempfile.mkdtemp(prefix="rollcure-bench-compat-"))
    cfg = load_config(None)
    serving = {**cfg.serving.model_dump(), "decision_log_url": f"sqlite:///{work / 'd.sqlite'}"}
    serving.update(coalesce_wait_ms=0.0, reload_poll_seconds=0.0)
    cfg = cfg.model_copy(update={"serving": cfg.serving.model_validate(serving)})
    os.environ[CONFIG_ENV] = str(write_config(cfg, work / "config.yaml"))
    payloads = sample_payloads(read_tables(data), 400)
    with TestClient(RollcureService.to_asgi()) as client:
        single = _timed_requests(client, payloads, requests, 1)
        batch = _timed_requests(client, payloads, max(requests // 10, 5), 100)
    out = {}
    for name, figures in (("single_case", single), ("batch100", batch)):
        for kind, table in figures.items():
            out[f"{name}_{kind}"] = table
            out[f"{name}_{kind}_slowdown_pct_without"] = _gains(table)
    return out


def _gains(table: dict[str, float], better: str = "lower") -> dict[str, float]:
    """Per fast path: % the figure worsens when only that path is off (positive = the path helps)."""
    base = table["all"]
    out = {}
    for label, value in table.items():
        if label == "all":
            continue
        change = (value - base) / base if better == "lower" else (base - value) / base
        out[label] = round(100 * change, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--seconds", type=int, default=15, help="per locust scenario (single, batch100)")
    ap.add_argument("--rate-seconds", type=int, default=15)
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--requests", type=int, default=200, help="in-process requests per setting")
    ap.add_argument("--skip-http", action="store_true")
    args = ap.parse_args()

    result: dict = {"benchmark": "pandas_fast_paths", "settings": _settings()}
    result["in_process"] = in_process(args.data, args.requests)
    if not args.skip_http:
        http = http_runs(args.data, args.seconds, args.rate_seconds, args.rate, args.rounds)
        result["http"] = http
        result["http_single_p50_slowdown_pct_without"] = _gains(
            {k: v["single_p50_ms"] for k, v in http.items()}
        )
        result["http_batch100_slowdown_pct_without"] = _gains(
            {k: v["batch100_cases_per_s"] for k, v in http.items()}, better="higher"
        )
    result["load_average_1m"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
