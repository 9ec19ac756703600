"""Cases: a loan overdue (DPD > 0) at a cycle date is one collections decision."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd


def overdue_cases(cycles: pd.DataFrame, as_of: object | Iterable[object] | None = None) -> pd.DataFrame:
    """Cases (loan_id, as_of) for every cycle row with DPD > 0, sorted by as_of then loan_id.

    ``as_of`` limits the cases to one cycle date or a list of them (e.g. the latest month for
    scoring); ``None`` takes every overdue cycle row of the book (training).
    """
    rows = cycles.loc[cycles["dpd"].to_numpy() > 0, ["loan_id", "cycle_date"]]
    if as_of is not None:
        dates = [as_of] if isinstance(as_of, str) or not isinstance(as_of, Iterable) else list(as_of)
        rows = rows[rows["cycle_date"].isin(pd.to_datetime(dates))]
    out = rows.rename(columns={"cycle_date": "as_of"}).sort_values(["as_of", "loan_id"], kind="stable")
    out["loan_id"] = out["loan_id"].astype("int64")
    out["as_of"] = out["as_of"].astype("datetime64[ns]")
    return out.reset_index(drop=True)
