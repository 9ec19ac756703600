"""The Markdown data dictionary of the feature registry (`rollcure features docs`)."""

from __future__ import annotations

from features.registry import ACTION_WINDOW_DAYS, CONTACT_WINDOW_DAYS, CYCLE_WINDOW, FEATURES, GROUPS

_MONOTONE = {1: "raises risk", -1: "lowers risk", 0: "-"}


def data_dictionary() -> str:
    """One Markdown section per group: name, dtype, categories, roll-forward direction, meaning."""
    lines = [
        "# Feature data dictionary",
        "",
        f"{len(FEATURES)} features, built by `features.build.build_features` for training and serving alike.",
        f"A case (loan_id, as_of) sees cycle rows up to as_of (windows of at most {CYCLE_WINDOW} cycles),",
        f"contacts with ts in (as_of - {CONTACT_WINDOW_DAYS} days, as_of] and actions decided in",
        f"[as_of - {ACTION_WINDOW_DAYS} days, as_of): the action decided at as_of is the case's treatment.",
        "Contact and action features are NaN when the book keeps no such history, and the status-code",
        "counts when its cycles carry no `status_code` (the lender's own repayment status).",
        "",
    ]
    for group in GROUPS:
        rows = [f for f in FEATURES if f.group == group]
        lines += [
            f"## {group} ({len(rows)})",
            "",
            "| name | dtype | roll-forward risk | description |",
            "|---|---|---|---|",
        ]
        for f in rows:
            dtype = f"category: {', '.join(f.categories or ())}" if f.dtype == "category" else f.dtype
            lines.append(f"| `{f.name}` | {dtype} | {_MONOTONE[f.monotone]} | {f.description} |")
        lines.append("")
    return "\n".join(lines)
