"""``models.policy.decide`` cut in two, so one capacity plan can cover a book no process holds.

``decide`` needs the whole frame of features at once because capacities are shared between cases.
For a book spread over many workers, everything per case (scores, reasons, eligibility, the
values of every action, the arm and the exploration and challenger picks, which use unlimited
capacity) is computed where the case's rows live (:func:`case_options`); what is left is small
(cases x actions numbers) and is gathered to one process, which makes the only cross-case choices
(:func:`allocate_book`): exploration and challenger cases take their capacity first in case order,
then the exact LP (``models.allocation``) allocates the rest to the champion's cases, and the
propensities need the champion's plan for the whole book.

The two halves repeat the order of operations of ``decide`` (the constants of the draw streams
are imported from it, not copied); ``tests/test_dask_capacity.py`` proves that, on one book,
``allocate_book(concat(case_options(parts)))`` equals ``decide`` on the whole frame. Each case's
draws come from its own seed (:func:`book_seeds`: the run seed and its loan id), so the result does
not depend on how the book is cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from models.allocation import allocate
from models.bundle import Bundle
from models.draws import splitmix64, uniforms
from models.eligibility import eligibility
from models.lgb_input import column_values
from models.policy import (
    _ARM_U,
    _EXPLORE_U,
    _N_STREAMS,
    ARMS,
    ReasonLists,
    assign_arms,
    challenger_choice,
    decision_reasons,
)
from models.rules import MANUAL_REVIEW
from models.strategies import uniform_eligible
from rollcure.config.policy import PolicyConfig
from rollcure.core.arrays import expand_windows
from rollcure.core.catalogue import ACTIONS
from rollcure.core.errors import InputError

_N_ACTIONS = len(ACTIONS)


@dataclass(frozen=True)
class CodedReasons:
    """A book's reasons as Arrow-style lists of dictionary ids: per case ``offsets``, per reason
    the ids of its code and text in ``code_names`` and ``text_names``.

    A reason's text carries the feature's value and its probability points to one decimal, so a
    book's millions of reasons use a few thousand distinct texts. As Python strings they were the
    driver's largest cost (unpickled from the workers, concatenated, gathered into loan order and
    turned into Arrow one object at a time); as ids they travel and move as integers, and the names
    become strings once, in the output (:meth:`slice_lists`).
    """

    offsets: np.ndarray
    code: np.ndarray
    text: np.ndarray
    code_names: np.ndarray
    text_names: np.ndarray

    @classmethod
    def of(cls, reasons: ReasonLists) -> CodedReasons:
        code, code_names = pd.factorize(reasons.codes, use_na_sentinel=False)
        text, text_names = pd.factorize(reasons.texts, use_na_sentinel=False)
        return cls(
            offsets=np.asarray(reasons.offsets, dtype=np.int64),
            code=code.astype(np.int32),
            text=text.astype(np.int32),
            code_names=np.asarray(code_names, dtype=object),
            text_names=np.asarray(text_names, dtype=object),
        )

    @staticmethod
    def concat(parts: list[CodedReasons]) -> CodedReasons:
        """Parts in order as one: offsets re-based, each part's ids mapped into shared names."""
        sizes = np.cumsum([0, *(len(p.code) for p in parts)])
        offsets = np.concatenate([[0], *(p.offsets[1:] + s for p, s in zip(parts, sizes, strict=False))])

        def joined(ids: str, names: str) -> tuple[np.ndarray, np.ndarray]:
            every, shared = pd.factorize(
                np.concatenate([getattr(p, names) for p in parts]), use_na_sentinel=False
            )
            starts = np.cumsum([0, *(len(getattr(p, names)) for p in parts)])
            mapped = [
                every[a:b].astype(np.int32)[getattr(p, ids)]
                for p, a, b in zip(parts, starts, starts[1:], strict=False)
            ]
            return np.concatenate(mapped), np.asarray(shared, dtype=object)

        code, code_names = joined("code", "code_names")
        text, text_names = joined("text", "text_names")
        return CodedReasons(offsets.astype(np.int64), code, text, code_names, text_names)

    def take(self, order: np.ndarray) -> CodedReasons:
        """The cases at positions ``order``, their reasons gathered with them."""
        _, idx = expand_windows(self.offsets[:-1][order], self.offsets[1:][order])
        offsets = np.concatenate([[0], np.cumsum(np.diff(self.offsets)[order])]).astype(np.int64)
        return CodedReasons(offsets, self.code[idx], self.text[idx], self.code_names, self.text_names)

    def slice_lists(self, a: int, b: int) -> tuple[pa.Array, pa.Array]:
        """Cases ``a:b`` as two Arrow ``list<string>`` arrays: reason codes and reason texts."""
        lo, hi = int(self.offsets[a]), int(self.offsets[b])
        offsets = pa.array((self.offsets[a : b + 1] - lo).astype(np.int32), pa.int32())

        def strings(ids: np.ndarray, names: np.ndarray) -> pa.Array:
            return pa.array(names, pa.string()).take(pa.array(ids[lo:hi]))

        return (
            pa.ListArray.from_arrays(offsets, strings(self.code, self.code_names)),
            pa.ListArray.from_arrays(offsets, strings(self.text, self.text_names)),
        )


def book_seeds(seed: int, loan_ids: np.ndarray) -> np.ndarray:
    """One uint64 draw seed per case from the run seed and the loan id: ``splitmix64(seed) + loan_id``
    (``models.draws.case_seeds`` with the loan id in place of the row), the same wherever the case is."""
    with np.errstate(over="ignore"):
        return splitmix64(np.uint64(int(seed) % 2**64)) + np.asarray(loan_ids).astype(np.uint64)


@dataclass(frozen=True)
class CaseOptions:
    """Everything per case a capacity plan needs, in case order (arrays; n x A where two-dimensional).

    ``values`` are what the policy ranks by, ``value`` the expected values shown, ``roll`` and
    ``cure`` the next cycle's probabilities under each action; ``p_roll_forward`` and ``p_cure`` are
    the scorers'; ``explore`` and ``challenger`` the action each arm would take without capacity
    limits. Without a policy, only
    the keys, scores and reasons are set and the rest is None.
    """

    loan_id: np.ndarray
    as_of: np.ndarray
    p_roll_forward: np.ndarray
    p_cure: np.ndarray
    reasons: CodedReasons
    values: np.ndarray | None = None
    value: np.ndarray | None = None
    roll: np.ndarray | None = None
    cure: np.ndarray | None = None
    eligible: np.ndarray | None = None
    manual_review: np.ndarray | None = None
    arm: np.ndarray | None = None
    explore: np.ndarray | None = None
    challenger: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.loan_id)

    @property
    def has_policy(self) -> bool:
        return self.values is not None


def case_options(bundle: Bundle, X: pd.DataFrame, seeds: np.ndarray) -> CaseOptions:
    """The per-case half of ``decide`` for a feature frame (rows = cases) and one seed per case."""
    X = X if X.index.equals(pd.RangeIndex(len(X))) else X.reset_index(drop=True)
    loan_id, as_of = column_values(X, ("loan_id", "as_of"))
    inputs = bundle.matrices(X)
    scores = bundle.score(X, inputs)
    reasons = decision_reasons(bundle, X, inputs)
    base: dict[str, Any] = {
        "loan_id": np.asarray(loan_id, dtype=np.int64),
        "as_of": np.asarray(as_of, dtype="datetime64[ns]"),
        "p_roll_forward": np.asarray(scores.p_roll_forward, dtype=float),
        "p_cure": np.asarray(scores.p_cure, dtype=float),
        "reasons": CodedReasons.of(reasons),
    }
    if bundle.policy is None:
        return CaseOptions(**base)
    cfg = bundle.policy.config
    u = uniforms(np.asarray(seeds, dtype=np.uint64), _N_STREAMS)
    el = eligibility(X, bundle.policy.rules)
    pred = bundle.policy.action_models.predict(X, costs=np.asarray(cfg.cost_vector()))
    unlimited = np.full(_N_ACTIONS, np.inf)
    return CaseOptions(
        **base,
        values=pred.decision,
        value=pred.value,
        roll=pred.roll,
        cure=pred.cure,
        eligible=el.mask,
        manual_review=np.asarray(el.manual_review, dtype=bool),
        arm=assign_arms(u[:, _ARM_U], cfg),
        explore=uniform_eligible(el.mask, u[:, _EXPLORE_U]),
        challenger=challenger_choice(cfg.challenger_strategy, X, scores, el, unlimited, cfg, u),
    )


def concat_options(parts: list[CaseOptions]) -> CaseOptions:
    """Parts in the given order as one (reasons re-based); all with a policy or all without."""
    if not parts:
        raise InputError("book: no partition returned any case")
    if len({p.has_policy for p in parts}) > 1:
        raise InputError("book: partitions were decided with different bundles (policy and no policy)")
    reasons = CodedReasons.concat([p.reasons for p in parts])
    fields = [f for f in CaseOptions.__dataclass_fields__ if f != "reasons"]
    joined: dict[str, Any] = {
        f: None if getattr(parts[0], f) is None else np.concatenate([getattr(p, f) for p in parts])
        for f in fields
    }
    return CaseOptions(reasons=reasons, **joined)


def take(options: CaseOptions, order: np.ndarray) -> CaseOptions:
    """The cases at positions ``order`` (reasons gathered with them)."""
    reasons = options.reasons.take(order)
    fields = [f for f in CaseOptions.__dataclass_fields__ if f != "reasons"]
    picked: dict[str, Any] = {
        f: None if getattr(options, f) is None else getattr(options, f)[order] for f in fields
    }
    return CaseOptions(reasons=reasons, **picked)


def _policy_arrays(options: CaseOptions) -> tuple[np.ndarray, ...]:
    """values, eligible, value, roll, cure, arm, explore, challenger, manual_review (all set with a
    policy)."""
    arrays = (
        options.values,
        options.eligible,
        options.value,
        options.roll,
        options.cure,
        options.arm,
        options.explore,
        options.challenger,
        options.manual_review,
    )
    present = [a for a in arrays if a is not None]
    if len(present) != len(arrays):
        raise InputError("book: the cases carry only part of the policy's options")
    return tuple(present)


@dataclass(frozen=True)
class BookChoice:
    """The capacity plan of a book: per case its action, arm, expected value and propensity, and
    the roll-forward and cure probabilities shown (``models.policy.decide``'s: under the chosen
    action, the scorers' for a manual review or without a policy)."""

    action: np.ndarray
    arm: np.ndarray
    expected_value: np.ndarray
    propensity: np.ndarray
    p_roll_forward: np.ndarray
    p_cure: np.ndarray


def _arm_first(
    choice_of_arm: np.ndarray, rows: np.ndarray, left: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """An arm's capacity-free picks for its rows, trimmed to what is left in case order (``decide``)."""
    got = choice_of_arm[rows].copy()
    wanted = np.bincount(got, minlength=_N_ACTIONS)
    for j in np.flatnonzero(wanted > left).tolist():  # only actions over their capacity
        got[np.flatnonzero(got == j)[int(left[j]) :]] = 0  # over capacity: back to "none"
    return got, np.maximum(left - np.minimum(wanted, left), 0)


def allocate_book(
    options: CaseOptions, cfg: PolicyConfig | None, capacities: list[float] | None = None
) -> BookChoice:
    """The cross-case half of ``decide`` on the whole book (cases in the order given)."""
    n = len(options)
    if cfg is None or not options.has_policy:
        return BookChoice(
            action=np.full(n, None, dtype=object),
            arm=np.full(n, "champion", dtype=object),
            expected_value=np.full(n, np.nan),
            propensity=np.full(n, np.nan),
            p_roll_forward=options.p_roll_forward,
            p_cure=options.p_cure,
        )
    values, mask, value, roll, cure, arm, explore, challenger, manual = _policy_arrays(options)
    caps = np.asarray(capacities if capacities is not None else cfg.cycle_capacity(), dtype=float)
    champ_cf = allocate(values, mask, caps)  # what the champion does with the whole book
    chall_cf = challenger.copy()
    choice = np.zeros(n, dtype=int)
    left = caps.copy()
    for a_idx, pick in ((2, explore), (1, chall_cf)):
        rows = np.flatnonzero(arm == a_idx)
        choice[rows], left = _arm_first(pick, rows, left)
    champ_rows = np.flatnonzero(arm == 0)
    choice[champ_rows] = allocate(values[champ_rows], mask[champ_rows], left)
    champ_cf[champ_rows] = choice[champ_rows]
    chall_rows = np.flatnonzero(arm == 1)
    chall_cf[chall_rows] = choice[chall_rows]
    e, c = cfg.exploration_share, cfg.challenger_share
    k = mask.sum(axis=1)
    propensity = e / k + c * (chall_cf == choice) + (1 - e - c) * (champ_cf == choice)
    action = np.asarray(ACTIONS, dtype=object)[choice].copy()
    action[manual] = MANUAL_REVIEW
    rows = np.arange(n)
    return BookChoice(
        action=action,
        arm=np.asarray(ARMS, dtype=object)[arm],
        expected_value=value[rows, choice],
        propensity=np.maximum(propensity, e / k),
        p_roll_forward=np.where(manual, options.p_roll_forward, roll[rows, choice]),
        p_cure=np.where(manual, options.p_cure, cure[rows, choice]),
    )
