"""The feature specification a bundle carries: what each model input is, in order.

Copied from the feature registry at training time, so that a bundle explains itself (names,
groups, descriptions, monotone directions) even if the registry later changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NotRequired, Protocol, TypedDict

GROUPS: tuple[str, ...] = ("borrower", "loan", "repayment", "contact", "action")


@dataclass(frozen=True)
class FeatureSpec:
    """One model input: registry name, group, dtype, readable description, roll-forward direction."""

    name: str
    group: str
    dtype: str
    description: str
    monotone: int = 0

    def to_dict(self) -> FeatureSpecDict:
        return FeatureSpecDict(
            name=self.name,
            group=self.group,
            dtype=self.dtype,
            description=self.description,
            monotone=self.monotone,
        )


class FeatureSpecDict(TypedDict):
    """A ``FeatureSpec`` as JSON (the bundle manifest); ``monotone`` may be absent (0)."""

    name: str
    group: str
    dtype: str
    description: str
    monotone: NotRequired[int]


class RegistryEntry(Protocol):
    """What a spec is copied from: a feature registry entry (``features.registry.Feature``)."""

    @property
    def name(self) -> str: ...
    @property
    def group(self) -> str: ...
    @property
    def dtype(self) -> str: ...
    @property
    def description(self) -> str: ...


def spec_from_registry(features: Iterable[RegistryEntry]) -> list[FeatureSpec]:
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


def spec_from_dicts(rows: Iterable[FeatureSpecDict]) -> list[FeatureSpec]:
    return [FeatureSpec(**row) for row in rows]
