"""The arms of the decision log against what happened: does the champion still beat its challenger?

Two readings, both from the logged decisions joined to the value their actions realised (the
policy's value definition, ``training.monitoring.data``):

* **The A/B test.** The service assigns each case at random to the champion, the challenger or
  the exploration arm, so the realised value per case of the champion's and the challenger's arms
  are two independent random samples of the same book: their difference, with a bootstrap
  interval over both arms, estimates what the champion is worth over the challenger today.
* **Off-policy, from the exploration slice.** The exploration arm picks a uniformly random eligible
  action, so there the propensity of each action is known exactly (one over the eligible count)
  and every strategy can be evaluated on the same cases (``training.offpolicy``: IPS, SNIPS and
  doubly robust with the action models as the outcome model). The champion's and the challenger's
  choices are recomputed for those cases with the bundle (the whole cycle decided at once, as the
  service does, so capacities bind alike), and their difference gets a paired bootstrap interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.allocation import allocate
from models.bundle import Bundle
from models.draws import case_seeds, uniforms
from models.eligibility import eligibility
from models.policy import ARMS, challenger_choice
from models.rules import MANUAL_REVIEW
from rollcure.config.monitoring import MonitoringConfig
from rollcure.core.catalogue import ACTIONS
from training.monitoring.data import MonitorData
from training.monitoring.intervals import (
    Interval,
    difference_interval,
    mean_interval,
    percentile_interval,
    resample_counts,
)
from training.offpolicy import dr_terms, ips_terms

STRATEGIES: tuple[str, ...] = ("champion", "challenger")


def _observed(data: MonitorData) -> pd.DataFrame:
    c = data.cases
    return c[c["logged"] & c["realised_value"].notna()]


def arm_values(data: MonitorData, cfg: MonitoringConfig, seed: int) -> pd.DataFrame:
    """Per arm over the monitored cycles: cases, realised and expected value per case (intervals)."""
    obs = _observed(data)
    rows = []
    for k, arm in enumerate(ARMS):
        sub = obs[obs["arm"] == arm]
        args = (cfg.n_boot, cfg.level, seed + 31 * k)
        rows.append(
            {
                "arm": arm,
                "cases": len(sub),
                **mean_interval(sub["realised_value"].to_numpy(float), *args).as_dict("realised_value"),
                "expected_value": float(sub["expected_value"].mean()) if len(sub) else np.nan,
            }
        )
    return pd.DataFrame(rows)


def arm_difference(data: MonitorData, cfg: MonitoringConfig, seed: int) -> Interval:
    """Realised value per case, champion's arm minus challenger's arm (independent bootstrap)."""
    obs = _observed(data)
    champ = obs.loc[obs["arm"] == "champion", "realised_value"].to_numpy(float)
    chall = obs.loc[obs["arm"] == "challenger", "realised_value"].to_numpy(float)
    return difference_interval(champ, chall, cfg.n_boot, cfg.level, seed)


def strategy_choices(bundle: Bundle, cases: pd.DataFrame, seed: int) -> dict[str, np.ndarray]:
    """What the champion and the challenger would choose for every case, cycle by cycle (each
    cycle decided as one book, under the policy's per-cycle capacities), and the eligible counts."""
    assert bundle.policy is not None
    pcfg = bundle.policy.config
    caps = np.asarray(pcfg.cycle_capacity())
    X = cases.reset_index(drop=True)
    el = eligibility(X, bundle.policy.rules)
    pred = bundle.policy.action_models.predict(X, costs=np.asarray(pcfg.cost_vector()))
    scores = bundle.score(X[bundle.feature_names])
    u = uniforms(case_seeds(seed, len(X)), 2 + 2 * len(ACTIONS))
    champion = np.zeros(len(X), dtype=int)
    as_of = X["as_of"].to_numpy()
    for day in np.unique(as_of):  # capacities are per cycle: loop over cycles, never cases
        rows = np.flatnonzero(as_of == day)
        champion[rows] = allocate(pred.decision[rows], el.mask[rows], caps)
    unlimited = np.full(len(ACTIONS), np.inf)
    challenger = challenger_choice(pcfg.challenger_strategy, X, scores, el, unlimited, pcfg, u)
    return {
        "champion": champion,
        "challenger": np.asarray(challenger, dtype=int),
        "eligible": el.mask.sum(axis=1),
        "q": pred.value,
    }


def off_policy(
    data: MonitorData, bundle: Bundle, cfg: MonitoringConfig, seed: int
) -> tuple[pd.DataFrame, Interval]:
    """IPS, SNIPS and DR value per case of each strategy on the exploration slice, and the DR
    difference champion minus challenger with a paired bootstrap interval."""
    empty = pd.DataFrame(columns=["strategy", "cases", "ips", "snips", "dr", "dr_low", "dr_high"])
    if bundle.policy is None:
        return empty, Interval(np.nan, np.nan, np.nan)
    logged = data.cases[data.cases["logged"]].reset_index(drop=True)
    if logged.empty:
        return empty, Interval(np.nan, np.nan, np.nan)
    choices = strategy_choices(bundle, logged, seed)
    keep = ((logged["arm"] == "explore") & logged["realised_value"].notna()).to_numpy()
    taken = logged["taken_action"].fillna(logged["log_action"]).replace({MANUAL_REVIEW: "none"})
    a = pd.Categorical(taken[keep], categories=list(ACTIONS)).codes
    r = logged.loc[keep, "realised_value"].to_numpy(float)
    p = 1.0 / choices["eligible"][keep]
    q = choices["q"][keep]
    n = int(keep.sum())
    counts = resample_counts(max(n, 1), cfg.n_boot, seed)
    rows, dr = [], {}
    for name in STRATEGIES:
        pi = choices[name][keep]
        ips = ips_terms(pi, a, p, r)
        w = (pi == a) / p
        dr[name] = dr_terms(pi, a, p, r, q)
        est = _interval_of(dr[name], counts, cfg.level)
        rows.append(
            {
                "strategy": name,
                "cases": n,
                "ips": float(ips.mean()) if n else np.nan,
                "snips": float((w * r).sum() / w.sum()) if n and w.sum() > 0 else np.nan,
                **est.as_dict("dr"),
            }
        )
    diff = _interval_of(dr["champion"] - dr["challenger"], counts, cfg.level)
    return pd.DataFrame(rows), diff


def _interval_of(terms: np.ndarray, counts: np.ndarray, level: float) -> Interval:
    """Mean of per-case terms with the interval of the shared resamples (paired across strategies)."""
    if len(terms) == 0:
        return Interval(np.nan, np.nan, np.nan)
    return percentile_interval(float(terms.mean()), counts @ terms / len(terms), level)
