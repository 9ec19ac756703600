"""A bounded sample of a book's loans, the same whichever engine reads it.

The action-response models (and the recovery factors their value labels use) are fitted in one
process from whole loan histories. On a book of millions of loans that process would hold the
whole book and its features, so training fits them on at most ``training.policy_max_loans``
loans, every table cut to those loans. Which loans is decided by a hash of the loan id alone
(splitmix64, as the cross-fitting folds), not by file order or partitioning: ``--engine local``
cutting the tables it holds and ``--engine dask`` streaming the book piece by piece keep exactly
the same loans, and a loan kept at one share is kept at every larger one. A book with fewer loans
than the bound keeps every loan, so its fit is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.draws import splitmix64

#: The range of a 64-bit hash: a loan is kept when its hash falls below ``share`` of it.
_SCALE = 2.0**64


@dataclass(frozen=True)
class LoanSample:
    """The share of loans kept and the counts, for the bundle's metadata."""

    share: float
    loans_in_book: int

    @property
    def everything(self) -> bool:
        return self.share >= 1.0

    def describe(self, kept: int) -> dict[str, float | int]:
        return {"share": self.share, "loans_in_book": self.loans_in_book, "loans_kept": kept}


def loan_sample(loans_in_book: int, max_loans: int) -> LoanSample:
    """Keep every loan up to ``max_loans``, otherwise that many in expectation."""
    share = 1.0 if loans_in_book <= max_loans else max_loans / loans_in_book
    return LoanSample(share=share, loans_in_book=int(loans_in_book))


def kept(loan_id: np.ndarray, share: float) -> np.ndarray:
    """True for the loans a ``share`` keeps: the hash of the id below ``share`` of its range."""
    if share >= 1.0:
        return np.ones(len(loan_id), dtype=bool)
    threshold = np.uint64(min(int(share * _SCALE), 2**64 - 1))
    return splitmix64(np.asarray(loan_id).astype(np.uint64)) < threshold


def loans_where(
    tables: dict[str, pd.DataFrame], keep: Callable[[np.ndarray], np.ndarray]
) -> dict[str, pd.DataFrame]:
    """The tables' rows of the loans ``keep`` (loan ids -> mask) keeps, and the borrowers of those
    loans: the one way a book is cut by loan (a sample here, a fold in the backtest)."""
    out = {
        name: t[keep(t["loan_id"].to_numpy())] if "loan_id" in t.columns else t for name, t in tables.items()
    }
    if "borrowers" in out and "loans" in out:
        b = out["borrowers"]
        out["borrowers"] = b[b["borrower_id"].isin(out["loans"]["borrower_id"])]
    return out


def cut_to_sample(tables: dict[str, pd.DataFrame], share: float) -> dict[str, pd.DataFrame]:
    """The tables less every loan the share does not keep (and the borrowers left with no loan)."""
    if share >= 1.0:
        return tables
    return loans_where(tables, lambda loan_id: kept(loan_id, share))
