"""The request model of the service: the feature stage's ``CasePayload``, plus one transport rule.

The data contract stores date-times without a time zone (docs/interfaces.md). JSON clients can
still send ``...Z``, ``+08:00`` or a bare number (pydantic reads it as a Unix time in UTC); rather
than guess a conversion, the service rejects such a value with HTTP 400 naming the field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from pydantic import BaseModel, model_validator

from features.payload import CasePayload


def _aware(node: object, path: str) -> Iterator[str]:
    """Paths of time-zone-aware date-times anywhere in a model."""
    if isinstance(node, dt.datetime):
        if node.tzinfo is not None:
            yield path
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from _aware(getattr(node, name), f"{path}.{name}" if path else name)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _aware(item, f"{path}.{i}")


class ServedCase(CasePayload):
    """One case as the service accepts it (see ``features.payload.CasePayload``)."""

    @model_validator(mode="after")
    def _naive_date_times(self) -> ServedCase:
        bad = list(_aware(self, ""))
        if bad:
            raise ValueError(
                f"{', '.join(bad[:3])}: give a local date-time without a time zone or a number "
                "(e.g. 2025-06-30T00:00:00)"
            )
        return self
