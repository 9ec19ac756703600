"""The capacity ledger: actions booked per day in the decision log's database, with the decisions.

The policy allocates each action's capacity among the cases it decides together; the service used
to give every merged pass a whole cycle's capacity, so twenty requests in a day could each book
the last field agent. Here a pass first locks the day's ledger rows, reads what is left of each
action's daily capacity, decides with exactly that, and books what it chose in the same
transaction that appends its decisions: a commit either logs the decisions and books their
capacity or does neither, and two passes (threads, workers or hosts sharing the database) never
see the same free slot. The lock is SQLite's single writer (the transaction starts with a write,
so it holds the write lock before it reads) or PostgreSQL's row locks (``SELECT ... FOR UPDATE``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, TypeVar

import sqlalchemy as sa

from rollcure.core.catalogue import ACTIONS
from serving.answers import recommend
from serving.decision_log import DecisionLog, DecisionRecord, capacity_table

if TYPE_CHECKING:
    import pandas as pd

    from features.payload import CasePayload
    from serving.runtime import ModelRuntime
    from serving.schemas import CaseDecision

T = TypeVar("T")
#: What a pass does once it knows the capacity left: (its answer, the records to log).
Decide = Callable[[dict[str, float]], tuple[T, Sequence[DecisionRecord]]]


class Overbooked(RuntimeError):
    """A pass chose more of an action than was left (a policy bug): nothing of it is committed."""


def _insert_missing(conn: sa.Connection, rows: list[dict[str, object]]) -> None:
    """Insert the day's ledger rows that do not exist yet (a write: SQLite takes its lock here)."""
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert  # type: ignore[assignment]
    else:  # pragma: no cover - the two backends the log supports
        raise NotImplementedError(f"capacity ledger: no upsert for {dialect}")
    # one statement run per row (executemany): a multi-row VALUES clause is compiled anew for
    # every request, over half of a single case's SQL time in a profile (docs/experiments.md)
    conn.execute(insert(capacity_table).on_conflict_do_nothing(), rows)


def booked(log: DecisionLog, day: date) -> dict[str, int]:
    """Actions booked on ``day`` so far (for reports and tests)."""
    query = sa.select(capacity_table.c.action, capacity_table.c.booked).where(
        capacity_table.c.day == day.isoformat()
    )
    with log.engine.connect() as conn:
        return {a: int(n) for a, n in conn.execute(query)}


def decide_and_book(
    log: DecisionLog, day: date, daily_capacity: Mapping[str, int | None], decide: Decide[T]
) -> T:
    """Run ``decide`` with the capacity left on ``day`` per limited action (unlimited ones are
    absent), then log its records and book their actions in one transaction."""
    limited = {a: int(c) for a, c in daily_capacity.items() if c is not None}
    key = day.isoformat()
    with log.engine.begin() as conn:
        left: dict[str, float] = {}
        if limited:
            _insert_missing(conn, [{"day": key, "action": a, "booked": 0} for a in sorted(limited)])
            query = (
                sa.select(capacity_table.c.action, capacity_table.c.booked)
                .where(capacity_table.c.day == key, capacity_table.c.action.in_(sorted(limited)))
                .with_for_update()  # row locks on PostgreSQL; SQLite already holds the write lock
            )
            done = {a: int(n) for a, n in conn.execute(query)}
            left = {a: float(max(c - done.get(a, 0), 0)) for a, c in limited.items()}
        result, records = decide(left)
        used = Counter(a for a in (getattr(r, "action", None) for r in records) if a in limited)
        over = {a: n for a, n in used.items() if n > left.get(a, math.inf)}
        if over:
            raise Overbooked(f"capacity ledger: a pass chose {over} with only {left} left on {key}")
        for action, n in used.items():
            conn.execute(
                capacity_table.update()
                .where(capacity_table.c.day == key, capacity_table.c.action == action)
                .values(booked=capacity_table.c.booked + n)
            )
        log.append(records, conn=conn)
    return result


def recommend_and_book(
    runtime: ModelRuntime,
    log: DecisionLog,
    payloads: Sequence[CasePayload],
    X: pd.DataFrame,
    salt: str,
    decided_at: datetime,
) -> list[CaseDecision]:
    """``serving.answers.recommend`` with the capacity the ledger has left on ``decided_at``'s
    day, its records logged and its actions booked in one commit (what a service pass does)."""

    def decide(left: dict[str, float]) -> tuple[list[CaseDecision], list[DecisionRecord]]:
        capacities = [left.get(a, math.inf) for a in ACTIONS]
        return recommend(runtime, payloads, X, salt, decided_at, capacities)

    return decide_and_book(log, decided_at.date(), runtime.daily_capacity, decide)
