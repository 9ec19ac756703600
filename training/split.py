"""Out-of-time split on case cycle dates: train cycles, then validation, then OOT.

Nothing fitted (encoders, calibrators, baselines) may see a cycle after its own part of the split,
so the split is on the case's cycle date, never random. Short panels (the UCI file has five
transitions) still get one OOT cycle: the OOT count shrinks before the training part does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rollcure.config.training import TrainingConfig
from rollcure.core.errors import InputError

PARTS: tuple[str, ...] = ("train", "valid", "oot")


@dataclass(frozen=True)
class TimeSplit:
    """The cycle dates of each part, oldest first."""

    train: tuple[pd.Timestamp, ...]
    valid: tuple[pd.Timestamp, ...]
    oot: tuple[pd.Timestamp, ...]

    def part_of(self, as_of: pd.Series) -> np.ndarray:
        """'train' / 'valid' / 'oot' per case, or '' for cycles left out of the training window."""
        dates = pd.to_datetime(pd.Series(as_of)).to_numpy()
        out = np.full(len(dates), "", dtype=object)
        for name in PARTS:
            out[np.isin(dates, np.array(getattr(self, name), dtype="datetime64[ns]"))] = name
        return out

    def describe(self) -> dict[str, list[str]]:
        return {name: [d.strftime("%Y-%m-%d") for d in getattr(self, name)] for name in PARTS}

    @classmethod
    def from_description(cls, described: dict[str, list[str]]) -> TimeSplit:
        """Rebuild the split a bundle was trained with (stored in its metadata)."""
        return cls(*(tuple(pd.Timestamp(d) for d in described[name]) for name in PARTS))


def time_split(as_of: pd.Series, cfg: TrainingConfig) -> TimeSplit:
    """Assign whole cycles to train / valid / OOT by date."""
    cycles = sorted(pd.to_datetime(pd.Series(as_of)).dropna().unique())
    n = len(cycles)
    need = 1 + cfg.valid_cycles + 1
    if n < need:
        raise InputError(
            f"cases: {n} labelled case cycle(s); the time split needs at least {need} "
            f"(1 train + {cfg.valid_cycles} validation + 1 out-of-time)"
        )
    # the OOT part gives way first (down to one cycle), so training keeps min_train_cycles if it can
    n_oot = max(1, min(cfg.oot_cycles, n - cfg.valid_cycles - cfg.min_train_cycles))
    oot = cycles[n - n_oot :]
    valid = cycles[n - n_oot - cfg.valid_cycles : n - n_oot]
    train = cycles[: n - n_oot - cfg.valid_cycles]
    if cfg.max_train_cycles is not None:
        train = train[-cfg.max_train_cycles :]
    as_ts = lambda xs: tuple(pd.Timestamp(x) for x in xs)  # noqa: E731
    return TimeSplit(as_ts(train), as_ts(valid), as_ts(oot))
