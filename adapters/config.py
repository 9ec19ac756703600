"""Settings of the UCI importer: the conventions used where the file is silent.

The UCI credit-card file has no minimum payment, origination date, rate or term. The importer
still has to fill the raw tables' columns, so each convention is a named, documented field here
rather than a number buried in the transform, and a user can change it on the command line.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class UciImportConfig(BaseModel):
    """Conventions for the fields the UCI file does not carry."""

    model_config = ConfigDict(extra="forbid")

    min_payment_rate: float = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        description="Nominal minimum payment as a share of the credit limit. It sizes `instalment` and "
        "the arrears of a k-months-late account (k instalments), so amounts stay consistent with DPD; "
        "it adds no information the status codes do not already carry.",
    )
    origination_date: date = Field(
        default=date(2005, 3, 31),
        description="Stand-in origination date: the accounts were open before the panel starts "
        "(April 2005) but the file does not say when, so every loan gets the same date.",
    )
