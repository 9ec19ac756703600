"""The decision log on PostgreSQL: kill -9 of the whole service under load loses no acknowledged
decision, as on SQLite (``tests/test_serving_kill.py``).

The server is a real PostgreSQL (``pgserver`` from PyPI, started by the test session); the service
reaches it by the URL in ``serving.decision_log_url``. The ledger's concurrency tests run on both
backends through the ``log_url`` fixture (``tests/test_capacity_ledger.py``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fixtures_serving import free_port, fresh_pg_database, service_env_for, write_serving_config
from test_serving_shutdown import TOKEN, _Clients

from serving.decision_log import DecisionLog
from serving.runner import alive, process_tree, stop_service, wait_ready

pytestmark = pytest.mark.slow


def test_sigkill_under_load_loses_no_acknowledged_decision_on_postgresql(
    pg_server, serving_setup, sample_payloads, tmp_path
):
    url = fresh_pg_database(pg_server)
    config = write_serving_config(serving_setup, tmp_path / "config.yaml", decision_log_url=url)
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
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    clients = _Clients(base, sample_payloads)
    try:
        wait_ready(base, proc, timeout=180)
        tree = process_tree(proc.pid)
        assert len(tree) >= 3
        for t in clients.threads:
            t.start()
        clients.wait_for(40)
        stop_service(proc, sig=signal.SIGKILL)
    finally:
        clients.stop.set()
        for t in clients.threads:
            t.join(timeout=60)
        stop_service(proc, grace=2.0)
    time.sleep(0.5)
    assert not any(alive(p) for p in tree), "a service process survived SIGKILL"
    acked = set(clients.acked)
    assert len(acked) >= 40
    log = DecisionLog.open(url)  # a fresh connection, as after a crash
    try:
        with log.engine.connect() as conn:
            logged = {r[0] for r in conn.execute(sa.text("select decision_id from decisions"))}
    finally:
        log.close()
    assert acked <= logged, f"{len(acked - logged)} acknowledged decisions missing from the log"
    with pytest.raises(httpx.HTTPError):
        httpx.get(base + "/healthz", timeout=2.0)
