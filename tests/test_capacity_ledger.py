"""Issue 16, defect 10: capacity is booked per action and day, with the decisions, never overbooked.

Each concurrent request below opens its own connection to the log (as separate workers would) and
races for the last slots; the ledger and the logged decisions must both show exactly the capacity.
The backends come from ``log_url`` (SQLite, and PostgreSQL when a server can be started).
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from datetime import UTC, date, datetime

import pytest

from rollcure.core.catalogue import ACTIONS
from serving.decision_log import DecisionLog, DecisionRecord, hash_case_id, inputs_digest
from serving.ledger import booked, decide_and_book, recommend_and_book

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:pathspec.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:_bentoml_sdk.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:_bentoml_impl.*"),
]

N_CONCURRENT = 50
DAY = date(2026, 12, 1)


def _record(i: int, action: str) -> DecisionRecord:
    return DecisionRecord(
        decision_id=f"{i:032x}",
        case_hash=hash_case_id(1000 + i, "s"),
        as_of="2025-06-30",
        decided_at="2026-12-01T09:00:00+00:00",
        endpoint="recommend",
        model_name="rollcure",
        model_version="3",
        inputs_digest=inputs_digest({"loan_id": 1000 + i}),
        p_roll_forward=0.25,
        p_cure=0.5,
        action=action,
        expected_value=12.5,
        reason_codes=("x",),
        arm="champion",
        challenger=False,
        propensity=0.8,
    )


def _race(url: str, work) -> list:
    """Run ``work(log, i)`` in N_CONCURRENT threads, each with its own connection pool, at once."""
    DecisionLog.open(url).close()  # create the tables once, before the race
    start = threading.Barrier(N_CONCURRENT)
    results: list = [None] * N_CONCURRENT
    errors: list[BaseException] = []

    def run(i: int) -> None:
        log = DecisionLog.open(url)
        try:
            start.wait()
            results[i] = work(log, i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            log.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N_CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not errors, errors[:3]
    return results


def _logged_actions(url: str) -> Counter:
    log = DecisionLog.open(url)
    try:
        return Counter(row["action"] for chunk in log.iter_chunks() for row in chunk)
    finally:
        log.close()


def test_concurrent_requests_for_the_last_slots_never_overbook(log_url):
    capacity = {"litigation": 3, "reminder": None}

    def work(log: DecisionLog, i: int) -> str:
        def decide(left: dict[str, float]) -> tuple[str, list[DecisionRecord]]:
            action = "litigation" if left["litigation"] >= 1 else "reminder"
            return action, [_record(i, action)]

        return decide_and_book(log, DAY, capacity, decide)

    got = Counter(_race(log_url, work))
    assert got == {"litigation": 3, "reminder": N_CONCURRENT - 3}
    assert _logged_actions(log_url) == got  # every answer is logged, nothing more
    log = DecisionLog.open(log_url)
    try:
        assert booked(log, DAY) == {"litigation": 3}
        assert booked(log, date(2026, 12, 2)) == {}  # a new day starts empty
    finally:
        log.close()


def test_a_failed_pass_books_nothing(log_url):
    log = DecisionLog.open(log_url)
    try:

        def decide(left: dict[str, float]) -> tuple[None, list[DecisionRecord]]:
            raise RuntimeError("the model failed")

        with pytest.raises(RuntimeError):
            decide_and_book(log, date(2026, 12, 3), {"litigation": 1}, decide)
        assert booked(log, date(2026, 12, 3)) == {}
        assert log.count() == 0
    finally:
        log.close()


def test_policy_decisions_respect_the_daily_capacity_across_concurrent_requests(
    log_url, policy_bundle, sample_payloads, trained_run
):
    """The service's pass (``recommend_and_book``) with the trained policy and tight capacities:
    50 single-case requests at once, each on its own connection."""
    from serving.answers import features_for
    from serving.request import ServedCase
    from serving.runtime import ModelRuntime

    tight = {a: (None if a == "none" else 1) for a in ACTIONS}
    policy = dataclasses.replace(
        policy_bundle.policy, config=policy_bundle.policy.config.model_copy(update={"daily_capacity": tight})
    )
    runtime = ModelRuntime(
        bundle=dataclasses.replace(policy_bundle, policy=policy),
        model_name="rollcure-bundle",
        model_version="7",
        alias="champion",
        run_id=None,
        config_hash="0" * 16,
    )
    cases = [ServedCase.model_validate(p) for p in sample_payloads]
    frames = [features_for([c], trained_run.cfg.features) for c in cases]
    now = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)

    def work(log: DecisionLog, i: int) -> str | None:
        k = i % len(cases)
        (decision,) = recommend_and_book(runtime, log, [cases[k]], frames[k], "salt", now)
        return decision.action

    answered = Counter(a for a in _race(log_url, work) if a is not None)
    logged = _logged_actions(log_url)
    assert logged == answered and sum(answered.values()) == N_CONCURRENT
    for action, n in answered.items():
        if action in tight and tight[action] is not None:
            assert n <= tight[action], (action, n)
    log = DecisionLog.open(log_url)
    try:
        ledger = booked(log, now.date())
    finally:
        log.close()
    assert {a: n for a, n in ledger.items() if n} == {a: n for a, n in answered.items() if a in ledger}
    assert sum(ledger.values()) >= 1  # the race was for real slots
