"""The model validation report: one self-contained HTML file a validator reads without code.

Sections: data summary, OOT metrics against both baselines, ROC and calibration curves, score
distributions, PSI of features and scores (training vs OOT), SHAP importance, beeswarm and
dependence plots, per-bucket performance, five-tier classification counts, and the recovery
factors the policy's values rest on. Plots are PNGs embedded as base64, so the file travels alone
(e-mail, MLflow artifact).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rollcure.config.model import TARGETS
from rollcure.core.domain import BUCKETS, TIERS, tier_by_dpd
from training import plots
from training.drift import psi_table
from training.fit import TrainResult
from training.summary import metrics_frame

_CSS = """
body{font-family:system-ui,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;font-size:.85em;margin:.5em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}img{max-width:100%}.note{color:#555;font-size:.9em}
"""


@dataclass
class ReportContext:
    """Who and what the report is about (shown in its header)."""

    title: str = "rollcure model validation report"
    facts: dict[str, str] = field(default_factory=dict)


def _table(frame: pd.DataFrame, digits: int = 4) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.{digits}f}", border=0, na_rep="–")


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}">'


#: Shared with the monitoring page, so both of a validator's pages look alike.
CSS, table_html, img_html = _CSS, _table, _img


def _sample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    return frame.sample(n=min(n, len(frame)), random_state=seed) if len(frame) > n else frame


def data_summary(cases: pd.DataFrame, parts: pd.Series) -> pd.DataFrame:
    """Cases, cycles and event rates per part of the split."""
    rows = []
    for part in ("train", "valid", "oot"):
        sub = cases[parts == part]
        rows.append(
            {
                "part": part,
                "cycles": sub["as_of"].nunique(),
                "first": sub["as_of"].min().strftime("%Y-%m-%d") if len(sub) else "",
                "last": sub["as_of"].max().strftime("%Y-%m-%d") if len(sub) else "",
                "cases": len(sub),
                "roll_forward_rate": sub["roll_forward"].mean() if len(sub) else np.nan,
                "cure_rate": sub["cure"].mean() if len(sub) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def tier_counts(cases: pd.DataFrame, parts: pd.Series) -> pd.DataFrame:
    """Five-tier classification (by DPD, the bank scheme) of the cases per part."""
    tiers = pd.Categorical(tier_by_dpd(cases["dpd"].to_numpy()), categories=TIERS)
    table = pd.crosstab(tiers, parts.to_numpy()).reindex(index=TIERS, fill_value=0)
    return (
        table.reindex(columns=[p for p in ("train", "valid", "oot") if p in table.columns])
        .rename_axis("tier")
        .reset_index()
    )


def bucket_mix(cases: pd.DataFrame, parts: pd.Series) -> pd.DataFrame:
    table = pd.crosstab(np.asarray(cases["bucket"], dtype=object), parts.to_numpy())
    return table.reindex(index=[b for b in BUCKETS if b in table.index]).rename_axis("bucket").reset_index()


def build_report(
    result: TrainResult,
    cases: pd.DataFrame,
    context: ReportContext,
    sample: int,
    seed: int,
    images: dict[str, str] | None = None,
) -> str:
    """Render the whole report as one HTML string; each plot also lands in ``images`` (name → base64
    PNG) when a dict is given, so the caller can log the plots separately."""
    images = {} if images is None else images

    def img(b64: str, alt: str) -> str:
        images[alt.replace(" ", "_")] = b64
        return _img(b64, alt)

    bundle, parts = result.bundle, result.parts
    names = bundle.feature_names
    train_x = _sample(cases.loc[parts == "train", names], sample, seed)
    oot_x = _sample(cases.loc[parts == "oot", names], sample, seed)
    train_scores = bundle.score(train_x).to_frame(train_x.index)
    oot_scores = bundle.score(oot_x).to_frame(oot_x.index)
    psi = psi_table(pd.concat([train_x, train_scores], axis=1), pd.concat([oot_x, oot_scores], axis=1))
    out: list[str] = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(context.title)}</title>",
        f"<style>{_CSS}</style></head><body><h1>{html.escape(context.title)}</h1>",
    ]
    facts = {**context.facts, "features": str(len(names)), "split": str(bundle.metadata.get("split", ""))}
    out.append(_table(pd.DataFrame({"fact": list(facts), "value": list(facts.values())})))
    out.append("<h2>1. Data</h2>")
    out.append(_table(data_summary(cases, parts)))
    out.append("<p class='note'>Cases by current bucket and part of the time split:</p>")
    out.append(_table(bucket_mix(cases, parts)))
    out.append("<h2>2. Out-of-time performance against the baselines</h2>")
    out.append(
        "<p class='note'>Markov: the training period's bucket transition rates. Logistic: a scikit-learn "
        "scorecard on the same features. Lower is better for Brier, log loss and ECE.</p>"
    )
    out.append(_table(metrics_frame(result.metrics)))
    if result.calibration_scores:
        cal = pd.DataFrame(result.calibration_scores).T.rename_axis("target").reset_index()
        chosen = {t: bundle.scorers[t].calibrator.method for t in TARGETS}
        out.append(
            f"<p class='note'>Calibration chosen on the validation cycle: {html.escape(str(chosen))}; "
            "cross-fitted validation log loss of each candidate:</p>"
        )
        out.append(_table(cal))
    out.append(img(plots.roc_plot(result.oot), "ROC curves"))
    out.append(img(plots.calibration_plot(result.oot), "calibration curves"))
    out.append("<h2>3. Score distributions</h2>")
    out.append(img(plots.score_distribution_plot(result.oot, train_scores), "score distributions"))
    out.append("<h2>4. Population stability, training vs OOT</h2>")
    out.append("<p class='note'>PSI &lt; 0.1 stable, 0.1–0.25 watch, &gt; 0.25 shifted.</p>")
    out.append(_table(psi))
    out.append("<h2>5. Explanations (SHAP, OOT sample)</h2>")
    for t in TARGETS:
        contrib = bundle.contributions(oot_x, t)
        top = contrib.drop(columns="base_value").abs().mean().sort_values(ascending=False).index[:4].tolist()
        out.append(f"<h3>{t}</h3>")
        out.append(img(plots.importance_bar(contrib, t), f"SHAP importance {t}"))
        out.append(img(plots.beeswarm(contrib, oot_x, t, seed=seed), f"SHAP beeswarm {t}"))
        out.append(img(plots.dependence(contrib, oot_x, top, t), f"SHAP dependence {t}"))
    out.append("<h2>6. Performance per bucket (OOT)</h2>")
    out.append(_table(result.by_bucket))
    out.append("<h2>7. Five-tier classification</h2>")
    if "dpd" in cases.columns:
        out.append(_table(tier_counts(cases, parts)))
    else:
        out.append("<p class='note'>No days-past-due column in this data set.</p>")
    out.append("<h2>8. Markov baseline: training-period transition matrix</h2>")
    out.append(_table(result.markov.transition_.rename_axis("from").reset_index(), digits=3))
    factors = bundle.metadata.get("recovery_factors")
    if factors:
        horizon = bundle.metadata.get("value", {}).get("horizon_cycles")
        out.append("<h2>9. Value: recovery factors of the book's states</h2>")
        out.append(
            f"<p class='note'>The policy values an action by discounted cash − costs over {horizon} cycles "
            "plus the balance at the horizon × the recovery factor of its state: 1 − P(charge-off) × LGD "
            "from the training period's transitions (docs/value.md).</p>"
        )
        out.append(_table(pd.DataFrame(factors), digits=3))
    out.append("</body></html>")
    return "\n".join(out)
