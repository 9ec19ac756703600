"""Digest of a `rollcure score` output: the record that a refactor left the decisions unchanged.

Rows are sorted by case and every value is compared by its exact text form (floats round-trip), so
two outputs have the same digest only if every score, action, value, reason and propensity agrees.
The model version is left out (a fresh registry numbers its versions from 1 anyway).

    python benchmarks/score_digest.py before.parquet after.parquet
"""

from __future__ import annotations

import hashlib
import json
import sys

import pandas as pd

_IGNORED = ("model_version",)


def digest(path: str) -> dict:
    frame = pd.read_parquet(path).sort_values(["loan_id", "as_of"]).reset_index(drop=True)
    frame = frame.drop(columns=[c for c in _IGNORED if c in frame])
    rows = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    return {"file": path, "rows": len(frame), "sha256": hashlib.sha256(rows.tobytes()).hexdigest()}


if __name__ == "__main__":
    print(json.dumps([digest(p) for p in sys.argv[1:]], indent=1))
