"""The value label of a case: what the recorded book says the case was worth over the horizon.

The same :func:`rollcure.core.value.horizon_value` the oracle applies to simulated futures,
applied to what the lender recorded: the cash paid in the H cycles after ``as_of`` (0 once the
loan left the book), the costs of the actions decided at ``as_of`` and the H − 1 cycles after, and
the loan's balance at cycle H valued at its state's recovery factor (a repaid or charged-off loan
has none left). ``value_gross`` adds back the first action's own cost: the action-response models
learn it, and the policy subtracts each action's configured cost.

A case whose H cycles are not all observed (the book, or ``observed_until``, ends first; or the
loan's rows stop without a repayment or a charge-off) is excluded and counted, never valued 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rollcure.core.value import N_TRANSIENT, Valuation
from rollcure.core.value_history import month_index, observed_states


def _lookup(index: pd.MultiIndex, values: np.ndarray, loan: np.ndarray, month: np.ndarray) -> tuple:
    """Values at (loan, month) pairs and whether each pair exists."""
    pos = index.get_indexer(pd.MultiIndex.from_arrays([loan, month]))
    found = pos >= 0
    return np.where(found, values[np.maximum(pos, 0)], 0), found


def build_value_labels(
    tables: dict[str, pd.DataFrame],
    cases: pd.DataFrame,
    valuation: Valuation,
    observed_until: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, int]:
    """``value`` and ``value_gross`` of every observed case (loan_id, as_of), and the excluded count."""
    cycles, loans = tables["cycles"], tables["loans"]
    actions = tables.get("actions")
    h = valuation.horizon
    states = observed_states(cycles, loans, actions, valuation.cfg)
    key = pd.MultiIndex.from_arrays([states["loan_id"].to_numpy(), states["month"].to_numpy()])
    cyc = cycles.assign(month=month_index(cycles["cycle_date"]))
    paid_key = pd.MultiIndex.from_arrays([cyc["loan_id"].to_numpy(), cyc["month"].to_numpy()])
    paid = cyc["paid_amount"].to_numpy(dtype=float)
    if paid_key.has_duplicates or key.has_duplicates:
        raise ValueError("cycles: more than one row per (loan_id, cycle month)")

    loan = cases["loan_id"].to_numpy()
    m0 = month_index(cases["as_of"])
    last_month = int(states["month"].max()) if len(states) else 0
    if observed_until is not None:
        last_month = min(last_month, int(month_index([observed_until])[0]))
    _, has_now = _lookup(key, np.zeros(len(key)), loan, m0)

    cash = np.zeros((len(loan), h))
    costs = np.zeros((len(loan), h))
    if actions is not None and len(actions):
        decided = month_index(actions["decided_at"])
        act_key = pd.MultiIndex.from_arrays([actions["loan_id"].to_numpy(), decided])
        act_cost = actions["cost"].to_numpy(dtype=float)
    for k in range(h):  # loop over the horizon's cycles, never over cases
        cash[:, k] = _lookup(paid_key, paid, loan, m0 + k + 1)[0]
        if actions is not None and len(actions):
            costs[:, k] = _lookup(act_key, act_cost, loan, m0 + k)[0]

    state = states["state"].to_numpy()
    balance = states["balance"].to_numpy(dtype=float)
    end_state, at_end = _lookup(key, state, loan, m0 + h)
    end_balance, _ = _lookup(key, balance, loan, m0 + h)
    # a loan with no row at H must have left the book by repayment or charge-off before it
    last = states.groupby("loan_id", sort=False).tail(1)
    last_state = pd.Series(last["state"].to_numpy(), index=last["loan_id"].to_numpy())
    left = ~at_end & (pd.Series(loan).map(last_state).to_numpy(dtype=float, na_value=0) >= N_TRANSIENT)
    observed = has_now & (m0 + h <= last_month) & (at_end | left)

    factor = valuation.factors.factor[np.where(at_end, end_state, 0).astype(np.int64)]
    terminal_balance = np.where(at_end, end_balance, 0.0)
    value = valuation.value(cash, costs, terminal_balance, factor)
    keep = np.flatnonzero(observed)
    out = pd.DataFrame(
        {
            "loan_id": loan[keep],
            "as_of": pd.to_datetime(cases["as_of"]).to_numpy()[keep],
            "value": value[keep],
            "value_gross": value[keep] + costs[keep, 0],
        }
    )
    return out, int(len(loan) - len(keep))
