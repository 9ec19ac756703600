"""Matplotlib figures of the validation report, returned as base64 PNG strings.

The Agg backend is selected inside :func:`_pyplot` (never at import), so the report renders on
a server without a display. Each function takes frames and returns one image.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

from models.metrics import calibration_curve, roc_points
from rollcure.config.model import TARGETS

MODEL_COLOURS = {"lightgbm": "#1f77b4", "markov": "#7f7f7f", "logistic": "#ff7f0e"}
_DPI = 90


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: The pyplot module with the Agg backend (the monitoring page draws with the same setup).
pyplot = _pyplot


def to_base64(fig) -> str:
    """PNG bytes of a figure, base64-encoded; the figure is closed."""
    plt = _pyplot()
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=_DPI)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _models(oot: pd.DataFrame, target: str) -> list[str]:
    return [c.removeprefix(f"p_{target}_") for c in oot.columns if c.startswith(f"p_{target}_")]


def roc_plot(oot: pd.DataFrame) -> str:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(TARGETS), figsize=(10, 4.2))
    for ax, t in zip(axes, TARGETS, strict=True):
        y = oot[t].to_numpy(dtype=float)
        for m in _models(oot, t):
            fpr, tpr = roc_points(y, oot[f"p_{t}_{m}"].to_numpy())
            ax.plot(fpr, tpr, label=m, color=MODEL_COLOURS.get(m))
        ax.plot([0, 1], [0, 1], ls=":", color="black", lw=0.8)
        ax.set(title=f"ROC, {t} (OOT)", xlabel="false positive rate", ylabel="true positive rate")
        ax.legend(loc="lower right")
    return to_base64(fig)


def calibration_plot(oot: pd.DataFrame) -> str:
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(TARGETS), figsize=(10, 4.2))
    for ax, t in zip(axes, TARGETS, strict=True):
        y = oot[t].to_numpy(dtype=float)
        for m in _models(oot, t):
            curve = calibration_curve(y, oot[f"p_{t}_{m}"].to_numpy())
            ax.plot(curve["score"], curve["observed"], marker="o", label=m, color=MODEL_COLOURS.get(m))
        ax.plot([0, 1], [0, 1], ls=":", color="black", lw=0.8)
        ax.set(title=f"Calibration, {t} (OOT)", xlabel="mean predicted probability", ylabel="observed rate")
        ax.legend(loc="upper left")
    return to_base64(fig)


def score_distribution_plot(oot: pd.DataFrame, train_scores: pd.DataFrame) -> str:
    """Per target: OOT LightGBM scores split by outcome, and the training-population scores."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(TARGETS), figsize=(10, 4.2))
    bins = np.linspace(0, 1, 41)
    for ax, t in zip(axes, TARGETS, strict=True):
        p = oot[f"p_{t}_lightgbm"].to_numpy()
        y = oot[t].to_numpy(dtype=bool)
        ax.hist(p[y], bins=bins, alpha=0.55, density=True, label=f"OOT, {t}")
        ax.hist(p[~y], bins=bins, alpha=0.55, density=True, label=f"OOT, no {t}")
        ax.hist(
            train_scores[f"p_{t}"], bins=bins, density=True, histtype="step", color="black", label="training"
        )
        ax.set(title=f"Score distribution, {t}", xlabel="calibrated probability", ylabel="density")
        ax.legend()
    return to_base64(fig)


def importance_bar(contrib: pd.DataFrame, target: str, top: int = 15) -> str:
    plt = _pyplot()
    imp = contrib.drop(columns="base_value").abs().mean().sort_values().tail(top)
    fig, ax = plt.subplots(figsize=(6.5, 0.3 * len(imp) + 1.2))
    ax.barh(imp.index, imp.to_numpy(), color=MODEL_COLOURS["lightgbm"])
    ax.set(title=f"Mean |SHAP|, {target} (log-odds)", xlabel="mean absolute contribution")
    return to_base64(fig)


def _colour_values(x: pd.Series) -> np.ndarray:
    """Feature values as percentile ranks in [0, 1] for colouring (categories by code, NaN grey)."""
    if isinstance(x.dtype, pd.CategoricalDtype):
        x = pd.Series(x.cat.codes.astype(float).where(x.notna()), index=x.index)
    return x.astype(float).rank(pct=True).to_numpy()


def beeswarm(contrib: pd.DataFrame, X: pd.DataFrame, target: str, top: int = 12, seed: int = 0) -> str:
    """SHAP value per case for the top features, coloured by the feature's value (low blue, high red)."""
    plt = _pyplot()
    rng = np.random.default_rng(seed)
    order = contrib.drop(columns="base_value").abs().mean().sort_values().tail(top).index
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(order) + 1.4))
    for i, name in enumerate(order):
        colour = _colour_values(X[name])
        jitter = rng.uniform(-0.3, 0.3, len(colour))
        nan = np.isnan(colour)
        ax.scatter(contrib[name].to_numpy()[nan], i + jitter[nan], s=4, color="#bbbbbb")
        sc = ax.scatter(
            contrib[name].to_numpy()[~nan],
            i + jitter[~nan],
            s=4,
            c=colour[~nan],
            cmap="coolwarm",
            vmin=0,
            vmax=1,
        )
    ax.set_yticks(range(len(order)), list(order))
    ax.axvline(0, color="black", lw=0.6)
    ax.set(title=f"SHAP values, {target} (log-odds)", xlabel="contribution to the margin")
    fig.colorbar(sc, ax=ax, label="feature value (percentile)")
    return to_base64(fig)


def dependence(contrib: pd.DataFrame, X: pd.DataFrame, features: list[str], target: str) -> str:
    """Feature value against its SHAP value, one panel per feature."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(features), figsize=(3.4 * len(features), 3.2), squeeze=False)
    for ax, name in zip(axes[0], features, strict=True):
        x = X[name]
        if isinstance(x.dtype, pd.CategoricalDtype):
            ax.scatter(x.cat.codes, contrib[name], s=4, alpha=0.4)
            ax.set_xticks(range(len(x.cat.categories)), list(x.cat.categories), rotation=45, fontsize=7)
        else:
            ax.scatter(x.astype(float), contrib[name], s=4, alpha=0.4)
        ax.axhline(0, color="black", lw=0.6)
        ax.set(title=name, xlabel="value", ylabel=f"SHAP ({target})")
    return to_base64(fig)
