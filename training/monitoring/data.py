"""The monitored cases: every overdue case since the champion was trained, joined to what happened.

One frame per monitoring run, assembled from the raw tables with the feature pipeline (the code
training and serving share) and, where the service logged the case, its decision: features and
both scores; the next cycle's roll-forward and cure (NaN until that cycle exists: a case is never
labelled from a cycle nobody saw); the realised value of the action taken, on the value definition
the policy's expected value uses (``rollcure.core.value`` with the policy's look-ahead, recovery
factors from the history before the champion's out-of-time cycles); the action the raw tables
record; and the decision log's arm, expected value and propensity, joined on the salted case hash.
Beside it: the drift reference (a seeded sample of the champion's training cases) and the
discrimination the champion was signed off with (AUC on its own out-of-time cycles).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.bundle import Bundle
from models.metrics import auc
from rollcure.config import RollcureConfig
from rollcure.config.model import TARGETS
from rollcure.core.case_hash import hash_case_ids
from rollcure.core.domain import DAYS_PER_CYCLE, bucket_of
from rollcure.core.errors import InputError
from rollcure.core.value import Valuation
from training.split import TimeSplit

KEYS = ["loan_id", "as_of"]
SCORES = [f"p_{t}" for t in TARGETS]


@dataclass
class MonitorData:
    """What every view of the monitor reads."""

    #: monitored cases: features, scores, outcomes, the log; dpd_bucket and loan_product to group by
    cases: pd.DataFrame
    reference: pd.DataFrame  # training sample: features and scores
    baseline_auc: dict[str, float]  # per target, on the champion's out-of-time cycles
    features: list[str]
    cycles: list[pd.Timestamp]
    trained_until: pd.Timestamp
    valuation: Valuation


def champion_split(bundle: Bundle) -> TimeSplit:
    split = bundle.metadata.get("split")
    if not split or not split.get("oot"):
        raise InputError("bundle: no time split in its metadata, so the cycles since training are unknown")
    return TimeSplit.from_description(split)


def monitored_cycles(cycles: pd.DataFrame, trained_until: pd.Timestamp, since: pd.Timestamp | None) -> list:
    """Cycle dates after the champion's last out-of-time cycle (and from ``since`` on, if given)."""
    dates = pd.to_datetime(pd.Series(cycles["cycle_date"].unique())).sort_values()
    keep = dates[dates > trained_until]
    if since is not None:
        keep = keep[keep >= since]
    if keep.empty:
        after = f" on or after {since.date()}" if since is not None else ""
        raise InputError(
            f"--since: no cycle after the champion's training (last out-of-time cycle "
            f"{trained_until.date()}){after} in the data"
        )
    return [pd.Timestamp(d) for d in keep]


def _features(tables, cases: pd.DataFrame, bundle: Bundle) -> pd.DataFrame:
    from features.build import build_features

    X = build_features(tables, cases, bundle.feature_config).reset_index(drop=True)
    scores = bundle.score(X[bundle.feature_names]).to_frame().reset_index(drop=True)
    # every feature column stays: the policy's rules read some the classifiers do not
    return pd.concat([X.drop(columns=[c for c in SCORES if c in X.columns]), scores], axis=1)


def _labels(cycles: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """Next-cycle roll-forward and cure (one cycle is all they need; the recovered amount's longer
    window is not waited for)."""
    from features.labels import build_labels

    labels, _ = build_labels(cycles, cases, DAYS_PER_CYCLE)
    return labels[[*KEYS, *TARGETS]].astype({t: float for t in TARGETS})


def policy_valuation(tables, cfg: RollcureConfig, bundle: Bundle, until: pd.Timestamp) -> Valuation:
    """The value definition the policy's expected values use: its look-ahead, the book's recovery
    factors up to ``until``."""
    from training.backtest import book_valuation

    valuation = book_valuation(tables, cfg, until)
    lookahead = bundle.policy.config.lookahead_cycles if bundle.policy is not None else None
    horizon = lookahead or cfg.value.horizon_cycles
    return Valuation(cfg.value.model_copy(update={"horizon_cycles": horizon}), valuation.factors)


def _realised_value(tables, cases: pd.DataFrame, valuation: Valuation) -> pd.DataFrame:
    from features.value_labels import build_value_labels

    values, _ = build_value_labels(tables, cases[KEYS], valuation)
    return values[[*KEYS, "value"]].rename(columns={"value": "realised_value"})


def _logged_actions(tables) -> pd.DataFrame:
    """The action the raw tables record per case (whoever decided it) and its propensity."""
    actions = tables.get("actions")
    names = {"decided_at": "as_of", "action": "taken_action", "propensity": "taken_propensity"}
    if actions is None:
        actions = pd.DataFrame({c: [] for c in names}).astype({"decided_at": "datetime64[ns]"})
    frame = actions.rename(columns=names)[[*KEYS, "taken_action", "taken_propensity"]]
    return frame.astype({"loan_id": "int64", "taken_action": object, "taken_propensity": float})


def _join_log(cases: pd.DataFrame, log: pd.DataFrame | None, salt: str | None) -> pd.DataFrame:
    """The decision log's columns per case (``logged`` False where the service never decided it).

    A case decided more than once (a retried request, a what-if call) keeps the decision that was
    carried out, the one whose action the raw tables record, and among those the latest."""
    out = cases.assign(logged=False, arm=None, expected_value=np.nan, log_propensity=np.nan, log_action=None)
    if log is None or log.empty:
        return out
    if not salt:
        raise InputError("salt: the decision log's case hashes need the salt they were made with")
    log = log.rename(columns={"propensity": "log_propensity", "action": "log_action"})
    keyed = cases[[*KEYS, "taken_action"]].assign(case_hash=hash_case_ids(cases["loan_id"].to_numpy(), salt))
    cols = ["case_hash", "as_of", "decided_at", "arm", "expected_value", "log_propensity", "log_action"]
    every = keyed.reset_index().merge(log[cols], on=["case_hash", "as_of"], how="inner")
    every["carried_out"] = (every["log_action"] == every["taken_action"]).to_numpy()
    chosen = every.sort_values(["carried_out", "decided_at"]).drop_duplicates("index", keep="last")
    joined = keyed.reset_index()[["index"]].merge(chosen, on="index", how="left")
    out = out.copy()
    for c in ("arm", "expected_value", "log_propensity", "log_action"):
        out[c] = joined[c].to_numpy()
    out["logged"] = joined["arm"].notna().to_numpy()
    return out


def assemble(
    tables: dict[str, pd.DataFrame],
    cfg: RollcureConfig,
    bundle: Bundle,
    log: pd.DataFrame | None,
    salt: str | None,
    since: pd.Timestamp | None = None,
) -> MonitorData:
    """Build the monitored cases, the drift reference and the baseline AUC."""
    from features.cases import overdue_cases

    split = champion_split(bundle)
    trained_until = max(split.oot)
    cycles = monitored_cycles(tables["cycles"], trained_until, since)
    mcfg = cfg.monitoring
    train_cases = overdue_cases(tables["cycles"], list(split.train))
    if train_cases.empty:
        raise InputError("--data: none of the champion's training cycles is in the data")
    ref_cases = train_cases.sample(n=min(mcfg.reference_sample, len(train_cases)), random_state=cfg.seed)
    reference = _features(tables, ref_cases.sort_values(KEYS), bundle)

    oot = _features(tables, overdue_cases(tables["cycles"], list(split.oot)), bundle)
    oot = oot.merge(_labels(tables["cycles"], oot[KEYS]), on=KEYS)
    baseline = {t: auc(oot[t].to_numpy(), oot[f"p_{t}"].to_numpy()) for t in TARGETS}

    cases = overdue_cases(tables["cycles"], cycles)
    frame = _features(tables, cases, bundle)
    frame = frame.merge(_labels(tables["cycles"], cases), on=KEYS, how="left")
    valuation = policy_valuation(tables, cfg, bundle, min(split.oot) - pd.Timedelta(days=1))
    frame = frame.merge(_realised_value(tables, cases, valuation), on=KEYS, how="left")
    frame = frame.merge(_logged_actions(tables), on=KEYS, how="left")
    product = tables["loans"].set_index("loan_id")["product"].astype(str)
    frame["loan_product"] = frame["loan_id"].map(product).to_numpy(dtype=object)
    dpd = tables["cycles"].rename(columns={"cycle_date": "as_of"})[[*KEYS, "dpd"]]
    frame["dpd_bucket"] = bucket_of(frame[KEYS].merge(dpd, on=KEYS, how="left")["dpd"].to_numpy())
    frame = _join_log(frame, log, salt)
    return MonitorData(frame, reference, baseline, bundle.feature_names, cycles, trained_until, valuation)
