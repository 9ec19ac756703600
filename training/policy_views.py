"""Presentation of the policy's results: rich tables and PNG plots for the backtest and segments.

Kept apart from the computations so that those stay pure and testable; the CLI and the demo call
these. Matplotlib runs on the Agg backend (no display needed).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from training.backtest import METRICS, BacktestResult

_MONEY = {
    "net_recovery",
    "realised_value",
    "cost",
    "regret",
    "expected_net_value",
    "balance",
    "expected_loss",
    "expected_recovery",
}
_RATE = {"recovery_rate", "cure_rate", "roll_rate", "p_cure", "p_roll_forward"}


def _fmt(name: str, value: Any) -> str:
    if isinstance(value, str) or value is None:
        return str(value)
    if name in _MONEY:
        return f"{value:,.0f}"
    if name in _RATE or name.startswith("mix_"):
        return f"{100 * value:.1f}%"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return str(value)


def rich_table(frame: pd.DataFrame, title: str, columns: list[str] | None = None):
    """A rich Table of selected columns with money and rate formatting."""
    from rich.table import Table

    cols = columns or list(frame.columns)
    table = Table(title=title)
    for c in cols:
        table.add_column(c, justify="left" if frame[c].dtype == object else "right")
    for _, row in frame.iterrows():  # a handful of summary rows, not cases
        table.add_row(*(_fmt(c, row[c]) for c in cols))
    return table


def render_backtest(result: BacktestResult, console) -> None:
    """Policies vs the oracle, off-policy estimates beside the truth, forecast and arms."""
    f = result.facts
    console.print(
        f"backtest on {f['cases']:,} held-out cases over {f['cycles']} cycles from {f['held_out_from']}"
    )
    value = f.get("value", {})
    console.print(
        f"value over {value.get('horizon_cycles')} cycles: discounted cash − costs + balance × recovery "
        "factor of the state at the horizon (docs/value.md)"
    )
    console.print(recovery_factor_table(pd.DataFrame(f.get("recovery_factors", []))))
    console.print(
        rich_table(
            result.policies,
            "Strategies vs the oracle (simulator truth)",
            ["policy", "expected_net_value", *METRICS],
        )
    )
    cols = ["policy", "truth", *(f"{k}{s}" for k in ("ips", "snips", "dr") for s in ("", "_low", "_high"))]
    if "cycles" in result.off_policy:
        console.print(f"off-policy estimates on the logged cases of {result.off_policy['cycles'].iloc[0]}")
    console.print(rich_table(result.off_policy, "Off-policy estimates per case vs truth", cols))
    clear = f.get("clear_cases")
    if clear:
        console.print(
            f"clear cases (the best action beats the second by more than its cost): {clear['cases']:,}; "
            f"rollcure picks the oracle's action in {100 * clear['rollcure_picks_the_best']:.1f}%, "
            f"the DPD ladder in {100 * clear['ladder_picks_the_best']:.1f}%, the oracle policy itself "
            f"(same capacities) in {100 * clear.get('oracle_picks_the_best', float('nan')):.1f}%"
        )
    if not result.confusion.empty:
        mix = result.confusion.pivot_table(
            index=["quadrant", "oracle"], columns="rollcure", values="cases", aggfunc="sum", fill_value=0
        ).reset_index()
        mix.columns = [str(c) for c in mix.columns]
        title = "Oracle's action (rows) vs rollcure's (columns), by ability x willingness"
        console.print(rich_table(mix, title))
    console.print(rich_table(result.forecast, "Next-cycle bucket flow under rollcure"))
    console.print(rich_table(result.arms, "Live decision arms"))
    by_action = result.kpis[result.kpis["by"] == "action"]
    cols = ["source", "group", "cases", "recovery_rate", "cure_rate", "roll_rate", "cost_per_unit_recovered"]
    console.print(
        rich_table(by_action, "KPIs by action (backtest truth and logged)", [*cols, "cycle_time_days"])
    )


def recovery_factor_table(factors: pd.DataFrame):
    """The recovery-factor table (``RecoveryFactors.to_frame``) as a rich Table, with its counts."""
    from rich.table import Table

    table = Table(title="Recovery factors from the book's history (state → share of balance recovered)")
    for c in ("state", "transitions", "p_chargeoff", "lgd", "recovery_factor"):
        table.add_column(c, justify="left" if c == "state" else "right")
    for row in factors.itertuples(index=False):  # 34 states, not cases
        table.add_row(
            str(row.state),
            f"{row.transitions:,}",
            f"{row.p_chargeoff:.3f}",
            f"{row.lgd:.3f}",
            f"{row.recovery_factor:.3f}",
        )
    return table


def render_segments(tables: dict[str, pd.DataFrame], console) -> None:
    """The two segment views, with the action mix columns that carry any case."""
    for name, title in (("ability_willingness", "Ability x willingness"), ("risk_balance", "Risk x balance")):
        t = tables[name]
        mix = [c for c in t.columns if c.startswith("mix_") and t[c].fillna(0).gt(0).any()]
        keys = [c for c in t.columns if c in ("quadrant", "risk_band", "balance_band")]
        base = ["cases", "balance", "expected_loss", "p_cure", "p_roll_forward", "expected_recovery"]
        console.print(rich_table(t.astype({k: str for k in keys}), title, [*keys, *base, *mix]))


def plot_backtest(result: BacktestResult, path: Path) -> Path:
    """Bar chart of expected value and regret per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    p = result.policies
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].bar(p["policy"], p["expected_net_value"], color="#4477aa")
    axes[0].set_title("Expected value (oracle truth)")
    axes[1].bar(p["policy"], p["regret"], color="#cc6677")
    axes[1].set_title("Regret vs the oracle (expected)")
    for ax in axes:
        ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_segments(tables: dict[str, pd.DataFrame], out_dir: Path) -> list[Path]:
    """Heatmap of expected loss on the risk x balance grid and the action mix per quadrant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grid = tables["risk_balance"].pivot(index="risk_band", columns="balance_band", values="expected_loss")
    fig, ax = plt.subplots(figsize=(5, 4))
    im = ax.imshow(grid.fillna(0).to_numpy(), cmap="Reds")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [str(i) for i in grid.index])
    ax.set_xlabel("balance band")
    ax.set_ylabel("roll-forward risk band")
    ax.set_title("Expected loss")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    heat = out_dir / "risk_balance_expected_loss.png"
    fig.savefig(heat, dpi=100)
    plt.close(fig)
    q = tables["ability_willingness"].set_index("quadrant")
    mix = q[[c for c in q.columns if c.startswith("mix_")]].fillna(0)
    fig, ax = plt.subplots(figsize=(7, 4))
    mix.rename(columns=lambda c: c[4:]).plot.bar(stacked=True, ax=ax)
    ax.set_ylabel("share of cases")
    ax.set_title("Recommended action mix by ability x willingness")
    fig.tight_layout()
    bars = out_dir / "quadrant_action_mix.png"
    fig.savefig(bars, dpi=100)
    plt.close(fig)
    return [heat, bars]
