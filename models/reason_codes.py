"""Reason codes: stable codes per feature group and direction, and readable sentences.

A code never changes meaning between model versions (``RF-CONTACT-UP`` is always "something in
the contact history raised roll-forward risk"), so downstream systems and auditors can count
them; the sentence adds the feature and its value for the person reading one case, e.g.
"3 broken promises to pay in the last 30 days raised roll-forward risk (+6.2 pp)".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.feature_spec import GROUPS, FeatureSpec

_TARGET_CODE = {"roll_forward": "RF", "cure": "CU"}
_TARGET_NOUN = {"roll_forward": "roll-forward risk", "cure": "the chance of cure"}
_VERB = {"up": "raised", "down": "lowered"}


def reason_code_table() -> pd.DataFrame:
    """One row per target × feature group × direction: code, target, group, direction, text."""
    rows = [
        {
            "code": f"{_TARGET_CODE[t]}-{g.upper()}-{d.upper()}",
            "target": t,
            "group": g,
            "direction": d,
            "text": f"{g} information {_VERB[d]} {_TARGET_NOUN[t]}",
        }
        for t in _TARGET_CODE
        for g in GROUPS
        for d in ("up", "down")
    ]
    return pd.DataFrame(rows)


def reason_code(target: str, group: str, direction: str) -> str:
    return f"{_TARGET_CODE[target]}-{group.upper()}-{direction.upper()}"


def _phrase(description: str) -> str:
    d = description.strip().rstrip(".")
    return d[:1].lower() + d[1:] if d[:2] != d[:2].upper() else d


def format_values(values: pd.Series, spec: FeatureSpec) -> np.ndarray:
    """Each value as the start of a sentence about it ("3 broken promises…", "employment: retired")."""
    phrase = _phrase(spec.description)
    s = pd.Series(values).reset_index(drop=True)
    missing = s.isna().to_numpy()
    if spec.dtype == "bool":
        text = np.where(s.fillna(False).astype(bool).to_numpy(), f"{phrase}: yes", f"{phrase}: no")
    elif spec.dtype == "int":
        text = s.astype("Float64").round().astype("Int64").astype(str).to_numpy(dtype=object) + f" {phrase}"
    elif spec.dtype == "float":
        text = f"{phrase} of " + s.astype(float).round(2).map("{:,.2f}".format).to_numpy(dtype=object)
    else:
        text = f"{phrase}: " + s.astype(object).astype(str).to_numpy(dtype=object)
    return np.where(missing, f"{phrase}: missing", text).astype(object)


def sentences(value_text: np.ndarray, target: str, direction: np.ndarray, pp: np.ndarray) -> np.ndarray:
    """Join value text, verb and probability points, vectorised over reasons."""
    verb = np.where(np.asarray(direction) == "up", _VERB["up"], _VERB["down"])
    pp_text = pd.Series(np.asarray(pp, dtype=float)).map("{:+.1f} pp".format).to_numpy(dtype=object)
    return np.asarray(value_text, dtype=object) + " " + verb + f" {_TARGET_NOUN[target]} (" + pp_text + ")"
