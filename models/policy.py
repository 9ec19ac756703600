"""The per-case decision: which action, what every action is worth, and why.

``decide`` chains the stages that each live in their own module: eligibility from the rules file,
expected values from the action-response models (ranked cautiously, ``models.uplift``), the exact
capacity-constrained allocation, the champion/challenger/exploration arms with the propensity of
what was chosen (so the logs support off-policy evaluation later), and the explanations a
collector or an auditor reads.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.allocation import allocate
from models.bundle import Bundle
from models.draws import case_seeds, uniforms
from models.eligibility import Eligibility, eligibility
from models.lgb_input import column_values
from models.rules import MANUAL_REVIEW, RuleSet
from models.strategies import dpd_ladder, random_policy_from, risk_score_policy, uniform_eligible
from models.uplift import KEYS
from rollcure.config.policy import PolicyConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.errors import InputError

ARMS: tuple[str, ...] = ("champion", "challenger", "explore")
_N_ACTIONS = len(ACTIONS)
#: Columns of a case's uniforms (``models.draws`` streams): the arm, the exploration noise per
#: action, the random challenger's preference noise per action, then its priority.
_ARM_U = 0
_EXPLORE_U = slice(1, 1 + _N_ACTIONS)
_CHALLENGER_PREF_U = slice(1 + _N_ACTIONS, 1 + 2 * _N_ACTIONS)
_CHALLENGER_PRIORITY_U = 1 + 2 * _N_ACTIONS
_N_STREAMS = 2 + 2 * _N_ACTIONS


def challenger_choice(
    strategy: str, X: pd.DataFrame, scores, el: Eligibility, caps, cfg: PolicyConfig, u
) -> np.ndarray:
    """The configured challenger strategy's choice for every case (``u``: the cases' uniforms;
    ``scores``: p_roll_forward and p_cure, a frame or a mapping of arrays)."""
    if strategy == "dpd_ladder":
        return dpd_ladder(X, el.mask, caps)
    if strategy == "risk_score":
        return risk_score_policy(X, scores, el.mask, caps, cfg)
    return random_policy_from(el.mask, caps, u[:, _CHALLENGER_PREF_U], u[:, _CHALLENGER_PRIORITY_U])


def assign_arms(u: np.ndarray, cfg: PolicyConfig) -> np.ndarray:
    """Arm index per case (0 champion, 1 challenger, 2 explore) from one uniform per case."""
    return np.where(
        u < cfg.exploration_share, 2, np.where(u < cfg.exploration_share + cfg.challenger_share, 1, 0)
    )


def _fmt(x: np.ndarray) -> np.ndarray:
    """Money amounts as whole-unit strings, non-finite as 0 (vectorised, no per-case formatting;
    ``np.where`` rather than ``np.nan_to_num``, whose per-call float-limits look-ups cost more
    than the work on a single case)."""
    return np.round(np.where(np.isfinite(x), x, 0.0)).astype(np.int64).astype(str)


def _explanations(values: np.ndarray, el: Eligibility, choice: np.ndarray) -> tuple[np.ndarray, dict]:
    """One sentence per case (why this over the next best) and, per action, why it was not chosen.

    The why-not texts are built for all actions at once on cases x actions arrays: per-action
    string operations cost ~20 µs each whatever the number of cases, which dominated one case.
    """
    n = len(choice)
    rows = np.arange(n)
    names = np.asarray(ACTIONS, dtype=object)
    chosen_v = values[rows, choice]
    rule_ids = el.blocking_rule_ids().astype(str)
    diff = chosen_v[:, None] - values
    lower = np.char.add("lower value by ", _fmt(diff))
    cap = np.char.add(np.char.add("capacity: worth ", _fmt(-diff)), " more but full")
    text = np.where(diff >= -1e-9, lower, cap)
    text = np.where(rule_ids != "", np.char.add("ineligible by rule ", rule_ids), text).astype(object)
    text[rows, choice] = ""
    why_not = {a: text[:, j] for j, a in enumerate(ACTIONS)}
    # next best = the best other eligible action by value
    other = np.where(el.mask, values, -np.inf)
    other[rows, choice] = -np.inf
    nxt = other.argmax(axis=1)
    has_next = np.isfinite(other[rows, nxt])
    margin = chosen_v - values[rows, nxt]
    chosen_name = names[choice].astype(str)
    next_name = names[nxt].astype(str)
    base = np.char.add(np.char.add(chosen_name, " over "), next_name)
    up = np.char.add(np.char.add(base, ": net recovery higher by "), _fmt(margin))
    up = np.char.add(up, " on the cautious estimate")
    capped = np.char.add(np.char.add(base, ": "), next_name)
    capped = np.char.add(capped, " is worth more but its capacity is taken by higher-value cases")
    why = np.where(margin >= 0, up, capped).astype(object)
    why[~has_next] = np.char.add(chosen_name, ": the only action the rules allow")[~has_next]
    return why, why_not


def _reason_columns(bundle: Bundle, X: pd.DataFrame, top_k: int | None) -> pd.DataFrame:
    """Per case: roll-forward reason codes (risk up) and the readable texts of all top reasons."""
    reasons = bundle.explain(X, top_k=top_k).to_frame()
    n = len(X)
    up = reasons[(reasons["target"] == "roll_forward") & (reasons["direction"] == "up")]
    codes = up.groupby("case")["code"].agg(list).reindex(range(n))
    texts = reasons[reasons["direction"] == "up"].groupby("case")["text"].agg("; ".join).reindex(range(n))
    return pd.DataFrame(
        {
            "reason_codes": [c if isinstance(c, list) else [] for c in codes],
            "reasons": texts.fillna("").to_numpy(),
        }
    )


def decide(
    bundle: Bundle,
    X: pd.DataFrame,
    *,
    seed: int | np.ndarray,
    rules: RuleSet | None = None,
    capacities: list[float] | None = None,
    explain: bool = True,
    top_k: int | None = None,
) -> pd.DataFrame:
    """Decide the next action for every case of a feature frame (one decision cycle).

    ``X`` is ``features.build_features`` output. ``rules`` default to the bundle's own.
    ``capacities`` (ACTIONS order, inf = unlimited) default to the policy's per-cycle capacities.
    ``seed`` drives the arm, exploration and random-challenger draws: an int for the frame or an
    integer array with one seed per case; each case draws from its own seed only
    (``models.draws``), so its draws do not depend on which other cases share the call (an int
    gives row ``i`` the seed ``splitmix64(seed) + i``).
    """
    X = _positional(X)
    out = pd.DataFrame(decide_columns(bundle, X, seed=seed, rules=rules, capacities=capacities))
    if explain:
        out = pd.concat([out, _reason_columns(bundle, X, top_k)], axis=1)
    return out


def _positional(X: pd.DataFrame) -> pd.DataFrame:
    """X with its index reset to row positions (positions are the case ids)."""
    return X if X.index.equals(pd.RangeIndex(len(X))) else X.reset_index(drop=True)


def decide_columns(
    bundle: Bundle,
    X: pd.DataFrame,
    *,
    seed: int | np.ndarray,
    rules: RuleSet | None = None,
    capacities: list[float] | None = None,
    inputs: dict[str, np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """:func:`decide`'s columns (without reasons) as arrays in frame order: the service reads a few
    of them back per case, and building then reading a ~40-column frame cost more than deciding.
    ``inputs``: ``bundle.matrices(X)`` when the caller converted X once for the reasons too."""
    if bundle.policy is None:
        raise InputError("policy: the bundle carries no action-response models (train them first)")
    cfg = bundle.policy.config
    rules = rules or bundle.policy.rules
    X = _positional(X)
    n = len(X)
    caps = np.asarray(capacities if capacities is not None else cfg.cycle_capacity(), dtype=float)
    if caps.shape != (len(ACTIONS),):
        raise InputError(f"policy: capacities needs {len(ACTIONS)} entries (ACTIONS order), got {caps.shape}")
    u = uniforms(case_seeds(seed, n), _N_STREAMS)
    el = eligibility(X, rules)
    scores = bundle.score(X, inputs)
    pred = bundle.policy.action_models.predict(X, costs=np.asarray(cfg.cost_vector()))
    values = pred.decision  # what the policy ranks by (cautious away from the reference action)

    arm = assign_arms(u[:, _ARM_U], cfg)
    explore_cf = uniform_eligible(el.mask, u[:, _EXPLORE_U])
    chall_cf = challenger_choice(cfg.challenger_strategy, X, scores, el, np.full(_N_ACTIONS, np.inf), cfg, u)
    champ_cf = allocate(values, el.mask, caps)  # what the champion does with the whole book

    # Capacity: exploration and challenger cases take theirs first, the champion optimises the rest.
    choice = np.zeros(n, dtype=int)
    left = caps.copy()
    for a_idx, pick in ((2, explore_cf), (1, chall_cf)):
        rows = np.flatnonzero(arm == a_idx)
        got = pick[rows].copy()
        wanted = np.bincount(got, minlength=len(ACTIONS))
        for j in np.flatnonzero(wanted > left).tolist():  # only actions over their capacity
            got[np.flatnonzero(got == j)[int(left[j]) :]] = 0  # over capacity: back to "none"
        choice[rows] = got
        left = np.maximum(left - np.minimum(wanted, left), 0)
    champ_rows = np.flatnonzero(arm == 0)
    choice[champ_rows] = allocate(values[champ_rows], el.mask[champ_rows], left)

    # Probability that the randomised policy records this action: each arm's choice for this case
    # (its actual choice in its own arm; the whole-book choice of the other strategies otherwise).
    champ_cf[champ_rows] = choice[champ_rows]
    chall_rows = np.flatnonzero(arm == 1)
    chall_cf[chall_rows] = choice[chall_rows]
    e, c = cfg.exploration_share, cfg.challenger_share
    k = el.mask.sum(axis=1)
    propensity = e / k + c * (chall_cf == choice) + (1 - e - c) * (champ_cf == choice)
    propensity = np.maximum(propensity, e / k)

    rows = np.arange(n)
    names = np.asarray(ACTIONS, dtype=object)
    action = names[choice].copy()
    action[el.manual_review] = MANUAL_REVIEW
    # every column gathered first and the frame built once: inserting 40 columns one by one cost
    # more than the decision itself on a single case
    keys = [k_ for k_ in KEYS if k_ in X.columns]
    cols = dict(zip(keys, column_values(X, keys), strict=True))
    cols["action"] = action
    cols["arm"] = np.asarray(ARMS, dtype=object)[arm]
    cols["propensity"] = propensity
    cols["expected_value"] = pred.value[rows, choice]
    cols["expected_value_low"] = pred.value_low[rows, choice]
    cols["expected_value_high"] = pred.value_high[rows, choice]
    cols["p_roll_forward"] = scores.p_roll_forward
    cols["p_cure"] = scores.p_cure
    cols.update(pred.columns())
    why, why_not = _explanations(values, el, choice)
    why[el.manual_review] = "manual_review: routed to a person by a compliance rule (no debtor contact)"
    cols["why"] = why
    for a in ACTIONS:
        cols[f"why_not_{a}"] = why_not[a]
    contact = np.isin(names[choice], rules.contact_actions) & ~el.manual_review
    cols["contact_window"] = np.where(contact, rules.contact_hours.label(), "")
    return cols
