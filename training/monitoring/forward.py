"""Play a simulated book forward under the champion's decisions, as a lender's service would run it.

Monitoring needs a book that lives on after the model was trained: cycles the model never saw, its
decisions logged with their arms (champion, challenger, exploration) and propensities, and then
what happened. The simulator's :class:`simulation.BookRun` goes on month by month; each month the
bundle's policy (``models.policy.decide``, the service's own decision function) decides for every
overdue case, and the decisions come back in the decision log's shape (``models.record``'s log
view) so the caller can append them to the log. A drift scenario in the simulation config
(``simulation.drift``) changes the world from its month on.

Unlike ``training.learn`` nothing is refitted: monitoring watches one signed-off model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from models.bundle import Bundle
from models.policy import decide
from models.record import columns
from models.rules import MANUAL_REVIEW
from rollcure.config import RollcureConfig
from rollcure.core.case_hash import hash_case_ids
from rollcure.core.catalogue import ACTIONS
from rollcure.core.errors import InputError

#: The endpoint a played-forward decision is logged under (the service logs its HTTP endpoint).
FORWARD_ENDPOINT = "forward"
#: Seeds of the forward months' decisions: one block of seeds per month.
_SEED_STRIDE = 1_000_003


@dataclass
class ForwardRun:
    """The decisions of the months played forward (log view, plus ``loan_id`` kept out of the log)
    and the oracle's view of each decided case (``truth/case_states`` rows)."""

    decisions: pd.DataFrame
    case_states: pd.DataFrame


def _digests(X: pd.DataFrame) -> np.ndarray:
    """A digest of each case's inputs: pandas' 64-bit hash of its feature row, as 16 hex digits
    (the service logs the SHA-256 of its JSON payload; a played-forward case has no payload, and a
    row hash is vectorised where a SHA-256 per case is a Python loop)."""
    rows = pd.util.hash_pandas_object(X, index=False).to_numpy(dtype=np.uint64)
    return np.char.zfill(np.char.mod("%x", rows), 16).astype(object)


def _decision_ids(seed: int, month: int, n: int) -> np.ndarray:
    """Deterministic 32-hex decision ids (unique per seed, month and row)."""
    base = hashlib.sha256(f"{seed}:{month}".encode()).hexdigest()[:16]
    return np.char.add(base, np.char.zfill(np.arange(n).astype(str), 16)).astype(object)


def log_rows(
    d: pd.DataFrame, X: pd.DataFrame, salt: str, model_name: str, model_version: str, seed: int, month: int
) -> pd.DataFrame:
    """One month's decisions (``decide(...).to_frame()``) as decision-log rows (+ ``loan_id``)."""
    as_of = pd.to_datetime(d["as_of"]).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    frame = pd.DataFrame(
        {
            "decision_id": _decision_ids(seed, month, len(d)),
            "case_hash": hash_case_ids(d["loan_id"].to_numpy(), salt),
            "as_of": as_of,
            "decided_at": np.char.add(as_of.astype(str), "T23:00:00+00:00").astype(object),
            "endpoint": FORWARD_ENDPOINT,
            "model_name": model_name,
            "model_version": model_version,
            "inputs_digest": _digests(X),
            "p_roll_forward": d["p_roll_forward"].to_numpy(dtype=float),
            "p_cure": d["p_cure"].to_numpy(dtype=float),
            "action": d["action"].to_numpy(dtype=object),
            "expected_value": d["expected_value"].to_numpy(dtype=float),
            "reason_codes": [[] for _ in range(len(d))],
            "arm": d["arm"].to_numpy(dtype=object),
            "challenger": (d["arm"] == "challenger").to_numpy(),
            "propensity": d["propensity"].to_numpy(dtype=float),
        }
    )
    return frame[list(columns("log"))].assign(loan_id=d["loan_id"].to_numpy())


def play_forward(
    cfg: RollcureConfig,
    book_run,
    bundle: Bundle,
    cycles: int,
    salt: str,
    model_name: str,
    model_version: str,
) -> ForwardRun:
    """Go on from ``book_run`` (a ``simulation.BookRun``) for ``cycles`` months under ``bundle``'s
    decisions; return them as log rows and the decided cases' true states."""
    from features.build import build_features

    if cycles < 1:
        raise InputError(f"--cycles: must be at least 1, got {cycles}")
    if bundle.policy is None:
        raise InputError("bundle: no policy (action-response models), so it cannot decide")
    logged: list[pd.DataFrame] = []
    states: list[pd.DataFrame] = []
    for c in range(cycles):  # loop over months, never over cases

        def decider(idx: np.ndarray, state, date: np.datetime64, c: int = c):
            now = book_run.portfolio().tables
            cases = pd.DataFrame({"loan_id": book_run.loan_ids(idx), "as_of": pd.Timestamp(date)})
            X = build_features(now, cases, cfg.features)
            month_seed = cfg.seed * _SEED_STRIDE + book_run.k
            d = decide(bundle, X, seed=month_seed, explain=False).to_frame()
            logged.append(log_rows(d, X, salt, model_name, model_version, cfg.seed, book_run.k))
            frame = pd.DataFrame({f.name: getattr(state, f.name) for f in fields(state)})
            frame.insert(0, "as_of", pd.Timestamp(date))
            frame.insert(0, "loan_id", cases["loan_id"].to_numpy())
            states.append(frame)
            acted = d["action"].replace({MANUAL_REVIEW: "none"})
            chosen = pd.Categorical(acted, categories=list(ACTIONS)).codes
            return chosen.astype(np.int8), d["propensity"].to_numpy(dtype=float)

        book_run.month(decider)
    return ForwardRun(pd.concat(logged, ignore_index=True), pd.concat(states, ignore_index=True))
