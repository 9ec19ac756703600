"""Collection KPIs, by segment and by action: the figures the business is judged on (DESIGN §1).

* recovery rate: recovered / overdue balance of the cases in the group;
* cure rate and roll rate: share of cases current / one bucket worse at the next cycle;
* cost per unit recovered: action cost / recovered amount;
* collection cycle time: for cases that cure, the days they had been overdue plus the cycle it
  took to cure (DPD at the decision + one cycle).

The same function serves the logged data (what was done) and the backtest (what a policy would
have done), so both report identical definitions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rollcure.core.domain import DAYS_PER_CYCLE, bucket_of

KPI_COLUMNS: tuple[str, ...] = (
    "cases",
    "overdue_balance",
    "recovered",
    "cost",
    "recovery_rate",
    "cure_rate",
    "roll_rate",
    "cost_per_unit_recovered",
    "cycle_time_days",
)
_NEEDED = ("balance", "recovered", "cost", "cure", "roll", "dpd")


def kpi_table(frame: pd.DataFrame, by: str | list[str] | None = None) -> pd.DataFrame:
    """KPIs per group of ``by`` (or one row for the whole frame).

    ``frame`` has one row per case with balance, recovered, cost, cure, roll (bool) and dpd.
    """
    missing = [c for c in _NEEDED if c not in frame.columns]
    if missing:
        raise ValueError(f"kpi_table: missing column(s) {missing}")
    f = frame.assign(
        _cured_days=np.where(frame["cure"].astype(bool), frame["dpd"] + DAYS_PER_CYCLE, np.nan),
        cure=frame["cure"].astype(float),
        roll=frame["roll"].astype(float),
    )
    keys = [by] if isinstance(by, str) else (by or [])
    grouped = f.groupby(keys, observed=True, sort=True) if keys else f.groupby(np.zeros(len(f)))
    out = grouped.agg(
        cases=("balance", "size"),
        overdue_balance=("balance", "sum"),
        recovered=("recovered", "sum"),
        cost=("cost", "sum"),
        cure_rate=("cure", "mean"),
        roll_rate=("roll", "mean"),
        cycle_time_days=("_cured_days", "mean"),
    )
    out["recovery_rate"] = out["recovered"] / out["overdue_balance"].where(out["overdue_balance"] > 0)
    out["cost_per_unit_recovered"] = out["cost"] / out["recovered"].where(out["recovered"] > 0)
    out = out.reset_index() if keys else out.reset_index(drop=True)
    return out[[*keys, *KPI_COLUMNS]]


def logged_kpi_frame(cases: pd.DataFrame, labels: pd.DataFrame, actions: pd.DataFrame) -> pd.DataFrame:
    """One row per logged case: what was done (action, cost) and what followed (labels)."""
    logged = actions.rename(columns={"decided_at": "as_of"})[["loan_id", "as_of", "action", "cost"]]
    frame = cases[["loan_id", "as_of", "balance", "dpd"]].merge(
        labels[["loan_id", "as_of", "recovered_amount", "cure", "roll_forward"]], on=["loan_id", "as_of"]
    )
    frame = frame.merge(logged, on=["loan_id", "as_of"], how="inner")
    frame = frame.rename(columns={"recovered_amount": "recovered", "roll_forward": "roll"})
    frame["bucket"] = bucket_of(frame["dpd"].to_numpy())
    return frame
