"""HTTP benchmark of the service on loopback with locust; prints one JSON document.

    .venv/bin/python benchmarks/bench_serving.py --data DIR [--seconds 20] [--rate-seconds 60]

DIR is a data folder with a registered ``champion`` (e.g. ``rollcure simulate --out DIR`` then
``ROLLCURE_DATA_DIR=DIR rollcure train --data DIR --promote``); its tables supply the sample
cases. Locust is a benchmark-only tool, kept out of the project lock: the script installs it with
uv into ``~/.cache/rollcure/locust-venv`` (or ``$ROLLCURE_LOCUST_VENV``) on first use. The service
is the real ``bentoml serve`` process (one worker unless ``--workers``) with a fresh decision log,
started once for all three scenarios:

- ``single``: one client, one case per POST /recommend, back to back -> p50/p99 latency;
- ``batch100``: two clients, 100 cases per POST /recommend -> cases/s;
- ``rate``: 400 clients at one request every 2 s each, at random phases -> 200 requests/s
  offered for 60 s (a client whose answer is late delays only its own next request), achieved
  rate, failures, p50/p99.

Locust uses ``FastHttpUser`` and pre-serialised bodies (it shares the cores with the server).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: Outside the repository, reused across runs ($ROLLCURE_LOCUST_VENV overrides).
LOCUST_VENV = Path(
    os.environ.get("ROLLCURE_LOCUST_VENV", Path.home() / ".cache" / "rollcure" / "locust-venv")
)
LOCUST_SPEC = "locust==2.47.0"


def _locust() -> Path:
    exe = LOCUST_VENV / "bin" / "locust"
    if not exe.exists():
        uv = Path(sys.executable).with_name("uv")
        subprocess.run([str(uv), "venv", "-q", str(LOCUST_VENV), "--python", sys.executable], check=True)
        subprocess.run(
            [str(uv), "pip", "install", "-q", "--python", str(LOCUST_VENV / "bin" / "python"), LOCUST_SPEC],
            check=True,
        )
    return exe


#: Requests/s each rate-scenario client offers: 2 s between requests, so up to 2 s latency still
#: leaves the offered rate intact.
RATE_PER_USER = 0.5


def _run_locust(url: str, scenario: str, users: int, seconds: int, payloads: Path, out: Path) -> dict:
    env = {
        **os.environ,
        "ROLLCURE_BENCH_PAYLOADS": str(payloads),
        "ROLLCURE_BENCH_SCENARIO": scenario,
        "ROLLCURE_BENCH_USER_RATE": str(RATE_PER_USER),
    }
    prefix = out / scenario
    subprocess.run(
        [
            str(_locust()),
            "-f",
            str(HERE / "locustfile_serving.py"),
            "--headless",
            "--host",
            url,
            "-u",
            str(users),
            "-r",
            str(users),
            "-t",
            f"{seconds}s",
            "--csv",
            str(prefix),
            "--only-summary",
            "--loglevel",
            "ERROR",
        ],
        env=env,
        check=False,  # locust exits 1 when any request failed; the figures say so
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    with open(f"{prefix}_stats.csv") as fh:
        row = next(r for r in csv.DictReader(fh) if r["Name"] == scenario)
    return {
        "users": users,
        "seconds": seconds,
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "requests_per_s": round(float(row["Requests/s"]), 2),
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
        "mean_ms": round(float(row["Average Response Time"]), 1),
    }


def main() -> None:
    from rollcure.config import load_config
    from rollcure.core.io import read_tables
    from serving.demo import sample_payloads
    from serving.runner import start_service, stop_service, wait_ready, write_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--rate-seconds", type=int, default=60)
    ap.add_argument("--rate", type=int, default=200)
    ap.add_argument("--port", type=int, default=3931)
    ap.add_argument("--workers", type=int, default=None, help="BentoML workers (default: the config's)")
    ap.add_argument("--coalesce-wait-ms", type=float, default=None, help="default: the config's")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="rollcure-bench-"))
    os.environ["ROLLCURE_DATA_DIR"] = str(args.data.resolve())
    os.environ.setdefault("ROLLCURE_INSECURE_DEV", "1")  # a loopback benchmark: no token or salt needed
    cfg = load_config(None)
    serving = {"decision_log_url": f"sqlite:///{work / 'd.sqlite'}"}
    if args.workers is not None:
        serving["workers"] = args.workers
    if args.coalesce_wait_ms is not None:
        serving["coalesce_wait_ms"] = args.coalesce_wait_ms
    if serving.get("workers", cfg.serving.workers) > 1:
        serving["reload_poll_seconds"] = max(cfg.serving.reload_poll_seconds, 30.0)
    cfg = cfg.model_copy(
        update={"serving": cfg.serving.model_validate({**cfg.serving.model_dump(), **serving})}
    )
    config_path = write_config(cfg, work / "config.yaml")
    payloads = work / "payloads.json"
    payloads.write_text(json.dumps(sample_payloads(read_tables(args.data), 400)))
    url = f"http://127.0.0.1:{args.port}"
    proc = start_service(cfg, config_path, args.port, log_path=work / "server.log")
    try:
        ready_s = wait_ready(url, proc, timeout=300)
        _run_locust(url, "single", 1, 5, payloads, work)  # warm-up
        result = {
            "benchmark": "serving_http",
            "machine": {
                "cpu_count": os.cpu_count(),
                "platform": platform.platform(),
                "python": platform.python_version(),
                "load_average_1m": round(os.getloadavg()[0], 2),
            },
            "service": {
                "workers": cfg.serving.workers,
                "coalesce_wait_ms": cfg.serving.coalesce_wait_ms,
                "coalesce_max_cases": cfg.serving.coalesce_max_cases,
                "ready_s": round(ready_s, 1),
                "load_generator": f"{LOCUST_SPEC} FastHttpUser",
            },
            "single_case": _run_locust(url, "single", 1, args.seconds, payloads, work),
            "batch_100": _run_locust(url, "batch100", 2, args.seconds, payloads, work),
            "rate": _run_locust(
                url, "rate", round(args.rate / RATE_PER_USER), args.rate_seconds, payloads, work
            ),
        }
        result["batch_100"]["cases_per_s"] = round(result["batch_100"]["requests_per_s"] * 100, 1)
        result["rate"]["offered_per_s"] = args.rate
        result["targets"] = {"single_p50_ms": 10, "single_p99_ms": 30, "rate_failures": 0}
    finally:
        stop_service(proc)
        time.sleep(0.5)
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
