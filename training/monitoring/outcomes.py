"""Outcomes against predictions: what the champion said would happen, against what did.

Per monitored cycle with observed outcomes, per target: the realised rate against the mean
predicted probability, by score decile, by bucket and by product (where a miscalibration hides);
AUC, Brier score, calibration slope and observed-to-expected ratio, each with a bootstrap interval
(``training.monitoring.intervals``); and the value the policy expected of the actions it took
against the value they realised, on the same value definition (``rollcure.core.value`` with the
policy's look-ahead). Deciles are the training sample's score deciles, so a cycle whose scores all
moved up shows it as a fuller top decile, not as a relabelled one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rollcure.config.model import TARGETS
from rollcure.config.monitoring import MonitoringConfig
from training.monitoring.data import MonitorData
from training.monitoring.intervals import (
    auc_interval,
    brier_interval,
    mean_interval,
    ratio_interval,
    slope_interval,
)

_DECILES = 10


def _labelled(data: MonitorData, target: str) -> pd.DataFrame:
    return data.cases[data.cases[target].notna()]


def metrics_by_cycle(data: MonitorData, cfg: MonitoringConfig, seed: int) -> pd.DataFrame:
    """One row per cycle x target: cases, rates, AUC, Brier, calibration slope, O/E with intervals."""
    rows = []
    for k, day in enumerate(data.cycles):  # loop over cycles and the two targets
        for t in TARGETS:
            sub = data.cases[(data.cases["as_of"] == day) & data.cases[t].notna()]
            y, p = sub[t].to_numpy(dtype=float), sub[f"p_{t}"].to_numpy(dtype=float)
            s = seed + 7919 * k + (0 if t == TARGETS[0] else 1)
            args = (cfg.n_boot, cfg.level, s)
            rows.append(
                {
                    "cycle": day,
                    "target": t,
                    "cases": len(sub),
                    "observed_rate": float(y.mean()) if len(y) else np.nan,
                    "predicted_rate": float(p.mean()) if len(p) else np.nan,
                    "baseline_auc": data.baseline_auc[t],
                    **auc_interval(y, p, *args).as_dict("auc"),
                    **brier_interval(y, p, *args).as_dict("brier"),
                    **slope_interval(y, p, *args).as_dict("calibration_slope"),
                    **ratio_interval(y, p, *args).as_dict("observed_expected"),
                }
            )
    return pd.DataFrame(rows)


def _deciles(data: MonitorData, target: str) -> np.ndarray:
    ref = data.reference[f"p_{target}"].to_numpy(dtype=float)
    return np.unique(np.quantile(ref, np.linspace(0, 1, _DECILES + 1)[1:-1]))


def rates_by_group(data: MonitorData) -> pd.DataFrame:
    """Realised vs predicted rate per cycle x target x grouping (score decile, bucket, product)."""
    frames = []
    for t in TARGETS:
        sub = _labelled(data, t)
        decile = np.searchsorted(_deciles(data, t), sub[f"p_{t}"].to_numpy(), side="right") + 1
        groups = {
            "score_decile": decile.astype(str),
            "bucket": sub["dpd_bucket"].astype(str).to_numpy(),
            "product": sub["loan_product"].astype(str).to_numpy(),
        }
        for by, values in groups.items():
            frame = pd.DataFrame(
                {
                    "cycle": sub["as_of"].to_numpy(),
                    "group": values,
                    "y": sub[t].to_numpy(),
                    "p": sub[f"p_{t}"],
                }
            )
            agg = frame.groupby(["cycle", "group"], as_index=False).agg(
                cases=("y", "size"), observed_rate=("y", "mean"), predicted_rate=("p", "mean")
            )
            frames.append(agg.assign(target=t, by=by))
    out = pd.concat(frames, ignore_index=True)
    return out[["cycle", "target", "by", "group", "cases", "observed_rate", "predicted_rate"]]


def value_by_cycle(data: MonitorData, cfg: MonitoringConfig, seed: int) -> pd.DataFrame:
    """Per cycle: the policy's expected value of the decisions the log holds against the value the
    taken actions realised (cases whose look-ahead has passed), per case, with intervals."""
    rows = []
    c = data.cases
    for k, day in enumerate(data.cycles):
        sub = c[(c["as_of"] == day) & c["logged"] & c["realised_value"].notna()]
        args = (cfg.n_boot, cfg.level, seed + 104729 * k)
        rows.append(
            {
                "cycle": day,
                "cases": len(sub),
                **mean_interval(sub["expected_value"].to_numpy(dtype=float), *args).as_dict("expected_value"),
                **mean_interval(sub["realised_value"].to_numpy(dtype=float), *args).as_dict("realised_value"),
            }
        )
    return pd.DataFrame(rows)
