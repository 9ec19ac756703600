"""What a serving request cannot hold even when every field is well-typed: the cross-field rules.

A pydantic field checks one value against its range (``features.schemas`` declares the ranges);
these rules compare values: arrears above the balance, a collateral value with no collateral,
days past due that cannot go with the missed instalments, an as-of date before the loan existed,
and, across the cases of one request, one loan or one borrower described two ways. They return
``(field path, problem)`` pairs so the request model can refuse the case naming the field, and the
fuzz test can check every accepted case against the same declaration.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np

from features.schemas import ARREARS_TOLERANCE
from rollcure.core.domain import NO_COLLATERAL, dpd_matches_missed

if TYPE_CHECKING:
    from features.payload import CasePayload


def case_problems(case: CasePayload) -> Iterator[tuple[str, str]]:
    """(field path, problem) for every cross-field rule one case breaks."""
    loan = case.loan
    if loan.collateral_type == NO_COLLATERAL and loan.collateral_value > 0:
        yield "loan.collateral_value", "a collateral value without collateral (collateral_type 'none')"
    if case.as_of < loan.origination_date:
        yield "as_of", "before the loan's origination_date"
    if loan.flag_date is not None and loan.flag_date < loan.origination_date:
        yield "loan.flag_date", "before the loan's origination_date"
    dpd_ok = dpd_matches_missed(
        np.fromiter((c.dpd for c in case.cycles), np.int64, len(case.cycles)),
        np.fromiter((c.missed_instalments for c in case.cycles), np.int64, len(case.cycles)),
    ).tolist()  # one vectorised check per case, not one numpy call per cycle
    for i, c in enumerate(case.cycles):
        where = f"cycles.{i}"
        if c.cycle_date < loan.origination_date:
            yield f"{where}.cycle_date", "before the loan's origination_date"
        if c.cycle_date > case.as_of:
            yield f"{where}.cycle_date", "after as_of (a case sees only cycles up to its as-of date)"
        if c.arrears > c.balance + ARREARS_TOLERANCE:
            yield f"{where}.arrears", "above the balance"
        if not dpd_ok[i]:
            yield (
                f"{where}.dpd",
                (
                    f"{c.dpd} days past due cannot go with {c.missed_instalments} missed instalments "
                    "(past due exactly when an instalment is missed; m missed means dpd > (m - 1) * 28)"
                ),
            )


def request_problems(cases: Sequence[CasePayload]) -> Iterator[tuple[str, str]]:
    """(field path, problem) for cases of one request that contradict each other.

    Cases of one loan at different as-of dates are one history (``payloads_to_tables`` merges
    them), so they must describe the same loan and borrower; the same loan twice at one as-of date
    is a duplicate. A borrower is one record, whichever of its loans carries it.
    """
    first_loan: dict[int, int] = {}
    first_borrower: dict[int, int] = {}
    seen: set[tuple[int, object]] = set()
    for i, case in enumerate(cases):
        loan_id, borrower_id = case.loan.loan_id, case.borrower.borrower_id
        if (loan_id, case.as_of) in seen:
            yield f"{i}.loan.loan_id", f"loan {loan_id} at as_of {case.as_of:%Y-%m-%d} appears twice"
        seen.add((loan_id, case.as_of))
        j = first_loan.setdefault(loan_id, i)
        if case.loan != cases[j].loan:
            yield f"{i}.loan", f"loan {loan_id} differs from case {j}'s record of the same loan"
        if case.borrower.borrower_id != cases[j].borrower.borrower_id:
            yield f"{i}.borrower.borrower_id", f"loan {loan_id} belongs to another borrower in case {j}"
        k = first_borrower.setdefault(borrower_id, i)
        if case.borrower != cases[k].borrower:
            yield f"{i}.borrower", f"borrower {borrower_id} differs from case {k}'s record of them"


def refuse(problems: Iterator[tuple[str, str]], shown: int = 3) -> None:
    """Raise a ``ValueError`` naming the fields (pydantic turns it into a 400 with the paths)."""
    found = list(problems)
    if found:
        listed = "; ".join(f"{path}: {why}" for path, why in found[:shown])
        more = f" (+{len(found) - shown} more)" if len(found) > shown else ""
        raise ValueError(listed + more)
