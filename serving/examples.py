"""A sample case for the OpenAPI document and the demo: a consumer loan two months overdue.

Plain data (no I/O); dates are fixed so the example is the same in every build of the docs.
"""

from __future__ import annotations

_MONTH_ENDS = (
    "2024-07-31", "2024-08-31", "2024-09-30", "2024-10-31", "2024-11-30", "2024-12-31",
    "2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30", "2025-05-31", "2025-06-30",
)  # fmt: skip
_DPD = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30, 60)
_PAID = (210.0,) * 10 + (0.0, 0.0)

EXAMPLE_CASE: dict = {
    "as_of": "2025-06-30T00:00:00",
    "borrower": {
        "borrower_id": 501,
        "age": 38,
        "monthly_income": 3200.0,
        "employment": "salaried",
        "region": "east",
        "bureau_score": 612,
        "other_debt": 450.0,
        "dependants": 2,
        "phone_verified": True,
        "address_verified": True,
    },
    "loan": {
        "loan_id": 1001,
        "product": "consumer",
        "origination_date": "2023-09-15T00:00:00",
        "principal": 8000.0,
        "annual_rate": 0.16,
        "term_months": 48,
        "instalment": 210.0,
        "collateral_type": "none",
        "collateral_value": 0.0,
        "has_guarantor": False,
    },
    "cycles": [
        {
            "cycle_date": f"{d}T00:00:00",
            "due_amount": 210.0 * (1 + (dpd // 30)),
            "paid_amount": paid,
            "balance": 8000.0 - 150.0 * min(i, 10),
            "arrears": 210.0 * (dpd // 30),
            "dpd": dpd,
            "missed_instalments": dpd // 30,
        }
        for i, (d, dpd, paid) in enumerate(zip(_MONTH_ENDS, _DPD, _PAID, strict=True))
    ],
    "contacts": [
        {"ts": "2025-05-05T10:30:00", "channel": "call", "party": "debtor", "outcome": "no_answer"},
        {
            "ts": "2025-05-12T16:00:00",
            "channel": "call",
            "party": "debtor",
            "outcome": "promise_to_pay",
            "ptp_amount": 210.0,
            "ptp_date": "2025-05-25T00:00:00",
        },
        {"ts": "2025-06-10T11:00:00", "channel": "sms", "party": "debtor", "outcome": "no_answer"},
    ],
    "actions": [{"decided_at": "2025-05-31T00:00:00", "action": "reminder", "cost": 2.0, "propensity": 0.8}],
}
