"""Alerts: the monitoring statistics that cross a configured threshold, in words a pager can carry.

Each alert has a name a scheduler can route on, the cycle it concerns and one sentence with the
figure and the threshold. The outcome alerts (AUC drop, calibration slope, observed-to-expected)
fire only when the statistic's whole bootstrap interval is past the threshold and the cycle has
``min_cases`` labelled cases: a monitor that pages on noise is soon ignored. The PSI alert reads the
scores (the population stability index of credit scoring); the features' PSI is shown with its
verdict and explained by the characteristic analysis but pages only when ``feature_psi_alert`` is
set, because on a collections book several features move for reasons that are no drift: the days
since the last action follow the length of the calendar month, the action-history features follow
the policy that writes the history (the champion replaced the logging policy), and the history
counts were truncated at the start of the training window (docs/monitoring.md has the figures).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rollcure.config.monitoring import MonitoringConfig
from training.monitoring.intervals import Interval

ALERTS: tuple[str, ...] = (
    "psi",
    "feature_psi",
    "auc_drop",
    "calibration_slope",
    "calibration_in_the_large",
    "arm_difference",
)


@dataclass(frozen=True)
class Alert:
    name: str
    cycle: str
    message: str

    def line(self) -> str:
        return f"ALERT {self.name} {self.cycle}: {self.message}"


def _day(cycle: object) -> str:
    return str(pd.Timestamp(cycle).date())


def _ci(row: pd.Series, name: str, digits: int = 2) -> str:
    """A statistic with its interval: ``0.83 [0.71, 0.95]``."""
    return f"{row[name]:.{digits}f} [{row[f'{name}_low']:.{digits}f}, {row[f'{name}_high']:.{digits}f}]"


def psi_alerts(psi: pd.DataFrame, cfg: MonitoringConfig) -> list[Alert]:
    out = []
    scores = psi[(psi["kind"] == "score") & (psi["psi"] > cfg.psi_alert)]
    for _, r in scores.iterrows():  # the breaches only: a handful of rows
        out.append(
            Alert("psi", _day(r["cycle"]), f"PSI of {r['variable']} {r['psi']:.3f} > {cfg.psi_alert:g}")
        )
    if cfg.feature_psi_alert is not None:
        feats = psi[(psi["kind"] == "feature") & (psi["psi"] > cfg.feature_psi_alert)]
        for day, group in feats.groupby("cycle", sort=True):
            top = group.nlargest(1, "psi").iloc[0]
            out.append(
                Alert(
                    "feature_psi",
                    _day(day),
                    f"{len(group)} feature(s) with PSI > {cfg.feature_psi_alert:g}, "
                    f"largest {top['variable']} {top['psi']:.3f}",
                )
            )
    return out


def outcome_alerts(metrics: pd.DataFrame, cfg: MonitoringConfig) -> list[Alert]:
    out = []
    m = metrics[metrics["cases"] >= cfg.min_cases]
    for _, r in m.iterrows():  # cycles x targets: a few dozen rows
        day, t = _day(r["cycle"]), r["target"]
        floor = r["baseline_auc"] - cfg.auc_drop
        if r["auc_high"] < floor:
            out.append(
                Alert(
                    "auc_drop",
                    day,
                    f"AUC of {t} {_ci(r, 'auc', 3)} below "
                    f"{floor:.3f} (sign-off {r['baseline_auc']:.3f} − {cfg.auc_drop:g})",
                )
            )
        lo, hi = cfg.calibration_slope_low, cfg.calibration_slope_high
        if r["calibration_slope_high"] < lo or r["calibration_slope_low"] > hi:
            out.append(
                Alert(
                    "calibration_slope",
                    day,
                    f"calibration slope of {t} {_ci(r, 'calibration_slope')} outside [{lo:g}, {hi:g}]",
                )
            )
        lo, hi = cfg.observed_expected_low, cfg.observed_expected_high
        if r["observed_expected_high"] < lo or r["observed_expected_low"] > hi:
            out.append(
                Alert(
                    "calibration_in_the_large",
                    day,
                    f"observed/expected {t} rate {_ci(r, 'observed_expected')} outside [{lo:g}, {hi:g}] "
                    f"(observed {r['observed_rate']:.3f}, predicted {r['predicted_rate']:.3f})",
                )
            )
    return out


def arm_alerts(diff: Interval, cycles: list[pd.Timestamp], cfg: MonitoringConfig) -> list[Alert]:
    """The challenger ahead of the champion by more than ``arm_difference`` per case, interval and all."""
    if not np.isfinite(diff.high) or diff.high >= -cfg.arm_difference:
        return []
    span = f"{_day(cycles[0])}..{_day(cycles[-1])}"
    return [
        Alert(
            "arm_difference",
            span,
            f"champion − challenger realised value per case {diff.value:,.1f} "
            f"[{diff.low:,.1f}, {diff.high:,.1f}] below −{cfg.arm_difference:g}",
        )
    ]


def summary_line(alerts: list[Alert]) -> str:
    """One line naming every breach (what a scheduler pages with), or that none fired."""
    if not alerts:
        return "monitor: no alert"
    first = alerts[0]
    names = sorted({a.name for a in alerts}, key=ALERTS.index)
    return f"ALERT {', '.join(names)}: first {first.name} in {first.cycle}: {first.message}"
