"""Which actions each case may receive, and which rule forbids the others.

The rules file (models/rules.py) is evaluated column-wise over the whole feature frame: one
vectorised pass per rule, never a loop over cases. The result keeps, for every blocked
(case, action) cell, the first rule in file order that blocked it, so a decision can say
"ineligible by rule LIT_MIN_DPD" instead of just "no".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.lgb_input import column_arrays
from models.rules import MANUAL_REVIEW, Clause, RuleSet
from rollcure.core.catalogue import ACTIONS
from rollcure.core.errors import InputError

NOT_BLOCKED = -1


@dataclass(frozen=True)
class Eligibility:
    """n x A eligibility of cases (rows of the feature frame) for actions (ACTIONS order)."""

    actions: tuple[str, ...]
    #: True where the action is allowed for the case.
    mask: np.ndarray
    #: Index into ``rule_ids`` of the first rule that blocked the cell; NOT_BLOCKED where allowed.
    blocked_rule: np.ndarray
    rule_ids: tuple[str, ...]
    #: True where a routing rule sends the case to a person (``manual_review``).
    manual_review: np.ndarray

    def blocking_rule_ids(self) -> np.ndarray:
        """n x A array of rule ids ('' where the action is allowed)."""
        names = np.asarray(("",) + self.rule_ids, dtype=object)
        return names[self.blocked_rule + 1]

    def to_frame(self) -> pd.DataFrame:
        """One boolean column per action plus ``blocked_<action>`` with the rule id."""
        data = {f"eligible_{a}": self.mask[:, j] for j, a in enumerate(self.actions)}
        ids = self.blocking_rule_ids()
        data.update({f"blocked_{a}": ids[:, j] for j, a in enumerate(self.actions)})
        data[MANUAL_REVIEW] = self.manual_review
        return pd.DataFrame(data)


def _as_float(col) -> tuple[np.ndarray, np.ndarray]:
    """Numeric values and a missing mask of one column's array; booleans become 0/1, unparseable
    values count as missing.

    Plain numpy numbers and booleans are cast directly (what the general path gives them, without
    its nullable round trip, which dominated a single-case decision).
    """
    if isinstance(col.dtype, np.dtype) and col.dtype.kind in "biuf":
        values = np.asarray(col, dtype=float).view()
        values.flags.writeable = False  # may be the frame's own block
    else:
        values = (
            pd.to_numeric(pd.Series(col, copy=False), errors="coerce")
            .astype("Float64")
            .to_numpy(dtype=float, na_value=np.nan)
        )
    return values, np.isnan(values)


def _clause_holds(clause: Clause, columns: dict[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Where the clause holds (callers silence NaN comparison warnings once for all clauses)."""
    values, missing = columns[clause.feature]
    match clause.op:
        case "is_true":
            held = values != 0
        case "is_false":
            held = values == 0
        case "==":
            held = values == clause.value
        case "!=":
            held = values != clause.value
        case ">=":
            held = values >= clause.value
        case ">":
            held = values > clause.value
        case "<=":
            held = values <= clause.value
        case _:
            held = values < clause.value
    return np.where(missing, clause.missing == "blocks", held)


def check_rule_features(X: pd.DataFrame, rules: RuleSet) -> None:
    """InputError naming the rule and the column when the feature frame lacks a column a rule reads."""
    for rule in rules.rules:
        for clause in rule.when:
            if clause.feature not in X.columns:
                raise InputError(
                    f"eligibility: rule '{rule.id}' reads feature '{clause.feature}', "
                    "which is not a column of the feature frame"
                )


def eligibility(X: pd.DataFrame, rules: RuleSet) -> Eligibility:
    """Evaluate every rule on the feature frame: one vectorised pass per rule.

    ``none`` is never blocked (the rules file refuses it), so every case keeps a compliant choice.
    """
    check_rule_features(X, rules)
    # each feature converted once, however many clauses read it
    features = dict.fromkeys(c.feature for rule in rules.rules for c in rule.when)
    # read from the frame's blocks: a Series per feature cost more than the rules on one case
    columns = {f: _as_float(a) for f, a in zip(features, column_arrays(X, list(features)), strict=True)}
    n, n_actions = len(X), len(ACTIONS)
    col = {a: j for j, a in enumerate(ACTIONS)}
    hits = np.zeros((len(rules.rules), n), dtype=bool)
    blocking: dict[int, list[int]] = {}  # action -> the rules that block it, in file order
    manual_rules = []
    with np.errstate(invalid="ignore"):  # once: ~3 µs each, per clause it showed on one case
        for r_idx, rule in enumerate(rules.rules):
            holds = [_clause_holds(c, columns) for c in rule.when]
            if len(holds) == 1:  # most rules: no stacking (~10 µs a rule on a single case)
                hits[r_idx] = holds[0]
            elif rule.combine == "any":
                hits[r_idx] = np.stack(holds).any(axis=0)
            else:
                hits[r_idx] = np.stack(holds).all(axis=0)
    for r_idx, rule in enumerate(rules.rules):
        if rule.route == MANUAL_REVIEW:
            manual_rules.append(r_idx)
        for action in rule.blocks():
            blocking.setdefault(col[action], []).append(r_idx)
    # first blocking rule per (case, action) in one pass per action, not one per (rule, action)
    blocked = np.full((n, n_actions), NOT_BLOCKED, dtype=np.int16)
    for j, r_list in blocking.items():
        rule_of = np.asarray(r_list)
        held = hits[rule_of]
        blocked[:, j] = np.where(held.any(axis=0), rule_of[held.argmax(axis=0)], NOT_BLOCKED)
    manual = np.asarray(hits[manual_rules].any(axis=0), dtype=bool)  # no copy; an array, not a scalar
    return Eligibility(
        actions=ACTIONS,
        mask=blocked == NOT_BLOCKED,
        blocked_rule=blocked,
        rule_ids=rules.rule_ids,
        manual_review=manual,
    )
