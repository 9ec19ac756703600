"""Issue 16, defect 8: SIGTERM or SIGINT to `rollcure serve` stops the whole process tree.

Before, the signal killed only the CLI process: BentoML's supervisor and worker kept serving on
the port and the next start failed with "Address already in use". Here `rollcure serve` runs the
secure way (a token and a salt, no --insecure-dev) under load from clients that send the token;
the signal goes to the CLI process alone, as a process manager or Ctrl-C sends it. Within the
grace period every process is gone, the port is free, and every acknowledged decision is logged.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fixtures_serving import free_port, service_env_for, write_serving_config

from serving.runner import alive, process_tree, stop_service, wait_ready

pytestmark = pytest.mark.slow

TOKEN = "shutdown-test-token"
GRACE_S = 8.0
N_CLIENTS = 4


def _port_free(port: int) -> bool:
    """Nothing listens on the port and a new server can bind it (with SO_REUSEADDR, as uvicorn
    binds: the clients' closed connections may linger in TIME_WAIT)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            s.listen()
        except OSError:
            return False
        return True


class _Clients:
    """Threads posting one case per request with the token; they keep what was acknowledged."""

    def __init__(self, url: str, payloads: list[dict]) -> None:
        self.url, self.payloads = url, payloads
        self.stop = threading.Event()
        self.acked: list[str] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(k,), daemon=True) for k in range(N_CLIENTS)]

    def _run(self, k: int) -> None:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with httpx.Client(base_url=self.url, timeout=30.0, headers=headers) as client:
            i = k
            while not self.stop.is_set():
                case = self.payloads[i % len(self.payloads)]
                i += N_CLIENTS
                try:
                    r = client.post("/recommend", json={"cases": [case]})
                except httpx.HTTPError:
                    time.sleep(0.05)  # the server is going: keep trying until told to stop
                    continue
                with self._lock:
                    self.statuses.append(r.status_code)
                    if r.status_code == 200:
                        self.acked.extend(d["decision_id"] for d in r.json())

    def wait_for(self, n: int, timeout: float = 120.0) -> None:
        t0 = time.monotonic()
        while len(self.acked) < n and time.monotonic() - t0 < timeout:
            time.sleep(0.05)
        assert len(self.acked) >= n, f"only {len(self.acked)} answers ({self.statuses[-5:]})"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_rollcure_serve_stops_the_whole_tree_and_loses_nothing(
    sig, serving_setup, sample_payloads, tmp_path
):
    log = tmp_path / "decisions.sqlite"
    config = write_serving_config(
        serving_setup,
        tmp_path / "config.yaml",
        decision_log_url=f"sqlite:///{log}",
        shutdown_grace_seconds=GRACE_S,
    )
    port = free_port()
    env = service_env_for(serving_setup, config)
    env.pop("ROLLCURE_INSECURE_DEV", None)
    env["ROLLCURE_API_TOKEN"] = TOKEN
    rollcure = str(Path(sys.executable).with_name("rollcure"))
    with open(tmp_path / "server.log", "ab") as out:
        proc = subprocess.Popen(
            [rollcure, "serve", "--port", str(port), "--config", str(config)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the test's own group is not signalled; only the CLI is
        )
    url = f"http://127.0.0.1:{port}"
    clients = _Clients(url, sample_payloads)
    try:
        wait_ready(url, proc, timeout=180)
        assert httpx.post(url + "/score", json={"cases": sample_payloads[:1]}).status_code == 401
        tree = process_tree(proc.pid)
        assert len(tree) >= 3  # rollcure serve -> bentoml supervisor -> worker
        for t in clients.threads:
            t.start()
        clients.wait_for(30)
        t0 = time.monotonic()
        os.kill(proc.pid, sig)  # the CLI alone, as a process manager or Ctrl-C does
        proc.wait(timeout=2 * GRACE_S + 10)
        while any(alive(p) for p in tree) and time.monotonic() - t0 < 2 * GRACE_S + 10:
            time.sleep(0.1)
        stopped_s = time.monotonic() - t0
    finally:
        clients.stop.set()
        for t in clients.threads:
            t.join(timeout=60)
        stop_service(proc, grace=2.0)  # clean up if the test failed; a no-op otherwise
    assert proc.returncode == 0, (tmp_path / "server.log").read_text()[-2000:]
    assert not any(alive(p) for p in tree), "a service process outlived the signal"
    assert stopped_s <= GRACE_S + 2, f"took {stopped_s:.1f} s to stop"
    assert _port_free(port), "the port is still taken"
    assert all(s < 500 or s == 503 for s in clients.statuses)
    with sqlite3.connect(log) as con:
        logged = {row[0] for row in con.execute("select decision_id from decisions")}
    assert set(clients.acked) <= logged, f"{len(set(clients.acked) - logged)} acknowledged decisions missing"
