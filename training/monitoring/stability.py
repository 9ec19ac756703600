"""Drift per cycle: PSI of every feature and both scores against the training sample, and a
characteristic analysis of the most shifted features.

PSI is the validation report's own (``training.drift``: training deciles, a bin for missing values,
the same stable / watch / shifted lines), computed per monitored cycle against a sample of the
champion's training cases. PSI says that a variable moved, not whether it matters; the
characteristic analysis says how much of the score's move a shifted feature explains: per bin of
the feature (the PSI's bins), the share of cases and the mean score in training and in the cycle,
and the score shift that bin contributes, ``(share_now − share_then) × mean score then``. Summed
over bins this is the move of the mean score that the change of the feature's mix alone predicts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.drift import bin_codes, psi_of_codes, verdict
from training.monitoring.data import SCORES, MonitorData

#: The score a characteristic analysis follows.
CHARACTERISTIC_SCORE = "p_roll_forward"


def psi_by_cycle(data: MonitorData) -> pd.DataFrame:
    """Long frame: cycle, variable, kind (feature or score), psi, verdict; largest first per cycle.

    Each variable's reference is binned once for all cycles (the PSI of ``training.drift`` on the
    same bins a per-cycle call would draw: the training sample's deciles and categories)."""
    cycle_of = data.cases["as_of"].to_numpy()
    masks = [cycle_of == np.datetime64(day) for day in data.cycles]
    rows = []
    for name in [*data.features, *SCORES]:  # loop over variables, then cycles; never cases
        ref, now, n = bin_codes(
            data.reference[name].reset_index(drop=True), data.cases[name].reset_index(drop=True)
        )
        rows += [(day, name, psi_of_codes(ref, now[m], n)) for day, m in zip(data.cycles, masks, strict=True)]
    out = pd.DataFrame(rows, columns=["cycle", "variable", "psi"])
    out = out.sort_values(["cycle", "psi"], ascending=[True, False], kind="stable", ignore_index=True)
    out["kind"] = np.where(out["variable"].isin(SCORES), "score", "feature")
    out["verdict"] = verdict(out["psi"])
    return out[["cycle", "variable", "kind", "psi", "verdict"]]


def characteristic_analysis(data: MonitorData, psi: pd.DataFrame, top: int) -> pd.DataFrame:
    """Per cycle, the ``top`` most shifted features bin by bin (see the module docstring)."""
    frames = []
    ref = data.reference
    ref_score = ref[CHARACTERISTIC_SCORE].to_numpy(dtype=float)
    for day in data.cycles:
        now = data.cases[data.cases["as_of"] == day]
        shifted = psi[(psi["cycle"] == day) & (psi["kind"] == "feature")].nlargest(top, "psi")
        for name in shifted["variable"]:  # a handful of features
            then_bin, now_bin, n = bin_codes(
                ref[name].reset_index(drop=True), now[name].reset_index(drop=True)
            )
            frames.append(
                _bins(
                    name, then_bin, now_bin, n, ref_score, now[CHARACTERISTIC_SCORE].to_numpy(float)
                ).assign(cycle=day)
            )
    if not frames:
        return pd.DataFrame(columns=["cycle", "feature", "bin", "share_train", "share_now", "shift"])
    return pd.concat(frames, ignore_index=True)


def _bins(name: str, then_bin, now_bin, n: int, then_score, now_score) -> pd.DataFrame:
    count_then = np.bincount(then_bin[then_bin >= 0], minlength=n)
    count_now = np.bincount(now_bin[now_bin >= 0], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_then = (
            np.bincount(then_bin[then_bin >= 0], weights=then_score[then_bin >= 0], minlength=n) / count_then
        )
        mean_now = (
            np.bincount(now_bin[now_bin >= 0], weights=now_score[now_bin >= 0], minlength=n) / count_now
        )
    share_then = count_then / max(count_then.sum(), 1)
    share_now = count_now / max(count_now.sum(), 1)
    frame = pd.DataFrame(
        {
            "feature": name,
            "bin": np.arange(n),
            "share_train": share_then,
            "share_now": share_now,
            "mean_score_train": mean_then,
            "mean_score_now": mean_now,
            "shift": (share_now - share_then) * np.nan_to_num(mean_then),
        }
    )
    return frame[(count_then > 0) | (count_now > 0)]


def score_shift_explained(ca: pd.DataFrame) -> pd.DataFrame:
    """Per cycle and feature: the mean-score shift its mix change predicts (sum of the bins)."""
    if ca.empty:
        return pd.DataFrame(columns=["cycle", "feature", "shift"])
    return ca.groupby(["cycle", "feature"], as_index=False, sort=False)["shift"].sum()
