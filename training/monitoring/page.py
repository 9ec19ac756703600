"""The monitoring page: one self-contained HTML file (plots embedded as PNG) a strategist opens.

The alerts come first, in the words the pager used; then drift, outcomes against predictions,
value, and the arms. The page's look is the validation report's (``training.report``), so the
validator's two documents read alike; the plots are ``training.monitoring.figures``.
"""

from __future__ import annotations

import html

import pandas as pd

from rollcure.config.monitoring import MonitoringConfig
from training.monitoring import figures
from training.monitoring.run import MonitorResult
from training.report import CSS, img_html, table_html

_ALERT_CSS = ".alert{color:#a40000;font-weight:600}.ok{color:#1b6e1b;font-weight:600}"


def _dates(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    if "cycle" in out.columns and pd.api.types.is_datetime64_any_dtype(out["cycle"]):
        out["cycle"] = out["cycle"].dt.strftime("%Y-%m-%d")
    return out


def _table(frame: pd.DataFrame, digits: int = 3) -> str:
    return table_html(_dates(frame), digits)


def render(result: MonitorResult, cfg: MonitoringConfig, title: str = "rollcure ongoing monitoring") -> str:
    """The whole page as one HTML string."""
    f = result.facts
    cycles = [pd.Timestamp(c) for c in f["cycles"]]
    out = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{CSS}{_ALERT_CSS}</style></head><body><h1>{html.escape(title)}</h1>",
    ]
    facts = {
        "model version": f["model_version"] or "–",
        "trained until (last out-of-time cycle)": f["trained_until"],
        "cycles monitored": f"{cycles[0].date()} … {cycles[-1].date()} ({len(cycles)})",
        "cases / with outcomes / in the decision log": (
            f"{f['cases']:,} / {f['labelled_cases']:,} / {f['logged_cases']:,}"
        ),
        "sign-off AUC (out-of-time)": ", ".join(f"{t} {v:.3f}" for t, v in f["baseline_auc"].items()),
    }
    out.append(table_html(pd.DataFrame({"fact": list(facts), "value": list(facts.values())})))
    out.append("<h2>1. Alerts</h2>")
    if result.alerts:
        out.append(f"<p class='alert'>{html.escape(result.summary())}</p>")
        alerts = pd.DataFrame(
            [{"cycle": a.cycle, "alert": a.name, "detail": a.message} for a in result.alerts]
        )
        out.append(table_html(alerts))
    else:
        out.append("<p class='ok'>No alert: every threshold held in every cycle.</p>")
    out.append(table_html(_thresholds(cfg)))

    out.append("<h2>2. Drift against the training sample</h2>")
    out.append(
        "<p class='note'>PSI &lt; 0.1 stable, 0.1–0.25 watch, &gt; 0.25 shifted. The scores' PSI pages; "
        "features are shown and explained (docs/monitoring.md says why they do not page by default).</p>"
    )
    out.append(img_html(figures.psi_figure(result.psi, cycles, cfg), "PSI per cycle"))
    scores = result.psi[result.psi["kind"] == "score"].pivot_table(
        index="cycle", columns="variable", values="psi"
    )
    out.append(_table(scores.rename_axis(columns=None).reset_index()))
    latest = cycles[-1]
    top = result.psi[(result.psi["cycle"] == latest) & (result.psi["kind"] == "feature")].head(10)
    out.append(f"<p class='note'>Most shifted features in {latest.date()}:</p>")
    out.append(_table(top))
    if not result.characteristic.empty:
        out.append(
            f"<h3>Characteristic analysis, {latest.date()}</h3><p class='note'>Share of cases and mean "
            "roll-forward score per training bin; <code>shift</code> is the score move the mix change "
            "alone predicts.</p>"
        )
        out.append(
            img_html(figures.characteristic_figure(result.characteristic, latest), "characteristic analysis")
        )
        ca = result.characteristic[result.characteristic["cycle"] == latest]
        out.append(_table(ca.drop(columns=["cycle"]), 4))

    out.append("<h2>3. Outcomes against predictions</h2>")
    out.append(
        "<p class='note'>Next-cycle roll-forward and cure of each cycle's cases against the champion's "
        "probabilities; intervals are case-bootstrap 95% intervals.</p>"
    )
    out.append(img_html(figures.discrimination_figure(result.metrics, cfg), "AUC per cycle"))
    out.append(img_html(figures.calibration_figure(result.metrics, cfg), "calibration per cycle"))
    cols = ["cycle", "target", "cases", "observed_rate", "predicted_rate", "auc", "auc_low", "auc_high"]
    cols += ["brier", "calibration_slope", "calibration_slope_low", "calibration_slope_high"]
    cols += ["observed_expected", "observed_expected_low", "observed_expected_high"]
    out.append(_table(result.metrics[cols]))
    if not result.rates.empty:
        out.append(img_html(figures.deciles_figure(result.rates), "realised vs predicted by decile"))
        for by in ("dpd_bucket", "loan_product"):
            key = by.split("_")[1]
            pooled = _pooled(result.rates, "bucket" if key == "bucket" else "product")
            out.append(f"<p class='note'>Realised vs predicted by {key}, all labelled cycles:</p>")
            out.append(_table(pooled))

    out.append("<h2>4. Value: expected against realised</h2>")
    out.append(
        f"<p class='note'>Value as in docs/value.md over {f['value_horizon_cycles']} cycle(s) (the policy's "
        "look-ahead), of the decisions in the log whose look-ahead has passed.</p>"
    )
    out.append(img_html(figures.value_figure(result.value, result.arms, result.off_policy), "value and arms"))
    out.append(_table(result.value[result.value["cases"] > 0], 1))

    out.append("<h2>5. Arms: champion, challenger, exploration</h2>")
    out.append(_table(result.arms, 1))
    d = result.arm_difference
    out.append(
        f"<p>Champion − challenger realised value per case: <b>{d.value:,.1f}</b> "
        f"[{d.low:,.1f}, {d.high:,.1f}] (randomised arms, independent bootstrap).</p>"
    )
    out.append("<p class='note'>Each strategy off-policy on the exploration slice (IPS, SNIPS, DR):</p>")
    out.append(_table(result.off_policy, 1))
    o = result.off_policy_difference
    out.append(
        f"<p>Champion − challenger, doubly robust on the exploration slice: <b>{o.value:,.1f}</b> "
        f"[{o.low:,.1f}, {o.high:,.1f}] (paired bootstrap).</p>"
    )
    out.append("</body></html>")
    return "\n".join(out)


def _pooled(rates: pd.DataFrame, by: str) -> pd.DataFrame:
    r = rates[rates["by"] == by].assign(
        events=lambda f: f["observed_rate"] * f["cases"], expected=lambda f: f["predicted_rate"] * f["cases"]
    )
    g = r.groupby(["target", "group"], as_index=False)[["cases", "events", "expected"]].sum()
    g["observed_rate"] = g["events"] / g["cases"]
    g["predicted_rate"] = g["expected"] / g["cases"]
    return g.drop(columns=["events", "expected"]).rename(columns={"group": by})


def _thresholds(cfg: MonitoringConfig) -> pd.DataFrame:
    rows = {
        "psi (scores)": f"> {cfg.psi_alert:g}",
        "psi (features)": "off" if cfg.feature_psi_alert is None else f"> {cfg.feature_psi_alert:g}",
        "auc_drop": f"interval below sign-off − {cfg.auc_drop:g}",
        "calibration_slope": _outside(cfg.calibration_slope_low, cfg.calibration_slope_high),
        "calibration_in_the_large": _outside(cfg.observed_expected_low, cfg.observed_expected_high),
        "arm_difference": f"champion − challenger interval below −{cfg.arm_difference:g}",
        "min labelled cases per cycle": str(cfg.min_cases),
    }
    return pd.DataFrame({"alert": list(rows), "fires when": list(rows.values())})


def _outside(low: float, high: float) -> str:
    return f"interval outside [{low:g}, {high:g}]"
