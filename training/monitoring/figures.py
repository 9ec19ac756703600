"""The monitoring page's figures, as base64 PNGs (``training.plots``'s backend and encoder).

One function per figure, each reading the monitoring frames: cycles on the x axis, intervals as
error bars, thresholds as dashed lines, so that a strategist sees at a glance which cycle crossed
which line.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rollcure.config.model import TARGETS
from rollcure.config.monitoring import MonitoringConfig
from training.plots import pyplot, to_base64

_COLOURS = {"roll_forward": "#1f77b4", "cure": "#2ca02c", "p_roll_forward": "#1f77b4", "p_cure": "#2ca02c"}
_THRESHOLD = {"color": "#d62728", "ls": "--", "lw": 1}
_HEATMAP_FEATURES = 15
#: PSI below this is drawn at it (a log axis has no zero).
_PSI_FLOOR = 1e-3


def _labels(cycles) -> list[str]:
    return [pd.Timestamp(c).strftime("%Y-%m") for c in cycles]


def _errorbar(ax, x, frame: pd.DataFrame, name: str, label: str, colour: str | None) -> None:
    y = frame[name].to_numpy(float)
    err = np.vstack([y - frame[f"{name}_low"].to_numpy(float), frame[f"{name}_high"].to_numpy(float) - y])
    ax.errorbar(x, y, yerr=np.nan_to_num(err), marker="o", capsize=3, label=label, color=colour)


def psi_figure(psi: pd.DataFrame, cycles: list, cfg: MonitoringConfig) -> str:
    """Left: PSI of both scores per cycle and the largest feature PSI; right: feature PSI heatmap."""
    plt = pyplot()
    fig, (ax, hm) = plt.subplots(1, 2, figsize=(12, 4.4), gridspec_kw={"width_ratios": [1, 1.3]})
    x = np.arange(len(cycles))
    for score in ("p_roll_forward", "p_cure"):
        s = psi[psi["variable"] == score].set_index("cycle").reindex(cycles)["psi"]
        ax.plot(x, np.maximum(s.to_numpy(), _PSI_FLOOR), marker="o", label=score, color=_COLOURS[score])
    feats = psi[psi["kind"] == "feature"].groupby("cycle")["psi"].max().reindex(cycles)
    ax.plot(x, feats.to_numpy(), marker=".", ls=":", color="#7f7f7f", label="largest feature PSI")
    ax.axhline(cfg.psi_alert, **_THRESHOLD, label=f"alert {cfg.psi_alert:g}")
    ax.set_yscale("log")
    ax.set_ylim(bottom=_PSI_FLOOR)
    ax.set_xticks(x, _labels(cycles), rotation=45)
    ax.set(title="Population stability against the training sample", ylabel="PSI")
    ax.legend(fontsize=8)
    wide = psi[psi["kind"] == "feature"].pivot_table(index="variable", columns="cycle", values="psi")
    wide = wide.reindex(columns=cycles)
    top = wide.max(axis=1).sort_values(ascending=False).index[:_HEATMAP_FEATURES]
    im = hm.imshow(
        np.log10(wide.loc[top].to_numpy(float) + 1e-3), aspect="auto", cmap="magma_r", vmin=-3, vmax=1
    )
    hm.set_yticks(range(len(top)), list(top), fontsize=7)
    hm.set_xticks(range(len(cycles)), _labels(cycles), rotation=45, fontsize=7)
    hm.set_title("Feature PSI (most shifted), log10")
    fig.colorbar(im, ax=hm)
    return to_base64(fig)


def discrimination_figure(metrics: pd.DataFrame, cfg: MonitoringConfig) -> str:
    """AUC per cycle with its interval, the sign-off AUC and the alert floor, per target."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(TARGETS), figsize=(12, 3.8), sharey=True)
    for ax, t in zip(axes, TARGETS, strict=True):
        m = metrics[(metrics["target"] == t) & (metrics["cases"] > 0)]
        x = np.arange(len(m))
        _errorbar(ax, x, m, "auc", "AUC", _COLOURS[t])
        base = float(metrics.loc[metrics["target"] == t, "baseline_auc"].iloc[0])
        ax.axhline(base, color="black", lw=0.8, label=f"sign-off {base:.3f}")
        ax.axhline(base - cfg.auc_drop, **_THRESHOLD, label="alert floor")
        ax.set_xticks(x, _labels(m["cycle"]), rotation=45)
        ax.set(title=f"AUC, {t}", ylabel="AUC")
        ax.legend(fontsize=8)
    return to_base64(fig)


def calibration_figure(metrics: pd.DataFrame, cfg: MonitoringConfig) -> str:
    """Observed/expected ratio and calibration slope per cycle, with their intervals and bands."""
    plt = pyplot()
    fig, (oe, sl) = plt.subplots(1, 2, figsize=(12, 3.8))
    for k, t in enumerate(TARGETS):
        m = metrics[(metrics["target"] == t) & (metrics["cases"] > 0)]
        x = np.arange(len(m)) + 0.1 * k
        _errorbar(oe, x, m, "observed_expected", t, _COLOURS[t])
        _errorbar(sl, x, m, "calibration_slope", t, _COLOURS[t])
    labels = _labels(m["cycle"])
    for ax, lo, hi, title in (
        (oe, cfg.observed_expected_low, cfg.observed_expected_high, "Observed / expected rate"),
        (sl, cfg.calibration_slope_low, cfg.calibration_slope_high, "Calibration slope"),
    ):
        ax.axhline(1.0, color="black", lw=0.8)
        ax.axhline(lo, **_THRESHOLD)
        ax.axhline(hi, **_THRESHOLD)
        ax.set_xticks(np.arange(len(labels)), labels, rotation=45)
        ax.set_title(title)
        ax.legend(fontsize=8)
    return to_base64(fig)


def deciles_figure(rates: pd.DataFrame) -> str:
    """Realised against predicted rate by training score decile, per target, each labelled cycle."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(TARGETS), figsize=(12, 4))
    for ax, t in zip(axes, TARGETS, strict=True):
        r = rates[(rates["target"] == t) & (rates["by"] == "score_decile")]
        cycles = sorted(r["cycle"].unique())
        colours = pyplot().cm.viridis(np.linspace(0, 1, max(len(cycles), 1)))
        for colour, day in zip(colours, cycles, strict=True):
            c = r[r["cycle"] == day].sort_values("predicted_rate")
            ax.plot(
                c["predicted_rate"],
                c["observed_rate"],
                marker="o",
                ms=3,
                color=colour,
                label=_labels([day])[0],
            )
        ax.plot([0, 1], [0, 1], ls=":", color="black", lw=0.8)
        ax.set(title=f"Realised vs predicted by score decile, {t}", xlabel="predicted", ylabel="realised")
        ax.legend(fontsize=7, ncol=2)
    return to_base64(fig)


def value_figure(value: pd.DataFrame, arms: pd.DataFrame, ope: pd.DataFrame) -> str:
    """Left: expected vs realised value per case per cycle; right: each arm's realised value and
    each strategy's off-policy (doubly robust) value from the exploration slice."""
    plt = pyplot()
    fig, (ax, ar) = plt.subplots(1, 2, figsize=(12, 3.8))
    v = value[value["cases"] > 0]
    x = np.arange(len(v))
    _errorbar(ax, x - 0.05, v, "expected_value", "expected (policy)", "#7f7f7f")
    _errorbar(ax, x + 0.05, v, "realised_value", "realised", "#1f77b4")
    ax.set_xticks(x, _labels(v["cycle"]), rotation=45)
    ax.set(title="Value per decided case", ylabel="value per case")
    ax.legend(fontsize=8)
    a = arms[arms["cases"] > 0]
    xa = np.arange(len(a))
    _errorbar(ar, xa, a, "realised_value", "arm (realised)", "#1f77b4")
    if not ope.empty:
        xo = np.arange(len(ope)) + len(a) + 0.5
        _errorbar(ar, xo, ope, "dr", "strategy (off-policy, explore slice)", "#ff7f0e")
        ticks = [*a["arm"], *[f"{s} (OPE)" for s in ope["strategy"]]]
        ar.set_xticks([*xa, *xo], ticks, rotation=20)
    else:
        ar.set_xticks(xa, list(a["arm"]))
    ar.set(title="Arms and strategies: value per case", ylabel="value per case")
    ar.legend(fontsize=8)
    return to_base64(fig)


def characteristic_figure(ca: pd.DataFrame, cycle) -> str:
    """Bin shares in training and in ``cycle`` for its most shifted features."""
    plt = pyplot()
    c = ca[ca["cycle"] == cycle]
    feats = list(dict.fromkeys(c["feature"]))
    fig, axes = plt.subplots(1, max(len(feats), 1), figsize=(3.2 * max(len(feats), 1), 3.2), squeeze=False)
    for ax, name in zip(axes[0], feats, strict=False):
        f = c[c["feature"] == name]
        x = np.arange(len(f))
        ax.bar(x - 0.2, f["share_train"], width=0.4, label="training", color="#7f7f7f")
        ax.bar(x + 0.2, f["share_now"], width=0.4, label=_labels([cycle])[0], color="#d62728")
        ax.set(title=name, xlabel="bin (training deciles)", ylabel="share of cases")
        ax.legend(fontsize=7)
    return to_base64(fig)
