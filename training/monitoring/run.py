"""One monitoring run: the champion against every cycle since it was trained.

Wires the views (``stability``, ``outcomes``, ``arms``) over the assembled cases (``data``), turns
them into alerts and returns everything as frames with one JSON adapter; the HTML page is
``page.render``. No I/O here: the command line reads the tables, the bundle and the log and
writes the outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from models.bundle import Bundle
from rollcure.config import RollcureConfig
from training.monitoring import alerts as al
from training.monitoring.arms import arm_difference, arm_values, off_policy
from training.monitoring.data import MonitorData, assemble
from training.monitoring.intervals import Interval
from training.monitoring.outcomes import metrics_by_cycle, rates_by_group, value_by_cycle
from training.monitoring.stability import characteristic_analysis, psi_by_cycle, score_shift_explained


@dataclass
class MonitorResult:
    """Every table of the monitoring page, the alerts, and the facts of the run."""

    facts: dict
    psi: pd.DataFrame
    characteristic: pd.DataFrame
    metrics: pd.DataFrame
    rates: pd.DataFrame
    value: pd.DataFrame
    arms: pd.DataFrame
    arm_difference: Interval
    off_policy: pd.DataFrame
    off_policy_difference: Interval
    alerts: list[al.Alert] = field(default_factory=list)

    @property
    def breached(self) -> bool:
        return bool(self.alerts)

    def summary(self) -> str:
        return al.summary_line(self.alerts)

    def to_json(self) -> dict:
        def records(frame: pd.DataFrame) -> list[dict]:
            out = frame.copy()
            for c in out.columns:
                if pd.api.types.is_datetime64_any_dtype(out[c]):
                    out[c] = out[c].dt.strftime("%Y-%m-%d")
            return [{k: _plain(v) for k, v in row.items()} for row in out.to_dict(orient="records")]

        return {
            "facts": self.facts,
            "alerts": [{"name": a.name, "cycle": a.cycle, "message": a.message} for a in self.alerts],
            "summary": self.summary(),
            "psi": records(self.psi),
            "characteristic": records(self.characteristic),
            "metrics": records(self.metrics),
            "rates": records(self.rates),
            "value": records(self.value),
            "arms": records(self.arms),
            "arm_difference": {k: _plain(v) for k, v in self.arm_difference.as_dict("value").items()},
            "off_policy": records(self.off_policy),
            "off_policy_difference": {
                k: _plain(v) for k, v in self.off_policy_difference.as_dict("value").items()
            },
        }


def _plain(v: object) -> object:
    """JSON-safe scalars: NaN as null, numpy numbers as Python ones."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, pd.Timestamp):
        return str(v.date())
    return v


def monitor(data: MonitorData, bundle: Bundle, cfg: RollcureConfig) -> MonitorResult:
    """Every view and the alerts over assembled monitoring data."""
    mcfg, seed = cfg.monitoring, cfg.seed
    psi = psi_by_cycle(data)
    ca = characteristic_analysis(data, psi, mcfg.top_shifted_features)
    metrics = metrics_by_cycle(data, mcfg, seed)
    diff = arm_difference(data, mcfg, seed)
    ope, ope_diff = off_policy(data, bundle, mcfg, seed)
    alerts = [
        *al.psi_alerts(psi, mcfg),
        *al.outcome_alerts(metrics, mcfg),
        *al.arm_alerts(diff, data.cycles, mcfg),
    ]
    alerts.sort(key=lambda a: (a.cycle, al.ALERTS.index(a.name)))
    c = data.cases
    facts = {
        "model_version": str(bundle.metadata.get("registered_version", "")),
        "trained_until": str(data.trained_until.date()),
        "cycles": [str(d.date()) for d in data.cycles],
        "cases": len(c),
        "labelled_cases": int(c["roll_forward"].notna().sum()),
        "logged_cases": int(c["logged"].sum()),
        "reference_cases": len(data.reference),
        "baseline_auc": data.baseline_auc,
        "value_horizon_cycles": data.valuation.horizon,
        "thresholds": mcfg.model_dump(),
    }
    return MonitorResult(
        facts=facts,
        psi=psi,
        characteristic=ca.merge(score_shift_explained(ca).rename(columns={"shift": "feature_shift"}))
        if not ca.empty
        else ca,
        metrics=metrics,
        rates=rates_by_group(data),
        value=value_by_cycle(data, mcfg, seed),
        arms=arm_values(data, mcfg, seed),
        arm_difference=diff,
        off_policy=ope,
        off_policy_difference=ope_diff,
        alerts=alerts,
    )


def run_monitor(
    tables: dict[str, pd.DataFrame],
    cfg: RollcureConfig,
    bundle: Bundle,
    log: pd.DataFrame | None,
    salt: str | None,
    since: pd.Timestamp | None = None,
) -> tuple[MonitorData, MonitorResult]:
    """Assemble the monitored cases from the tables and the log, then monitor them."""
    data = assemble(tables, cfg, bundle, log, salt, since)
    return data, monitor(data, bundle, cfg)
