"""The salted case-id hash of the decision log, in the base so that every layer joins on it.

The service logs a case only as a salted HMAC of its loan id (no id in clear); monitoring joins
the log back to the raw tables by hashing the tables' loan ids with the same salt. One function in
the lowest layer keeps the two from ever disagreeing on the hash.
"""

from __future__ import annotations

import hashlib
import hmac

import numpy as np


def hash_case_id(case_id: object, salt: str) -> str:
    """Salted HMAC-SHA256 of a case id: joinable across the log, meaningless without the salt."""
    return hmac.new(salt.encode(), str(case_id).encode(), hashlib.sha256).hexdigest()


def hash_case_ids(case_ids: np.ndarray, salt: str) -> np.ndarray:
    """The hash of many ids: each distinct id is hashed once (HMAC has no vectorised form, so the
    loop runs over distinct loans, not over cases) and spread back to every row."""
    unique, inverse = np.unique(np.asarray(case_ids), return_inverse=True)
    hashed = np.array([hash_case_id(u, salt) for u in unique.tolist()], dtype=object)
    return hashed[inverse.reshape(-1)]
