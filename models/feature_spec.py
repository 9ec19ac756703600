"""The feature specification a bundle carries: what each model input is, in order.

Copied from the feature registry at training time, so that a bundle explains itself (names,
groups, descriptions, monotone directions) even if the registry later changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

GROUPS: tuple[str, ...] = ("borrower", "loan", "repayment", "contact", "action")


@dataclass(frozen=True)
class FeatureSpec:
    """One model input: registry name, group, dtype, readable description, roll-forward direction."""

    name: str
    group: str
    dtype: str
    description: str
    monotone: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


def spec_from_registry(features: Iterable[object]) -> list[FeatureSpec]:
    """Snapshot registry entries (anything with name, group, dtype, description, monotone)."""
    return [
        FeatureSpec(
            name=f.name,
            group=f.group,
            dtype=f.dtype,
            description=f.description,
            monotone=int(getattr(f, "monotone", 0) or 0),
        )
        for f in features
    ]


def spec_from_dicts(rows: Iterable[dict]) -> list[FeatureSpec]:
    return [FeatureSpec(**row) for row in rows]
