"""The service as a real process: hot swap under load, and SIGKILL under load loses no decision.

Marked slow (each start of `bentoml serve` imports the whole stack), run in CI all the same.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fixtures_serving import free_port, service_env_for, use_registry, write_serving_config

from cli.main import run
from serving.runner import alive, process_tree, stop_service, wait_ready

pytestmark = pytest.mark.slow

N_CLIENTS = 6


class Load:
    """Client threads posting one case per request until stopped; they record what was acknowledged."""

    def __init__(self, base_url: str, payloads: list[dict]) -> None:
        self.base_url, self.payloads = base_url, payloads
        self.stop = threading.Event()
        self.acked: list[dict] = []  # decisions of 200 answers, with the time the answer arrived
        self.failed: list[str] = []  # anything but a 200 while the server was meant to be up
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(N_CLIENTS)]

    def _run(self, k: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30.0) as client:
            i = k
            while not self.stop.is_set():
                case = self.payloads[i % len(self.payloads)]
                i += N_CLIENTS
                try:
                    r = client.post("/recommend", json={"cases": [case]})
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.failed.append(type(exc).__name__)
                    continue
                with self._lock:
                    if r.status_code == 200:
                        self.acked.extend({**d, "_at": time.monotonic()} for d in r.json())
                    else:
                        self.failed.append(f"HTTP {r.status_code}")

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)

    def wait_for(self, n: int, timeout: float = 120.0) -> None:
        t0 = time.monotonic()
        while len(self.acked) < n and time.monotonic() - t0 < timeout:
            time.sleep(0.05)
        assert len(self.acked) >= n, f"only {len(self.acked)} answers in {timeout} s ({self.failed[:3]})"


@pytest.fixture(scope="module")
def live(serving_setup, tmp_path_factory):
    """`rollcure serve` as a real process group (CLI, BentoML supervisor, worker) with its own log."""
    root = tmp_path_factory.mktemp("live")
    log = root / "decisions.sqlite"
    config = write_serving_config(serving_setup, root / "config.yaml", decision_log_url=f"sqlite:///{log}")
    port = free_port()
    rollcure = str(Path(sys.executable).with_name("rollcure"))
    with open(root / "server.log", "ab") as out:
        proc = subprocess.Popen(
            [rollcure, "serve", "--port", str(port), "--config", str(config)],
            env=service_env_for(serving_setup, config),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    state = {
        "config": config,
        "log": log,
        "cfg": serving_setup.cfg,
        "url": f"http://127.0.0.1:{port}",
        "proc": proc,
    }
    wait_ready(state["url"], proc, timeout=180)
    yield state
    stop_service(proc)  # already gone after the kill test; harmless then


def test_promote_and_reload_under_load_fails_no_request(live, serving_setup, sample_payloads, trained_run):
    from registry.store import client, promote, resolve_version, tracking

    old = serving_setup.version
    with use_registry(serving_setup), Load(live["url"], sample_payloads) as load:
        load.wait_for(20)
        source = resolve_version(serving_setup.cfg, old).source
        with tracking(serving_setup.cfg):  # MLflow resolves a logged-model source in its global store
            created = client(serving_setup.cfg).create_model_version(
                "rollcure-bundle", source=source, run_id=trained_run.run_id
            )
        new = str(created.version)
        promote(serving_setup.cfg, new)
        assert run(["reload", "--url", live["url"]]) == 0  # the CLI trigger, as after `rollcure promote`
        swapped_at = time.monotonic()
        assert httpx.get(live["url"] + "/metadata", timeout=60).json()["model_version"] == new
        n = len(load.acked)
        load.wait_for(n + 20)
    try:
        assert load.failed == []
        versions = [d["model_version"] for d in load.acked]
        assert old in versions and new in versions
        assert all(d["model_version"] == new for d in load.acked if d["_at"] > swapped_at + 1.0)
    finally:
        with use_registry(serving_setup):
            promote(serving_setup.cfg, old)
        httpx.post(live["url"] + "/reload", json={}, timeout=60)


def test_sigkill_under_load_loses_no_acknowledged_decision(live, sample_payloads, serving_setup):
    tree = process_tree(live["proc"].pid)
    assert len(tree) >= 3  # rollcure serve -> bentoml supervisor -> worker
    with Load(live["url"], sample_payloads) as load:
        load.wait_for(40)
        stop_service(live["proc"], sig=signal.SIGKILL)
    time.sleep(0.5)
    assert not any(alive(p) for p in tree), "a service process survived SIGKILL"
    acked = {d["decision_id"] for d in load.acked}
    assert len(acked) >= 40
    # A fresh connection, as after a crash: SQLite replays the WAL.
    with sqlite3.connect(live["log"]) as con:
        logged = {row[0] for row in con.execute("select decision_id from decisions")}
    assert acked <= logged, f"{len(acked - logged)} acknowledged decisions missing from the log"

    # Restart on the same log through the demo helper (start, ask, stop), as `rollcure demo` does.
    from serving.demo import service_demo

    with use_registry(serving_setup):
        decisions = service_demo(live["cfg"], sample_payloads[:2], config_path=live["config"])
    assert [d["loan_id"] for d in decisions] == [p["loan"]["loan_id"] for p in sample_payloads[:2]]
    with sqlite3.connect(live["log"]) as con:
        after = {row[0] for row in con.execute("select decision_id from decisions")}
    assert logged | {d["decision_id"] for d in decisions} <= after
