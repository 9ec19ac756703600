"""Locust users for benchmarks/bench_serving.py (run by it; not a test).

Reads the sample payloads from $ROLLCURE_BENCH_PAYLOADS (a JSON list) and the scenario from
$ROLLCURE_BENCH_SCENARIO: ``single`` (one case per POST /recommend, back to back),
``batch100`` (100 cases per POST /recommend) or ``rate`` (one case per request at a fixed offered
rate: $ROLLCURE_BENCH_USER_RATE requests/s per user, so N users offer N x that).

``FastHttpUser`` (geventhttpclient) and request bodies serialised once at start-up: locust shares
the 2 cores with the server, and the requests-based client cost milliseconds of CPU per call.
Rate users start at a random phase of their period, so the offered load is spread over each
second instead of arriving as one burst per second.
"""

import json
import os
import random

import gevent
from locust import FastHttpUser, constant, constant_throughput, task

PAYLOADS = json.loads(open(os.environ["ROLLCURE_BENCH_PAYLOADS"]).read())
SCENARIO = os.environ.get("ROLLCURE_BENCH_SCENARIO", "single")
USER_RATE = float(os.environ.get("ROLLCURE_BENCH_USER_RATE", "1"))
TOKEN = os.environ.get("ROLLCURE_API_TOKEN")
HEADERS = {"Content-Type": "application/json", **({"Authorization": f"Bearer {TOKEN}"} if TOKEN else {})}
BATCH = 100


def _bodies() -> list[bytes]:
    if SCENARIO == "batch100":
        starts = range(0, max(len(PAYLOADS) - BATCH, 1), BATCH // 4)
        return [json.dumps({"cases": PAYLOADS[s : s + BATCH]}).encode() for s in starts]
    return [json.dumps({"cases": [p]}).encode() for p in PAYLOADS]


BODIES = _bodies()


class ServiceUser(FastHttpUser):
    wait_time = constant_throughput(USER_RATE) if SCENARIO == "rate" else constant(0)
    network_timeout = 60.0
    connection_timeout = 60.0

    def on_start(self):
        self.i = random.randrange(len(BODIES))
        if SCENARIO == "rate":
            gevent.sleep(random.random() / USER_RATE)

    @task
    def recommend(self):
        body = BODIES[self.i % len(BODIES)]
        self.i += 1
        self.client.post("/recommend", data=body, headers=HEADERS, name=SCENARIO)
