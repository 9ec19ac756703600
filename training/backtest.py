"""Strategy backtest against the simulator's truth, on held-out cycles and common random numbers.

Every strategy decides for the same held-out cases under the same rules and per-cycle capacities;
the oracle (``simulation.oracle``) then says what each choice truly yields: expected net value
(for regret) and one realised future shared by all actions (common random numbers, for the
realised net recovery, cure and roll). Beside the truth, each policy's value is also estimated
off-policy from the logged data alone (IPS and doubly robust), the way a real lender would have to.

Only this module and ``simulation`` read the simulator's truth.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from models.allocation import allocate
from models.bundle import Bundle, PolicyBundle
from models.eligibility import eligibility
from models.policy import decide
from models.strategies import dpd_ladder, random_policy, risk_score_policy
from models.uplift import KEYS, ActionModels, fit_action_models
from rollcure.config import RollcureConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.domain import bucket_index, bucket_of
from rollcure.core.errors import InputError
from training.forecast import bucket_forecast, forecast_error, transition_matrix
from training.kpis import kpi_table, logged_kpi_frame
from training.offpolicy import off_policy_estimates

POLICIES: tuple[str, ...] = ("oracle", "rollcure", "risk_score", "dpd_ladder", "random")
METRICS: tuple[str, ...] = ("net_recovery", "recovery_rate", "cost", "cure_rate", "roll_rate", "regret")


@dataclass
class BacktestResult:
    policies: pd.DataFrame  # one row per policy: METRICS + expected_net_value, cases
    off_policy: pd.DataFrame  # per policy: truth, ips, dr with intervals, on the labelled cases
    forecast: pd.DataFrame  # next-cycle bucket flow under rollcure: forecast vs Markov vs actual
    arms: pd.DataFrame  # champion / challenger / explore arms of live decisions
    kpis: pd.DataFrame  # KPIs by action and by bucket: under rollcure (truth) and as logged
    facts: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        """The issue's JSON shape: ``{"policies": {name: {metric: value}}}`` plus the extras."""
        by_policy = self.policies.set_index("policy")
        pol = {name: {m: float(row[m]) for m in METRICS} for name, row in by_policy.iterrows()}
        return {
            "policies": pol,
            "expected_net_value": by_policy["expected_net_value"].astype(float).to_dict(),
            "off_policy": self.off_policy.set_index("policy").to_dict(orient="index"),
            "forecast": {
                **forecast_error(self.forecast),
                "table": self.forecast.to_dict(orient="records"),
            },
            "arms": self.arms.set_index("arm").to_dict(orient="index"),
            "kpis": self.kpis.to_dict(orient="records"),
            "facts": self.facts,
        }


def fit_policy_models(
    tables: dict[str, pd.DataFrame], cfg: RollcureConfig, before: pd.Timestamp
) -> ActionModels:
    """Fit the action-response models on the logged cases decided before ``before``.

    What ``rollcure train`` calls (with the first out-of-time date) to fill the bundle's
    ``action_models`` slot.
    """
    from features.dataset import build_dataset

    if "actions" not in tables:
        raise InputError("--data: the book has no actions table, so no action-response model can be learnt")
    ds = build_dataset(tables, cfg.features)
    keep = (pd.to_datetime(ds.X["as_of"]) < before).to_numpy()
    return fit_action_models(ds.X[keep], ds.labels, tables["actions"], cfg.policy, cfg.seed)


def held_out_start(bundle: Bundle) -> pd.Timestamp:
    """First out-of-time cycle of the bundle's training split: cases from here on were never fitted."""
    split = bundle.metadata.get("split")
    if not split or not split.get("oot"):
        raise InputError("bundle: no time split in its metadata; cannot tell held-out cases apart")
    return pd.Timestamp(split["oot"][0])


def _per_cycle(as_of: np.ndarray, pick) -> np.ndarray:
    """Run a per-cycle chooser (capacities are per cycle) over every cycle; returns action indices."""
    out = np.zeros(len(as_of), dtype=int)
    for day in np.unique(as_of):  # loop over cycles, never over cases
        rows = np.flatnonzero(as_of == day)
        out[rows] = pick(rows)
    return out


def _metrics(choice, values, rec, cure, roll, balance, costs) -> dict[str, float]:
    rows = np.arange(len(choice))
    recovered = rec[rows, choice]
    cost = costs[choice]
    return {
        "net_recovery": float((recovered - cost).sum()),
        "recovery_rate": float(recovered.sum() / balance.sum()),
        "cost": float(cost.sum()),
        "cure_rate": float(cure[rows, choice].mean()),
        "roll_rate": float(roll[rows, choice].mean()),
        "expected_net_value": float(values[rows, choice].sum()),
        "cases": len(choice),
    }


def run_backtest(
    tables: dict[str, pd.DataFrame],
    truth: dict[str, pd.DataFrame],
    bundle: Bundle,
    cfg: RollcureConfig,
    seed: int,
) -> BacktestResult:
    """Compare the strategies on the cases at or after the bundle's first out-of-time cycle."""
    from features.build import build_features
    from features.labels import build_labels
    from simulation.oracle import action_values, potential_outcomes

    if "case_states" not in truth:
        raise InputError("--data: simulator truth lacks case_states")
    start = held_out_start(bundle)
    states = truth["case_states"]
    states = states[pd.to_datetime(states["as_of"]) >= start].reset_index(drop=True)
    if states.empty:
        raise InputError(f"--data: no overdue case at or after the held-out start {start.date()}")
    if bundle.policy is None:
        bundle.policy = PolicyBundle.from_config(cfg.policy, fit_policy_models(tables, cfg, start))
    pcfg, models = bundle.policy.config, bundle.policy.action_models
    cases = states[KEYS].copy()
    X = build_features(tables, cases, cfg.features)
    rules = bundle.policy.rules
    el = eligibility(X, rules)
    scores = bundle.score(X).to_frame()
    pred = models.predict(X, costs=np.asarray(pcfg.cost_vector()))
    true_costs = np.asarray(cfg.simulation.cost_vector())
    av = action_values(states, cfg.simulation)
    V = av[[f"value_{a}" for a in ACTIONS]].to_numpy()
    po = potential_outcomes(states, cfg.simulation, seed)
    rec = po[[f"recovered_{a}" for a in ACTIONS]].to_numpy()
    cure = po[[f"cure_{a}" for a in ACTIONS]].to_numpy()
    roll = po[[f"roll_{a}" for a in ACTIONS]].to_numpy()
    caps = np.asarray(pcfg.cycle_capacity())
    as_of = pd.to_datetime(X["as_of"]).to_numpy()
    rng = np.random.default_rng(seed)
    choosers = {
        "oracle": lambda r: allocate(V[r], el.mask[r], caps),
        "rollcure": lambda r: allocate(pred.decision[r], el.mask[r], caps),
        "risk_score": lambda r: risk_score_policy(X.iloc[r], scores.iloc[r], el.mask[r], caps, pcfg),
        "dpd_ladder": lambda r: dpd_ladder(X.iloc[r], el.mask[r], caps),
        "random": lambda r: random_policy(el.mask[r], caps, rng),
    }
    choices = {name: _per_cycle(as_of, pick) for name, pick in choosers.items()}
    balance = X["balance"].to_numpy(dtype=float)
    rows = [{"policy": n, **_metrics(c, V, rec, cure, roll, balance, true_costs)} for n, c in choices.items()]
    policies = pd.DataFrame(rows)
    policies["regret"] = policies.loc[0, "expected_net_value"] - policies["expected_net_value"]

    # off-policy estimates on the held-out cases whose logged outcome is observed
    labels, _ = build_labels(tables["cycles"], cases, cfg.features.horizon_days)
    logged = tables["actions"].rename(columns={"decided_at": "as_of"})[
        [*KEYS, "action", "propensity", "cost"]
    ]
    obs = cases.reset_index().merge(labels[[*KEYS, "recovered_amount"]], on=KEYS).merge(logged, on=KEYS)
    idx = obs["index"].to_numpy()
    logged_a = pd.Categorical(obs["action"], categories=list(ACTIONS)).codes
    reward = obs["recovered_amount"].to_numpy(dtype=float) - obs["cost"].to_numpy(dtype=float)
    ope = []
    for name, c in choices.items():
        est = off_policy_estimates(
            c[idx], logged_a, obs["propensity"].to_numpy(), reward, pred.value[idx], seed=seed
        )
        truth_mean = float(V[idx, c[idx]].mean())
        ope.append(
            {"policy": name, "truth": truth_mean}
            | {
                f"{k}{s}": getattr(e, a)
                for k, e in est.items()
                for s, a in (("", "value"), ("_low", "low"), ("_high", "high"))
            }
            | {f"{k}_error": e.value - truth_mean for k, e in est.items()}
        )
    off_policy = pd.DataFrame(ope)
    off_policy["logged_cases"] = len(idx)

    rc = choices["rollcure"]
    r_all = np.arange(len(rc))
    forecast = bucket_forecast(
        X["dpd"].to_numpy(),
        balance,
        pred.cure[r_all, rc],
        scores["p_roll_forward"].to_numpy(),
        transition_matrix(tables["cycles"], until=start - pd.Timedelta(days=1)),
        cure[r_all, rc],
        roll[r_all, rc],
    )
    under_rollcure = pd.DataFrame(
        {
            "action": np.asarray(ACTIONS)[rc],
            "bucket": bucket_of(X["dpd"].to_numpy()),
            "balance": balance,
            "recovered": rec[r_all, rc],
            "cost": true_costs[rc],
            "cure": cure[r_all, rc],
            "roll": roll[r_all, rc],
            "dpd": X["dpd"].to_numpy(),
        }
    )
    logged_frame = logged_kpi_frame(X, labels, tables["actions"])
    kpis = pd.concat(
        [
            kpi_table(frame, by=by).rename(columns={by: "group"}).assign(source=source, by=by)
            for source, frame in (("rollcure_backtest", under_rollcure), ("logged", logged_frame))
            for by in ("action", "bucket")
        ],
        ignore_index=True,
    )
    arms = _arms(bundle, X, as_of, V, rec, true_costs, seed)
    facts = {
        "held_out_from": str(start.date()),
        "cycles": int(len(np.unique(as_of))),
        "cases": len(X),
        "capacity_per_cycle": {a: c for a, c in zip(ACTIONS, caps.tolist(), strict=True) if np.isfinite(c)},
        "bucket_mix": np.bincount(bucket_index(X["dpd"].to_numpy()), minlength=8).tolist(),
    }
    return BacktestResult(policies, off_policy, forecast, arms, kpis, facts)


def _arms(bundle: Bundle, X: pd.DataFrame, as_of: np.ndarray, V, rec, costs, seed: int) -> pd.DataFrame:
    """Live decisions (champion, challenger, exploration) scored against the truth, per arm."""
    parts = []
    for k, day in enumerate(np.unique(as_of)):
        rows = np.flatnonzero(as_of == day)
        d = decide(bundle, X.iloc[rows], seed=seed + k, explain=False).to_frame()
        chosen = pd.Categorical(
            d["action"].replace({"manual_review": "none"}), categories=list(ACTIONS)
        ).codes
        parts.append(
            pd.DataFrame(
                {
                    "arm": d["arm"].to_numpy(),
                    "expected_net_value": V[rows, chosen],
                    "net_recovery": rec[rows, chosen] - costs[chosen],
                    "propensity": d["propensity"].to_numpy(),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    out = frame.groupby("arm").agg(
        cases=("arm", "size"),
        expected_net_value_per_case=("expected_net_value", "mean"),
        net_recovery_per_case=("net_recovery", "mean"),
        mean_propensity=("propensity", "mean"),
    )
    return out.reset_index()
