"""Serving requests from a book: each case's borrower, loan and the rows its windows can see.

Used by clients, the demo and the train = serve test. Window selection is vectorised; only the
final request objects are built one per case (they are what a client sends, one per case).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.payload import CasePayload
from features.registry import ACTION_WINDOW_DAYS, CONTACT_WINDOW_DAYS, CYCLE_WINDOW


def _plain(frame: pd.DataFrame) -> list[dict]:
    """Records with None for missing values (NaN/NaT), as JSON would carry them."""
    obj = frame.astype(object)
    return obj.where(frame.notna(), None).to_dict("records")


def _rows_by_case(
    keyed: pd.DataFrame, table: pd.DataFrame, tcol: str, days: int | None, strict: bool, last_n: int | None
) -> list[list[dict]]:
    m = keyed.merge(table, on="loan_id", sort=False)
    t, a = m[tcol], m["as_of"]
    keep = (t < a) if strict else (t <= a)
    if days is not None:
        start = a - pd.Timedelta(days=days)
        keep &= (t >= start) if strict else (t > start)
    m = m[keep].sort_values(["case", tcol], kind="stable")
    if last_n is not None:
        m = m.groupby("case", sort=False).tail(last_n)
    out: list[list[dict]] = [[] for _ in range(len(keyed))]
    cols = [c for c in table.columns if c != "loan_id"]
    for case, record in zip(m["case"].to_numpy(), _plain(m[cols]), strict=True):
        out[case].append(record)
    return out


def payloads_from_tables(
    tables: dict[str, pd.DataFrame], cases: pd.DataFrame, payload_cycles: int = CYCLE_WINDOW
) -> list[CasePayload]:
    """The serving request of each case (row-aligned with ``cases``)."""
    keyed = pd.DataFrame(
        {
            "case": np.arange(len(cases)),
            "loan_id": cases["loan_id"].to_numpy(dtype=np.int64),
            "as_of": pd.to_datetime(cases["as_of"]).to_numpy(dtype="datetime64[ns]"),
        }
    )
    loans = tables["loans"].set_index("loan_id", drop=False).loc[keyed["loan_id"]]
    borrowers = tables["borrowers"].set_index("borrower_id", drop=False).loc[loans["borrower_id"]]
    loan_records = _plain(loans.drop(columns="borrower_id").reset_index(drop=True))
    borrower_records = _plain(borrowers.reset_index(drop=True))
    cycles = _rows_by_case(keyed, tables["cycles"], "cycle_date", None, False, payload_cycles)
    contacts = actions = None
    if "contacts" in tables:
        contacts = _rows_by_case(keyed, tables["contacts"], "ts", CONTACT_WINDOW_DAYS, False, None)
    if "actions" in tables:
        actions = _rows_by_case(keyed, tables["actions"], "decided_at", ACTION_WINDOW_DAYS, True, None)
    return [
        CasePayload.model_validate(
            {
                "as_of": as_of,
                "borrower": borrower_records[i],
                "loan": loan_records[i],
                "cycles": cycles[i],
                "contacts": None if contacts is None else contacts[i],
                "actions": None if actions is None else actions[i],
            }
        )
        for i, as_of in enumerate(pd.to_datetime(keyed["as_of"]))
    ]
