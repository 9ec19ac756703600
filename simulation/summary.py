"""Portfolio summary from the raw tables: what a collections manager looks at first.

Works on any book with ``loans`` and ``cycles`` (simulated or real), so the demo and notebooks can
show the same figures. Pure: tables in, DataFrames out; :func:`render_summary` only prints.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from rollcure.core.domain import BUCKETS, TIERS, tier_by_dpd, tier_by_missed, transition_counts


def _last_cycle(cycles: pd.DataFrame) -> pd.DataFrame:
    return cycles[cycles["cycle_date"] == cycles["cycle_date"].max()]


def transition_matrix(cycles: pd.DataFrame) -> pd.DataFrame:
    """Share of cases moving from each bucket to each bucket at the next cycle, with roll and cure rates.

    Loans without a next cycle (repaid, charged off, end of data, a month missing from the book)
    are left out: a row two months on is not the next cycle.
    """
    counts = transition_counts(cycles)
    n = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        shares = counts / n[:, None]
    out = pd.DataFrame(shares, index=pd.Index(BUCKETS, name="from"), columns=list(BUCKETS))
    upper = np.triu(counts, k=1).sum(axis=1)
    out["cases"] = n
    out["roll_rate"] = np.where(n > 0, upper / np.maximum(n, 1), np.nan)
    out["cure_rate"] = np.where(n > 0, counts[:, 0] / np.maximum(n, 1), np.nan)
    return out


def portfolio_summary(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Accounts, overdue balance by bucket, five-tier counts (both schemes), bucket transitions."""
    loans, cycles = tables["loans"], tables["cycles"]
    last = _last_cycle(cycles)
    overdue_share = cycles.assign(overdue=cycles["dpd"] > 0).groupby("cycle_date")["overdue"].mean()
    overview = pd.DataFrame(
        {
            "metric": [
                "loans",
                "borrowers",
                "cycles",
                "first cycle",
                "last cycle",
                "active accounts (last cycle)",
                "overdue accounts (last cycle)",
                "overdue share (mean over cycles)",
                "outstanding balance (last cycle)",
                "overdue balance (last cycle)",
            ],
            "value": [
                f"{len(loans):,}",
                f"{loans['borrower_id'].nunique():,}",
                f"{len(cycles):,}",
                str(cycles["cycle_date"].min().date()),
                str(cycles["cycle_date"].max().date()),
                f"{len(last):,}",
                f"{int((last['dpd'] > 0).sum()):,}",
                f"{overdue_share.mean():.1%}",
                f"{last['balance'].sum():,.0f}",
                f"{last.loc[last['dpd'] > 0, 'balance'].sum():,.0f}",
            ],
        }
    )
    by_product = last.merge(loans[["loan_id", "product"]], on="loan_id")
    accounts = (
        by_product.assign(
            overdue=by_product["dpd"] > 0,
            overdue_balance=by_product["balance"].where(by_product["dpd"] > 0, 0.0),
        )
        .groupby("product", observed=True)
        .agg(
            accounts=("loan_id", "size"),
            overdue=("overdue", "sum"),
            balance=("balance", "sum"),
            overdue_balance=("overdue_balance", "sum"),
        )
        .reset_index()
    )
    accounts["overdue_share"] = accounts["overdue"] / accounts["accounts"]
    bucket = pd.Categorical(last["bucket"], categories=list(BUCKETS))
    overdue_by_bucket = (
        last.assign(bucket=bucket)
        .groupby("bucket", observed=False)
        .agg(accounts=("loan_id", "size"), balance=("balance", "sum"), arrears=("arrears", "sum"))
        .reset_index()
    )
    overdue_by_bucket["bucket"] = overdue_by_bucket["bucket"].astype("str")
    by_dpd = pd.Series(tier_by_dpd(last["dpd"])).value_counts()
    by_missed = pd.Series(tier_by_missed(last["missed_instalments"])).value_counts()
    tiers = pd.DataFrame(
        {
            "tier": list(TIERS),
            "by_dpd": [int(by_dpd.get(t, 0)) for t in TIERS],
            "by_missed_instalments": [int(by_missed.get(t, 0)) for t in TIERS],
        }
    )
    return {
        "overview": overview,
        "accounts": accounts,
        "overdue_by_bucket": overdue_by_bucket,
        "tiers": tiers,
        "transitions": transition_matrix(cycles),
    }


def _table(
    title: str, frame: pd.DataFrame, formats: dict[str, str] | None = None, index: bool = False
) -> Table:
    formats = formats or {}
    table = Table(title=title, title_justify="left")
    if index:
        frame = frame.reset_index()
    for col in frame.columns:
        table.add_column(
            str(col), justify="left" if frame[col].dtype == object or col == frame.columns[0] else "right"
        )
    for row in frame.itertuples(index=False):  # summary rows (a handful), not a portfolio
        cells = []
        for col, val in zip(frame.columns, row, strict=True):
            fmt = formats.get(col)
            if isinstance(val, float) and np.isnan(val):
                cells.append("")
            elif fmt:
                cells.append(format(val, fmt))
            elif isinstance(val, float):
                cells.append(f"{val:,.2f}")
            else:
                cells.append(f"{val:,}" if isinstance(val, int | np.integer) else str(val))
        table.add_row(*cells)
    return table


def render_summary(summary: dict[str, pd.DataFrame], console: Console) -> None:
    """Print the summary as rich tables."""
    console.print(_table("Portfolio", summary["overview"]))
    console.print(
        _table(
            "Accounts by product (last cycle)",
            summary["accounts"],
            {"balance": ",.0f", "overdue_balance": ",.0f", "overdue_share": ".1%"},
        )
    )
    console.print(
        _table(
            "Balance by bucket (last cycle)",
            summary["overdue_by_bucket"],
            {"balance": ",.0f", "arrears": ",.0f"},
        )
    )
    console.print(_table("Five-tier classification (last cycle)", summary["tiers"]))
    trans = summary["transitions"]
    fmts = {b: ".1%" for b in BUCKETS} | {"roll_rate": ".1%", "cure_rate": ".1%"}
    console.print(_table("Bucket transitions to the next cycle (row shares)", trans, fmts, index=True))
