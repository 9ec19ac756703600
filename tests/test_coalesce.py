"""Merging concurrent requests: which requests share a pass, and that a bad one fails alone.

The unit tests drive ``serving.coalesce`` with a stand-in pass function; the last test sends
concurrent requests to the service as a real process, with a merge window so they do merge.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fixtures_serving import free_port, service_env_for, use_registry, write_serving_config

from rollcure.core.errors import InputError
from serving.coalesce import Coalescer, Job, run_isolated, split, take_jobs


def _job(n: int, kind: object = None, keys: tuple = ()) -> Job:
    return Job(items=list(range(n)), kind=kind, keys=frozenset(keys))


def test_take_jobs_merges_what_fits_and_keeps_the_rest_in_order():
    a, b, c, d, e = _job(2, keys="a"), _job(3, keys="b"), _job(1, keys="a"), _job(1, "other"), _job(1)
    queue = deque([a, b, c, d, e])
    assert take_jobs(queue, limit=6) == [a, b, e]  # c shares a key with a, d is another kind
    assert list(queue) == [c, d]
    assert take_jobs(queue, limit=6) == [c]
    assert take_jobs(queue, limit=6) == [d]


def test_take_jobs_respects_the_limit_but_never_starves_a_large_request():
    big, small = _job(10), _job(1)
    queue = deque([big, small])
    assert take_jobs(queue, limit=4) == [big]
    queue = deque([_job(3), _job(2), small])
    assert [len(j.items) for j in take_jobs(queue, limit=4)] == [3, 1]
    assert [len(j.items) for j in queue] == [2]


def _doubling(groups: list[list[int]]) -> list[list[int]]:
    """A pass function: fails on a negative item, as feature code fails on bad input."""
    flat = [x for g in groups for x in g]
    if any(x < 0 for x in flat):
        raise InputError("item: negative")
    return split([2 * x for x in flat], [len(g) for g in groups])


def test_run_isolated_reruns_a_failed_pass_so_only_the_bad_request_fails():
    out = run_isolated([[1, 2], [-1], [3]], _doubling)
    assert out[0] == [2, 4] and out[2] == [6]
    assert isinstance(out[1], InputError)
    assert run_isolated([[1], [2]], _doubling) == [[2], [4]]


def _run_concurrently(coalescer: Coalescer, requests: list[list[int]], first_alone: bool = False) -> list:
    """Submit the requests together (after the first has started its pass, if ``first_alone``)."""

    async def main() -> list[object]:
        head = []
        if first_alone:
            head = [asyncio.ensure_future(coalescer.submit(requests[0]))]
            await asyncio.sleep(0.05)
        rest = requests[len(head) :]
        return await asyncio.gather(*head, *(coalescer.submit(r) for r in rest), return_exceptions=True)

    return asyncio.run(main())


def test_coalescer_merges_waiting_requests_and_isolates_failures():
    passes: list[list[list[int]]] = []
    release = threading.Event()

    def run_pass(context: str, groups: list[list[int]]) -> list[list[int]]:
        assert context == "model-1"
        passes.append(groups)
        release.wait(5)  # the first pass runs while the others queue behind it
        return _doubling(groups)

    coalescer = Coalescer(
        run_pass,
        context=lambda: "model-1",
        limit=lambda _ctx: 100,
        merge_key=lambda items: (None, frozenset()),
    )
    threading.Timer(0.2, release.set).start()
    requests = [[1], [2, 3], [-4], [5]]
    out = _run_concurrently(coalescer, requests, first_alone=True)
    coalescer.close()
    assert out[0] == [2] and out[1] == [4, 6] and out[3] == [10]
    assert isinstance(out[2], InputError)
    assert passes[0] == [[1]]  # a request arriving with nothing running starts a pass at once
    assert passes[1] == [[2, 3], [-4], [5]]  # the rest merged; then re-run one by one
    assert passes[2:] == [[[2, 3]], [[-4]], [[5]]]


def test_coalescer_keeps_conflicting_requests_in_separate_passes():
    passes: list[list[list[int]]] = []

    def run_pass(_context: object, groups: list[list[int]]) -> list[list[int]]:
        passes.append(groups)
        return _doubling(groups)

    coalescer = Coalescer(
        run_pass,
        context=lambda: None,
        limit=lambda _ctx: 100,
        merge_key=lambda items: (None, frozenset(items)),
        wait_s=0.05,  # everyone is queued before the first pass is formed
    )
    out = _run_concurrently(coalescer, [[1, 2], [2, 3], [4]])
    coalescer.close()
    assert out == [[2, 4], [4, 6], [8]]
    assert passes == [[[1, 2], [4]], [[2, 3]]]


# --- the real service ------------------------------------------------------------------------

N_REQUESTS = 6
MERGE_WINDOW_MS = 80  # serving.coalesce_wait_ms allows up to 100


@pytest.mark.slow
def test_merged_http_requests_with_one_bad_one_only_it_fails(serving_setup, sample_payloads, tmp_path):
    from serving.runner import start_service, stop_service, wait_ready

    log = tmp_path / "decisions.sqlite"
    config = write_serving_config(
        serving_setup,
        tmp_path / "config.yaml",
        decision_log_url=f"sqlite:///{log}",
        coalesce_wait_ms=MERGE_WINDOW_MS,
    )
    port, url = free_port(), None
    url = f"http://127.0.0.1:{port}"
    with use_registry(serving_setup):
        proc = start_service(
            serving_setup.cfg,
            Path(config),
            port,
            env=service_env_for(serving_setup, config),
            log_path=tmp_path / "server.log",
        )
    try:
        wait_ready(url, proc, timeout=180)
        good = [[p] for p in sample_payloads[:N_REQUESTS]]
        # no cycle at as_of: well-formed (the request model lets it through), the feature code refuses it
        bad = {**sample_payloads[N_REQUESTS], "as_of": "2025-09-30T00:00:00"}
        alone = [httpx.post(url + "/recommend", json={"cases": c}, timeout=60).json()[0] for c in good]
        bodies = [*good[:3], [bad], *good[3:]]
        with ThreadPoolExecutor(len(bodies)) as pool:
            post = lambda c: httpx.post(url + "/recommend", json={"cases": c}, timeout=60)  # noqa: E731
            answers = list(pool.map(post, bodies))  # merged, failed, re-run one by one
            good_only = [r.json()[0] for r in pool.map(post, good)]  # merged and kept merged
    finally:
        stop_service(proc)
    statuses = [r.status_code for r in answers]
    assert statuses == [200, 200, 200, 422, 200, 200, 200], [r.text[:200] for r in answers]
    assert answers[3].json()["detail"][0]["loc"] == ["cases"]
    merged = [r.json()[0] for r in answers if r.status_code == 200]
    same = ("loan_id", "p_roll_forward", "p_cure", "action", "reason_codes", "arm")
    assert [{k: d[k] for k in same} for d in merged] == [{k: d[k] for k in same} for d in alone]
    with sqlite3.connect(log) as con:
        stamps = dict(con.execute("select decision_id, decided_at from decisions"))
    assert {d["decision_id"] for d in merged} <= set(stamps)  # every answered decision is logged
    assert {d["decision_id"] for d in good_only} <= set(stamps)
    assert len({stamps[d["decision_id"]] for d in good_only}) < len(good_only)  # some shared a pass


def test_merge_key_kind_looks_at_every_case_of_a_request():
    """A request whose later case carries contacts gets a contacts table alone, so it must not share a
    pass with one whose cases carry none (their contact features would turn from missing to zero)."""
    import copy

    from serving.examples import EXAMPLE_CASE
    from serving.request import ServedCase, merge_key

    def case(loan_id: int, with_contacts: bool) -> ServedCase:
        raw = copy.deepcopy(EXAMPLE_CASE)
        raw["loan"]["loan_id"] = loan_id
        raw["borrower"]["borrower_id"] = loan_id
        raw["contacts"] = raw["contacts"] if with_contacts else None
        raw["actions"] = None
        return ServedCase.model_validate(raw)

    mixed, bare = merge_key([case(1, False), case(2, True)]), merge_key([case(3, False)])
    assert mixed[0] != bare[0]
    assert mixed[0][0] is True and bare[0][0] is False
