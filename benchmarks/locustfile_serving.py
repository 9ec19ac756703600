"""Locust users for benchmarks/bench_serving.py (run by it; not a test).

Reads the sample payloads from $ROLLCURE_BENCH_PAYLOADS (a JSON list) and the scenario from
$ROLLCURE_BENCH_SCENARIO: ``single`` (one case per POST /recommend, back to back),
``batch100`` (100 cases per POST /recommend) or ``rate`` (one case per request, each user at one
request per second, so N users offer N requests/s).
"""

import json
import os

from locust import HttpUser, between, constant_throughput, task

PAYLOADS = json.loads(open(os.environ["ROLLCURE_BENCH_PAYLOADS"]).read())
SCENARIO = os.environ.get("ROLLCURE_BENCH_SCENARIO", "single")
TOKEN = os.environ.get("ROLLCURE_API_TOKEN")
HEADERS = {"Authorization": f"Bearer {TOKEN}"} if TOKEN else {}


class ServiceUser(HttpUser):
    wait_time = constant_throughput(1) if SCENARIO == "rate" else between(0, 0)

    def on_start(self):
        self.i = 0

    @task
    def recommend(self):
        if SCENARIO == "batch100":
            start = (self.i * 100) % max(len(PAYLOADS) - 100, 1)
            cases = PAYLOADS[start : start + 100]
        else:
            cases = [PAYLOADS[self.i % len(PAYLOADS)]]
        self.i += 1
        self.client.post("/recommend", json={"cases": cases}, headers=HEADERS, name=SCENARIO, timeout=60)
