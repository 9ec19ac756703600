"""Append a frame of decisions (the record's log view) to the decision log in one transaction.

The service appends ``DecisionRecord`` objects as it decides; a simulated book played forward
(``training.monitoring.forward``) produces a whole cycle of decisions as a frame. Both land in the
same table, so monitoring reads one log whoever decided.
"""

from __future__ import annotations

import json

import pandas as pd

from models.record import json_columns
from rollcure.core.errors import InputError
from serving.decision_log import EXPORT_COLUMNS, DecisionLog, decisions_table


def append_frame(log: DecisionLog, frame: pd.DataFrame) -> int:
    """Write the rows of ``frame`` (at least the log view's columns) and return how many."""
    missing = [c for c in EXPORT_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"decisions: missing log column(s) {missing}")
    rows = frame[list(EXPORT_COLUMNS)].copy()
    for c in json_columns():
        rows[c] = rows[c].map(lambda v: json.dumps(list(v), ensure_ascii=False))
    records = rows.astype(object).where(rows.notna(), None).to_dict(orient="records")
    if records:
        with log.engine.begin() as conn:
            conn.execute(decisions_table.insert(), records)
    return len(records)
