"""The per-case decision: which action, what every action is worth, and why.

``decide`` chains the stages that each live in their own module: eligibility from the rules file,
expected values from the action-response models (ranked cautiously, ``models.uplift``), the exact
capacity-constrained allocation, the champion/challenger/exploration arms with the propensity of
what was chosen (so the logs support off-policy evaluation later), and the explanations a
collector or an auditor reads. It returns arrays (``Decisions``) with one ``to_frame`` adapter: the
service reads a few columns back per case, and building then reading a ~40-column frame cost more
than deciding. The reasons a decision shows come from :func:`decision_reasons` alone, so the
batch scorer, the service and ``decide`` give every case the same reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

from models.allocation import allocate
from models.bundle import Bundle, Scores
from models.draws import case_seeds, uniforms
from models.eligibility import Eligibility, eligibility
from models.lgb_input import column_values
from models.record import VIEWS
from models.rules import MANUAL_REVIEW, RuleSet
from models.strategies import dpd_ladder, random_policy_from, risk_score_policy, uniform_eligible
from models.uplift import KEYS
from rollcure.config.policy import PolicyConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.errors import InputError

ARMS: tuple[str, ...] = ("champion", "challenger", "explore")
#: The reasons attached to a decision: what raised the roll-forward risk, strongest first.
DECISION_REASON_TARGET = "roll_forward"
DECISION_REASON_DIRECTION = "up"
_N_ACTIONS = len(ACTIONS)
#: Columns of a case's uniforms (``models.draws`` streams): the arm, the exploration noise per
#: action, the random challenger's preference noise per action, then its priority.
_ARM_U = 0
_EXPLORE_U = slice(1, 1 + _N_ACTIONS)
_CHALLENGER_PREF_U = slice(1 + _N_ACTIONS, 1 + 2 * _N_ACTIONS)
_CHALLENGER_PRIORITY_U = 1 + 2 * _N_ACTIONS
_N_STREAMS = 2 + 2 * _N_ACTIONS


@dataclass(frozen=True)
class ReasonLists:
    """Per-case lists as flat arrays plus offsets (Arrow's list layout): no per-case Python objects."""

    offsets: np.ndarray
    codes: np.ndarray
    texts: np.ndarray

    def codes_of(self, i: int) -> list[str]:
        return [str(c) for c in self.codes[self.offsets[i] : self.offsets[i + 1]]]

    def texts_of(self, i: int) -> list[str]:
        return [str(t) for t in self.texts[self.offsets[i] : self.offsets[i + 1]]]


#: Columns every served decision carries, with or without a policy (the service, the batch scorer
#: and the MLflow model show these; ``Decisions.columns`` holds more): the record's decision view.
DECISION_COLUMNS: tuple[str, ...] = VIEWS["decision"]


@dataclass(frozen=True)
class Decisions:
    """One decision cycle's output: columns of arrays in case order and the reasons each case shows.

    ``columns`` holds the case keys, the action, arm, propensity, expected values (``ev_<action>``
    for every action), scores and why/why-not texts; ``reasons`` is None when not asked for.
    """

    columns: dict[str, np.ndarray]
    reasons: ReasonLists | None

    def __getitem__(self, column: str) -> np.ndarray:
        return self.columns[column]

    def __len__(self) -> int:
        return len(self.columns["action"])

    def reason_lists(self) -> ReasonLists:
        """The reasons, for a caller that decided with them (an error, not silently none, otherwise)."""
        if self.reasons is None:
            raise InputError("decisions: decided with explain=False, so there are no reasons to show")
        return self.reasons

    def to_frame(self) -> pd.DataFrame:
        """The decisions as a frame (index: row positions); with reasons, ``reason_codes`` holds
        each case's list of codes and ``reasons`` their texts joined by "; "."""
        frame = pd.DataFrame(self.columns)
        if self.reasons is None:
            return frame
        n = len(frame)
        lists = self.reasons
        return frame.assign(
            reason_codes=[lists.codes_of(i) for i in range(n)],
            reasons=np.asarray(["; ".join(lists.texts_of(i)) for i in range(n)], dtype=object),
        )


def decision_reasons(
    bundle: Bundle, X: pd.DataFrame, inputs: dict[str, np.ndarray] | None = None
) -> ReasonLists:
    """The reasons a decision shows, per case in rank order: TreeSHAP for the decision target only
    (the throughput bottleneck) and only the direction a decision shows. ``X`` is positional
    (``case`` = row); ``inputs``: ``bundle.matrices(X)`` when the caller converted X already."""
    reasons = bundle.explain(
        X, targets=(DECISION_REASON_TARGET,), directions=(DECISION_REASON_DIRECTION,), inputs=inputs
    )
    counts = np.bincount(np.asarray(reasons["case"], dtype=np.int64), minlength=len(X))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return ReasonLists(
        offsets=offsets,
        codes=np.asarray(reasons["code"], dtype=object),
        texts=np.asarray(reasons["text"], dtype=object),
    )


def challenger_choice(
    strategy: str,
    X: pd.DataFrame,
    scores: Scores,
    el: Eligibility,
    caps: np.ndarray,
    cfg: PolicyConfig,
    u: np.ndarray,
) -> np.ndarray:
    """The configured challenger strategy's choice for every case (``u``: the cases' uniforms)."""
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
    than the work on a single case). Variable-width strings (``StringDType``): the fixed-width
    ``np.char`` path cost 5 s on 200k cases x seven actions, this one a fifth of that."""
    return np.round(np.where(np.isfinite(x), x, 0.0)).astype(np.int64).astype(_TEXT)


def _pct(p: np.ndarray) -> np.ndarray:
    """Probabilities as whole percentages ("38%"), vectorised."""
    return _join(_fmt(100 * np.asarray(p, dtype=float)), "%")


_TEXT = StringDType()
#: The why-not text's kinds, with the words before and after the amount (or the rule id).
_LOWER, _CAPACITY, _RULE, _CHOSEN = range(4)
_WHY_NOT_PREFIX = np.asarray(["lower value by ", "capacity: worth ", "ineligible by rule ", ""], dtype=_TEXT)
_WHY_NOT_SUFFIX = np.asarray(["", " more but full", "", ""], dtype=_TEXT)


def _join(*parts: np.ndarray | str) -> np.ndarray:
    """Element-wise concatenation of string arrays and literals (broadcast)."""
    out = np.asarray(parts[0], dtype=_TEXT)
    for part in parts[1:]:
        out = np.strings.add(out, np.asarray(part, dtype=_TEXT))
    return out


def _explanations(
    values: np.ndarray, el: Eligibility, choice: np.ndarray, cure: np.ndarray, roll: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """One sentence per case (why this over the next best) and, per action, why it was not chosen.

    In the terms a collector reads: "restructuring over reminder: +1240 expected value (cure 38%
    vs 21%, roll 9% vs 30% next cycle)": the margin on the value the policy ranks by, and the
    action-conditional cure and roll-forward probabilities of the two actions (``cure``, ``roll``:
    cases x actions).

    The why-not texts are built for all actions at once on cases x actions arrays: per-action
    string operations cost ~20 µs each whatever the number of cases, which dominated one case.
    They are returned as object arrays of ``str`` (what the decision frame's columns hold).
    """
    n = len(choice)
    rows = np.arange(n)
    names = np.asarray(ACTIONS, dtype=_TEXT)
    chosen_v = values[rows, choice]
    rule_ids = el.blocking_rule_ids().astype(_TEXT)
    diff = chosen_v[:, None] - values
    # one kind per cell, then prefix + middle + suffix picked by kind: three takes and two joins
    # on the whole n x A grid (a string ``np.where`` per alternative cost as much as all of this)
    kind = np.where(rule_ids != "", _RULE, np.where(diff >= -1e-9, _LOWER, _CAPACITY))
    kind[rows, choice] = _CHOSEN
    middle = _fmt(np.abs(diff))
    ruled = kind == _RULE
    middle[ruled] = rule_ids[ruled]
    middle[kind == _CHOSEN] = ""
    text = _join(_WHY_NOT_PREFIX[kind], middle, _WHY_NOT_SUFFIX[kind])
    text_obj = text.astype(object)
    why_not = {a: text_obj[:, j] for j, a in enumerate(ACTIONS)}
    # next best = the best other eligible action by value
    other = np.where(el.mask, values, -np.inf)
    other[rows, choice] = -np.inf
    nxt = other.argmax(axis=1)
    has_next = np.isfinite(other[rows, nxt])
    margin = chosen_v - values[rows, nxt]
    chosen_name, next_name = names[choice], names[nxt]
    base = _join(chosen_name, " over ", next_name)
    up = _join(base, ": +", _fmt(margin), " expected value (cure ", _pct(cure[rows, choice]), " vs ",
               _pct(cure[rows, nxt]), ", roll ", _pct(roll[rows, choice]), " vs ", _pct(roll[rows, nxt]),
               " next cycle)")  # fmt: skip
    capped = _join(base, ": ", next_name, " is worth more but its capacity is taken by higher-value cases")
    why = np.where(margin >= 0, up, capped)
    why = np.where(has_next, why, _join(chosen_name, ": the only action the rules allow"))
    return why.astype(object), why_not


def _positional(X: pd.DataFrame) -> pd.DataFrame:
    """X with its index reset to row positions (positions are the case ids)."""
    return X if X.index.equals(pd.RangeIndex(len(X))) else X.reset_index(drop=True)


def decide(
    bundle: Bundle,
    X: pd.DataFrame,
    *,
    seed: int | np.ndarray,
    rules: RuleSet | None = None,
    capacities: list[float] | None = None,
    explain: bool = True,
) -> Decisions:
    """Decide the next action for every case of a feature frame (one decision cycle).

    ``X`` is ``features.build_features`` output (its index is ignored: cases are row positions).
    ``rules`` default to the bundle's own. ``capacities`` (ACTIONS order, inf = unlimited) default
    to the policy's per-cycle capacities. ``seed`` drives the arm, exploration and random-challenger
    draws: an int for the frame or an integer array with one seed per case; each case draws from its
    own seed only (``models.draws``), so its draws do not depend on which other cases share the call
    (an int gives row ``i`` the seed ``splitmix64(seed) + i``). ``explain``: attach
    :func:`decision_reasons` (X is converted to the classifiers' input once, for both).
    """
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
    inputs = bundle.matrices(X) if explain else None
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
    # what the collector reads: the next cycle's roll-forward and cure under the recommended action
    # (the action models'); a case routed to a person gets the scorers' (no action is taken yet),
    # which every case also keeps as the book's risk score for segments and monitoring
    review = el.manual_review
    cols["p_roll_forward"] = np.where(review, scores.p_roll_forward, pred.roll[rows, choice])
    cols["p_cure"] = np.where(review, scores.p_cure, pred.cure[rows, choice])
    cols["score_p_roll_forward"] = scores.p_roll_forward
    cols["score_p_cure"] = scores.p_cure
    cols.update(pred.columns())
    why, why_not = _explanations(values, el, choice, pred.cure, pred.roll)
    why[el.manual_review] = "manual_review: routed to a person by a compliance rule (no debtor contact)"
    cols["why"] = why
    for a in ACTIONS:
        cols[f"why_not_{a}"] = why_not[a]
    contact = np.isin(names[choice], rules.contact_actions) & ~el.manual_review
    cols["contact_window"] = np.where(contact, rules.contact_hours.label(), "")
    return Decisions(cols, decision_reasons(bundle, X, inputs) if explain else None)
