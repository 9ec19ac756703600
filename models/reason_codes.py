"""Reason codes: stable codes per feature group and direction, and readable sentences.

A code never changes meaning between model versions (``RF-CONTACT-UP`` is always "something in
the contact history raised roll-forward risk"), so downstream systems and auditors can count
them; the sentence adds the feature and its value for the person reading one case, e.g.
"3 broken promises to pay in the last 30 days raised roll-forward risk (+6.2 pp)".
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pandas as pd

from models.feature_spec import GROUPS, FeatureSpec

_TARGET_CODE = {"roll_forward": "RF", "cure": "CU"}
_TARGET_NOUN = {"roll_forward": "roll-forward risk", "cure": "the chance of cure"}
_VERB = {"up": "raised", "down": "lowered"}


def reason_code_table() -> pd.DataFrame:
    """One row per target × feature group × direction: code, target, group, direction, text."""
    rows = [
        {
            "code": f"{_TARGET_CODE[t]}-{g.upper()}-{d.upper()}",
            "target": t,
            "group": g,
            "direction": d,
            "text": f"{g} information {_VERB[d]} {_TARGET_NOUN[t]}",
        }
        for t in _TARGET_CODE
        for g in GROUPS
        for d in ("up", "down")
    ]
    return pd.DataFrame(rows)


def reason_code(target: str, group: str, direction: str) -> str:
    return f"{_TARGET_CODE[target]}-{group.upper()}-{direction.upper()}"


#: Hand-written sentence starts for the features a collector reads most; ``{}`` is the value.
#: Any other feature reads "<description>: <value>" (or "<value> <description>" for counts).
PHRASES: dict[str, str] = {
    "dpd": "{} days past due",
    "bucket": "delinquency bucket {}",
    "missed_instalments": "{} missed instalments",
    "consecutive_missed": "{} consecutive cycles with nothing paid",
    "max_dpd_3": "a worst DPD of {} over the last 3 cycles",
    "max_dpd_6": "a worst DPD of {} over the last 6 cycles",
    "max_dpd_12": "a worst DPD of {} over the last 12 cycles",
    "delinquent_cycles_6": "{} delinquent cycles in the last 6",
    "delinquent_cycles_12": "{} delinquent cycles in the last 12",
    "paid_cycles_6": "{} cycles with a payment in the last 6",
    "times_cured_12": "{} cures in the last 12 cycles",
    "paid_to_due_1": "paying {} of the amount due this cycle",
    "paid_to_due_3": "paying {} of the amount due over 3 cycles",
    "paid_to_due_6": "paying {} of the amount due over 6 cycles",
    "ptp_broken_90d": "{} broken promises to pay in the last 90 days",
    "ptp_kept_90d": "{} kept promises to pay in the last 90 days",
    "ptp_made_90d": "{} promises to pay in the last 90 days",
    "rpc_30d": "{} right-party contacts in the last 30 days",
    "refusals_90d": "{} refusals to pay in the last 90 days",
    "no_answers_30d": "{} unanswered contact attempts in the last 30 days",
    "wrong_numbers_90d": "{} wrong numbers in the last 90 days",
    "bureau_score": "a bureau score of {}",
    "monthly_income": "a monthly income of {}",
    "debt_to_income": "a debt-to-income ratio of {}",
    "instalment_to_income": "an instalment-to-income ratio of {}",
    "arrears": "arrears of {}",
    "arrears_to_instalment": "arrears of {} instalments",
    "months_on_book": "{} months on book",
    "loan_to_value": "a loan-to-value of {}",
    "age": "age {}",
    "dependants": "{} dependants",
    "term_months": "a {}-month term",
    "remaining_term": "{} months left to run",
    "bucket_index": "bucket position {} (0 = M0 … 7 = M7+)",
    "balance": "a balance of {}",
    "balance_to_principal": "{} of the principal still outstanding",
    "principal": "a principal of {}",
    "instalment": "an instalment of {}",
    "annual_rate": "an annual rate of {}",
    "other_debt": "other monthly debt service of {}",
    "paid_amount": "a payment of {} this cycle",
    "collateral_value": "collateral worth {}",
    "rpc_rate_90d": "reaching the right party on {} of attempts (90 days)",
    "ptp_kept_ratio_90d": "keeping {} of resolved promises (90 days)",
    "contact_attempts_7d": "{} contact attempts in the last 7 days",
    "contact_attempts_30d": "{} contact attempts in the last 30 days",
    "contact_attempts_90d": "{} contact attempts in the last 90 days",
    "sms_30d": "{} SMS in the last 30 days",
    "days_since_last_contact": "{} days since the last contact attempt",
    "days_since_last_rpc": "{} days since the last right-party contact",
    "days_since_last_action": "{} days since the last collection action",
    "cycles_since_full_payment": "{} cycles since the last full payment",
    "cycles_observed": "{} cycles of history",
    "actions_365d": "{} collection actions in the last year",
    "action_cost_90d": "{} spent on collection actions in the last 90 days",
}
#: Shown as percentages.
_PERCENT_FEATURES = frozenset(
    {
        "paid_to_due_1",
        "paid_to_due_3",
        "paid_to_due_6",
        "rpc_rate_90d",
        "ptp_kept_ratio_90d",
        "balance_to_principal",
        "annual_rate",
        "debt_to_income",
        "instalment_to_income",
    }
)


@functools.lru_cache(maxsize=512)
def _phrase(description: str) -> str:
    """The description as a noun phrase: first clause, no parenthetical notes, no full stop
    (cached: the regex per reason formatted was a visible part of a single-case request)."""
    d = re.sub(r"\s+\([^)]*\)", "", description.split(";")[0]).strip().rstrip(".")
    return d[:1].lower() + d[1:] if d[:2] != d[:2].upper() else d


def _array(values: object) -> object:
    """A Series or array as the numpy or extension array behind it."""
    if isinstance(values, pd.Series):
        values = values.array
    if isinstance(values, pd.arrays.NumpyExtensionArray):
        return values.to_numpy()
    return values


def _floats(values: object) -> np.ndarray:
    if isinstance(values, pd.api.extensions.ExtensionArray):
        return values.to_numpy(dtype=float, na_value=np.nan)
    return np.asarray(values, dtype=float)


def _numbers(x: np.ndarray, percent: bool) -> list[str]:
    """Whole numbers without decimals, others with two; thousands separators; optional percent.

    Formats Python floats in a list comprehension: ``Series.map`` is the same per-value loop with
    pandas overhead on top.
    """
    x = x * (100 if percent else 1)
    rounded = np.round(x)
    whole = (rounded == x) | (percent & (np.abs(x) >= 1))
    unit = "%" if percent else ""
    return [
        f"{r:,.0f}{unit}" if w else f"{v:,.2f}{unit}"
        for v, r, w in zip(x.tolist(), rounded.tolist(), whole.tolist(), strict=True)
    ]


def _shown(values: object, spec: FeatureSpec, missing: np.ndarray) -> list[str]:
    """The value itself as text (anything for missing values: they are replaced)."""
    if spec.dtype in ("int", "float"):
        x = _floats(values)
        if spec.name.startswith("days_since"):  # timestamps give fractions of a day
            x = np.round(x)
        return _numbers(x, spec.name in _PERCENT_FEATURES)
    objects = np.asarray(values, dtype=object)
    if spec.dtype == "bool":
        return [
            "no" if m or not v else "yes" for v, m in zip(objects.tolist(), missing.tolist(), strict=True)
        ]
    return [str(v) for v in objects.tolist()]


def format_values(values: pd.Series | np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """Each value as the start of a sentence about it ("3 broken promises…", "employment: retired")."""
    phrase = _phrase(spec.description)
    values = _array(values)
    missing = np.asarray(pd.isna(values), dtype=bool)
    template = PHRASES.get(spec.name)
    prefix, suffix = template.split("{}") if template is not None else (f"{phrase}: ", "")
    absent = f"{phrase}: missing"
    shown = _shown(values, spec, missing)
    out = np.empty(len(shown), dtype=object)
    out[:] = [absent if m else f"{prefix}{v}{suffix}" for v, m in zip(shown, missing.tolist(), strict=True)]
    return out


def sentences(value_text: np.ndarray, target: str, direction: np.ndarray, pp: np.ndarray) -> np.ndarray:
    """Join value text, verb and probability points (string formatting: a comprehension per reason)."""
    middle = {d: f" {verb} {_TARGET_NOUN[target]} (" for d, verb in _VERB.items()}
    out = np.empty(len(value_text), dtype=object)
    out[:] = [
        f"{v}{middle['up' if d == 'up' else 'down']}{p:+.1f} pp)"
        for v, d, p in zip(
            np.asarray(value_text, dtype=object).tolist(),
            np.asarray(direction).tolist(),
            np.asarray(pp, dtype=float).tolist(),
            strict=True,
        )
    ]
    return out
