"""The feature registry: every model input declared once, with its group, dtype and meaning.

Training, serving, the data dictionary (`rollcure features docs`) and the policy's eligibility rules
all read this list, so a feature's name and dtype cannot drift between them. Categorical features
carry their fixed categories from `rollcure.core.domain`, so a single-case payload encodes exactly like a
training batch.

``monotone`` is declared only where the direction holds for every case. Delinquency depth (DPD,
bucket, arrears, max DPD, delinquent cycles) is left at 0 on purpose: roll-forward means "a worse
bucket next cycle", and a case already in M7+ cannot get worse, so roll-forward risk rises with
depth from M1 to M6 and then drops to zero; a global monotone constraint would force the model
to predict roll-forward where it is impossible. (Cure falls with depth throughout; a model may set
its own override for that target.)

Dtypes: ``int`` and ``bool`` are used only where the value is always known; anything that can be
missing (every contact and action feature, since real books often keep no such history) is
``float`` with NaN for "unknown", never an invented zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rollcure.core.catalogue import ACTIONS, CATALOGUE
from rollcure.core.domain import (
    BUCKETS,
    CHANNELS,
    COLLATERAL_TYPES,
    EMPLOYMENTS,
    OUTCOMES,
    PRODUCTS,
    REGIONS,
    TIERS,
)

GROUPS: tuple[str, ...] = ("borrower", "loan", "repayment", "contact", "action")
DTYPES: tuple[str, ...] = ("float", "int", "bool", "category")

#: Longest window over cycle rows any feature reads (a payload carries at least this many cycles).
CYCLE_WINDOW = 12
#: Window of the status-code counts (cycles.status_code, optional: NaN for books without it).
STATUS_COUNT_WINDOW = 6
#: Contacts with ts in (as_of - CONTACT_WINDOW_DAYS, as_of] feed the contact features.
CONTACT_WINDOW_DAYS = 90
#: Actions with decided_at in [as_of - ACTION_WINDOW_DAYS, as_of) feed the action features.
ACTION_WINDOW_DAYS = 365


@dataclass(frozen=True)
class Feature:
    """One model input. ``monotone`` is the domain direction of its effect on roll-forward risk."""

    name: str
    group: str
    dtype: str
    description: str
    monotone: int = 0
    categories: tuple[str, ...] | None = None

    def pandas_dtype(self) -> str | pd.CategoricalDtype:
        """The exact pandas dtype of the built column."""
        if self.dtype == "category":
            return pd.CategoricalDtype(list(self.categories or ()), ordered=False)
        return {"float": "float64", "int": "int64", "bool": "bool"}[self.dtype]


def _f(name: str, group: str, dtype: str, monotone: int, description: str, categories=None) -> Feature:
    return Feature(name, group, dtype, description, monotone, categories)


_B, _L, _R, _C, _A = GROUPS

FEATURES: list[Feature] = [
    # borrower
    _f("age", _B, "int", 0, "Borrower age in years."),
    _f("monthly_income", _B, "float", -1, "Declared monthly income."),
    _f("employment", _B, "category", 0, "Employment status.", EMPLOYMENTS),
    _f("region", _B, "category", 0, "Region of residence.", REGIONS),
    _f("bureau_score", _B, "int", -1, "Credit bureau score (300-850)."),
    _f("other_debt", _B, "float", 0, "Monthly debt service on other credit."),
    _f("debt_to_income", _B, "float", 1, "Other monthly debt service / monthly income (NaN if no income)."),
    _f("dependants", _B, "int", 0, "Number of dependants."),
    _f("phone_verified", _B, "bool", 0, "Phone number verified."),
    _f("address_verified", _B, "bool", 0, "Address verified."),
    # loan
    _f("product", _L, "category", 0, "Loan product.", PRODUCTS),
    _f("principal", _L, "float", 0, "Original principal."),
    _f("annual_rate", _L, "float", 0, "Annual interest rate."),
    _f("term_months", _L, "int", 0, "Contractual term in months (0 for a revolving line)."),
    _f("instalment", _L, "float", 0, "Scheduled monthly instalment."),
    _f("months_on_book", _L, "int", 0, "Calendar months from origination to as_of."),
    _f(
        "remaining_term",
        _L,
        "float",
        0,
        "Contractual months left at as_of (0 once past maturity; NaN for a revolving line).",
    ),
    _f("instalment_to_income", _L, "float", 1, "Instalment / monthly income (NaN if no income)."),
    _f("collateral_type", _L, "category", 0, "Collateral pledged.", COLLATERAL_TYPES),
    _f("collateral_value", _L, "float", 0, "Appraised collateral value (0 when none)."),
    _f("loan_to_value", _L, "float", 1, "Balance at as_of / collateral value (NaN without collateral)."),
    _f("has_guarantor", _L, "bool", 0, "A guarantor is on the loan."),
    _f("disputed_now", _L, "bool", 0, "Dispute flag active at as_of (flag_date <= as_of)."),
    _f("deceased_now", _L, "bool", 0, "Deceased flag active at as_of (flag_date <= as_of)."),
    _f("bankrupt_now", _L, "bool", 0, "Bankruptcy flag active at as_of (flag_date <= as_of)."),
    _f("fraud_suspected_now", _L, "bool", 0, "Fraud-suspected flag active at as_of (flag_date <= as_of)."),
    _f("any_flag_now", _L, "bool", 0, "Any blocking flag active at as_of."),
    _f("balance_to_principal", _L, "float", 0, "Balance at as_of / original principal."),
    _f(
        "restructured_before",
        _L,
        "float",
        0,
        "1 if a restructuring was decided in the action look-back window before as_of, else 0; "
        "NaN without action history.",
    ),
    # repayment
    _f("dpd", _R, "int", 0, "Days past due at as_of."),
    _f("bucket", _R, "category", 0, "Delinquency bucket at as_of.", BUCKETS),
    _f("bucket_index", _R, "int", 0, "Bucket position 0 (M0) .. 7 (M7+) at as_of."),
    _f("tier_by_dpd", _R, "category", 0, "Five-tier class by days past due.", TIERS),
    _f("tier_by_missed", _R, "category", 0, "Five-tier class by missed instalments.", TIERS),
    _f("missed_instalments", _R, "int", 0, "Missed instalments outstanding at as_of."),
    _f("balance", _R, "float", 0, "Outstanding balance at as_of."),
    _f("arrears", _R, "float", 0, "Overdue amount at as_of."),
    _f("due_amount", _R, "float", 0, "Amount due in the as_of cycle (instalment + arrears brought forward)."),
    _f("paid_amount", _R, "float", -1, "Amount paid in the as_of cycle."),
    _f("max_dpd_3", _R, "int", 0, "Maximum DPD over the last 3 cycles."),
    _f("max_dpd_6", _R, "int", 0, "Maximum DPD over the last 6 cycles."),
    _f("max_dpd_12", _R, "int", 0, "Maximum DPD over the last 12 cycles."),
    _f("delinquent_cycles_6", _R, "int", 0, "Cycles with DPD > 0 among the last 6."),
    _f("delinquent_cycles_12", _R, "int", 0, "Cycles with DPD > 0 among the last 12."),
    _f("times_cured_12", _R, "int", 0, "Returns to DPD 0 from DPD > 0 within the last 12 cycles."),
    _f("consecutive_missed", _R, "int", 1, "Consecutive cycles up to as_of with nothing paid while due."),
    _f("paid_cycles_6", _R, "int", -1, "Cycles with a payment among the last 6."),
    _f("paid_to_due_1", _R, "float", -1, "Paid / due in the as_of cycle (NaN if nothing due)."),
    _f("paid_to_due_3", _R, "float", -1, "Paid / due over the last 3 cycles."),
    _f("paid_to_due_6", _R, "float", -1, "Paid / due over the last 6 cycles."),
    _f(
        "cycles_since_full_payment",
        _R,
        "float",
        1,
        "Cycles since the last payment covering min(due, instalment); NaN if none in the last 12.",
    ),
    _f("arrears_to_instalment", _R, "float", 0, "Arrears / instalment."),
    _f("balance_trend_3", _R, "float", 0, "Balance / balance 3 cycles earlier - 1 (NaN if not observed)."),
    _f("dpd_change_1", _R, "float", 1, "DPD change since the previous cycle (NaN on the first cycle)."),
    _f("cycles_observed", _R, "int", 0, "Cycles of history seen, up to 12."),
    # the lender's own status code (cycles.status_code); NaN when the book records none
    _f(
        "paid_in_full_cycles_6",
        _R,
        "float",
        0,
        "Cycles paid in full (status code -1) among the last 6; NaN without status codes.",
    ),
    _f(
        "no_consumption_cycles_6",
        _R,
        "float",
        0,
        "Cycles with no consumption (status code -2) among the last 6; NaN without status codes.",
    ),
    _f(
        "revolving_cycles_6",
        _R,
        "float",
        0,
        "Cycles with revolving credit used (status code 0) among the last 6; NaN without status codes.",
    ),
    # contact: ts in (as_of - window, as_of]; NaN when the book keeps no contact history
    _f("contact_attempts_7d", _C, "float", 0, "Contact attempts in the last 7 days."),
    _f("contact_attempts_30d", _C, "float", 0, "Contact attempts in the last 30 days."),
    _f("contact_attempts_90d", _C, "float", 0, "Contact attempts in the contact look-back window."),
    _f("call_attempts_7d", _C, "float", 0, "Call attempts in the last 7 days (contact-frequency caps)."),
    _f("rpc_7d", _C, "float", 0, "Right-party contacts in the last 7 days."),
    _f("rpc_30d", _C, "float", 0, "Right-party contacts in the last 30 days."),
    _f("rpc_rate_90d", _C, "float", -1, "Right-party contacts / attempts in the look-back window."),
    _f("ptp_made_90d", _C, "float", 0, "Promises to pay made in the look-back window."),
    _f("ptp_kept_90d", _C, "float", -1, "Promises made in the window, due by as_of and kept."),
    _f("ptp_broken_90d", _C, "float", 1, "Promises made in the window, due by as_of and broken."),
    _f("ptp_kept_ratio_90d", _C, "float", -1, "Kept / (kept + broken) promises; NaN if none resolved."),
    _f("open_ptp", _C, "float", 0, "1 if a promise is open at as_of (ptp_date >= as_of, not yet resolved)."),
    _f("open_ptp_amount", _C, "float", 0, "Amount of the promises open at as_of."),
    _f(
        "days_since_last_rpc",
        _C,
        "float",
        0,
        "Days since the last right-party contact (NaN if none in window).",
    ),
    _f(
        "days_since_last_contact",
        _C,
        "float",
        0,
        "Days since the last contact attempt (NaN if none in window).",
    ),
    _f("last_contact_outcome", _C, "category", 0, "Outcome of the last contact in the window.", OUTCOMES),
    _f("last_contact_channel", _C, "category", 0, "Channel of the last contact in the window.", CHANNELS),
    _f("disputes_90d", _C, "float", 0, "Contacts ending in a dispute in the window."),
    _f("refusals_90d", _C, "float", 1, "Contacts ending in a refusal in the window."),
    _f("wrong_numbers_90d", _C, "float", 1, "Contacts reaching a wrong number in the window."),
    _f("no_answers_30d", _C, "float", 1, "Unanswered contacts in the last 30 days."),
    _f("visits_90d", _C, "float", 0, "Field-visit contacts in the window."),
    _f("letters_90d", _C, "float", 0, "Letters in the window."),
    _f("sms_30d", _C, "float", 0, "SMS in the last 30 days."),
    _f(
        "third_party_contacts_30d",
        _C,
        "float",
        0,
        "Contacts with family, work or third parties, last 30 days.",
    ),
    # action: decided_at in [as_of - window, as_of); the action decided at as_of is the treatment
    _f("last_action", _A, "category", 0, "Last action decided before as_of in the window.", ACTIONS),
    _f("days_since_last_action", _A, "float", 0, "Days since the last action decided before as_of."),
    _f("days_since_last_field_visit", _A, "float", 0, "Days since the last field visit (NaN if none)."),
    *(
        _f(f"actions_{a.name}_90d", _A, "float", 0, f"{a.plural.capitalize()} decided in the last 90 days.")
        for a in CATALOGUE.actions[1:]  # every action but 'none'
    ),
    _f("action_cost_90d", _A, "float", 0, "Cost of the actions decided in the last 90 days."),
    _f("actions_365d", _A, "float", 0, "Actions other than 'none' decided in the action look-back window."),
    _f(
        "months_since_last_restructuring",
        _A,
        "float",
        0,
        "Calendar months since the last restructuring (NaN if none in the window).",
    ),
    _f(
        "under_restructuring",
        _A,
        "float",
        0,
        "1 if a restructuring was decided within restructuring_active_days before as_of.",
    ),
    _f("outsourced_before", _A, "float", 0, "1 if outsourcing was decided in the action look-back window."),
    _f("litigation_before", _A, "float", 0, "1 if litigation was decided in the action look-back window."),
]

#: pandas dtype of every feature column, built once (CategoricalDtype construction is not free).
PANDAS_DTYPES: dict[str, str | pd.CategoricalDtype] = {f.name: f.pandas_dtype() for f in FEATURES}
FEATURE_NAMES: list[str] = [f.name for f in FEATURES]
FEATURES_BY_NAME: dict[str, Feature] = {f.name: f for f in FEATURES}


def features_in(group: str) -> list[Feature]:
    """Registry entries of one group, in registry order."""
    return [f for f in FEATURES if f.group == group]
