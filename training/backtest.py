"""Strategy backtest against the simulator's truth, on held-out cycles and common random numbers.

Every strategy decides for the same held-out cases under the same rules and per-cycle capacities;
the oracle (``simulation.oracle``) then says what each choice is truly worth, on the one value
definition (``rollcure.core.value``, recovery factors from the book's history before the held-out
start): expected value (``expected_net_value``, for regret) and one realised future shared by all
actions (common random numbers, for the realised value, cash within the horizon, cure and roll).
Beside the truth, each policy's value is also estimated off-policy from the logged data alone
(IPS, self-normalised IPS and doubly robust), the way a real lender would have to.

Only this module and ``simulation`` read the simulator's truth.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from engine.loan_sample import cut_to_sample, loan_sample, loans_where
from models.allocation import allocate
from models.bundle import Bundle, PolicyBundle
from models.draws import splitmix64
from models.eligibility import eligibility
from models.policy import decide
from models.strategies import dpd_ladder, random_policy, risk_score_policy
from models.uplift import KEYS, ActionModels, ActionPrediction, fit_action_models
from rollcure.config import RollcureConfig
from rollcure.core.catalogue import ACTIONS
from rollcure.core.domain import bucket_index, bucket_of
from rollcure.core.errors import InputError
from rollcure.core.value import Valuation
from rollcure.core.value_history import estimate_valuation
from training.forecast import bucket_forecast, forecast_error, transition_matrix
from training.kpis import kpi_table, logged_kpi_frame
from training.offpolicy import off_policy_estimates

POLICIES: tuple[str, ...] = ("oracle", "rollcure", "risk_score", "dpd_ladder", "random")
METRICS: tuple[str, ...] = (
    "net_recovery",
    "recovery_rate",
    "cost",
    "cure_rate",
    "roll_rate",
    "realised_value",
    "regret",
)


@dataclass
class BacktestResult:
    policies: pd.DataFrame  # one row per policy: METRICS + expected_net_value, cases
    off_policy: pd.DataFrame  # per policy: truth, ips, dr with intervals, on the labelled cases
    forecast: pd.DataFrame  # next-cycle bucket flow under rollcure: forecast vs Markov vs actual
    arms: pd.DataFrame  # champion / challenger / explore arms of live decisions
    kpis: pd.DataFrame  # KPIs by action and by bucket: under rollcure (truth) and as logged
    facts: dict = field(default_factory=dict)
    #: oracle's action vs rollcure's, by ability x willingness quadrant (the simulator's latents)
    confusion: pd.DataFrame = field(default_factory=pd.DataFrame)

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
            "confusion": self.confusion.to_dict(orient="records"),
        }


def fit_policy_models(
    tables: dict[str, pd.DataFrame], cfg: RollcureConfig, before: pd.Timestamp
) -> ActionModels:
    """Fit the action-response models on the logged cases whose value horizon ends before ``before``.

    What ``rollcure train`` calls (with the first out-of-time date) to fill the bundle's
    ``action_models`` slot. The value labels use recovery factors estimated from the same history.
    """
    from features.dataset import build_dataset
    from features.value_labels import build_value_labels

    if "actions" not in tables:
        raise InputError("--data: the book has no actions table, so no action-response model can be learnt")
    ds = build_dataset(tables, cfg.features)
    cut = before - pd.Timedelta(days=1)
    valuation = book_valuation(tables, cfg, cut)
    if cfg.policy.lookahead_cycles is not None:  # the models' own look-ahead, valued the same way
        horizon = cfg.value.model_copy(update={"horizon_cycles": cfg.policy.lookahead_cycles})
        valuation = Valuation(horizon, valuation.factors)
    values, unseen = build_value_labels(tables, ds.X[KEYS], valuation, observed_until=cut)
    if values.empty:
        raise InputError(
            f"--data: no case before {before.date()} has its whole value horizon "
            f"({valuation.horizon} cycles: value.horizon_cycles or policy.lookahead_cycles) observed "
            f"({unseen:,} cases are too recent); "
            "a longer book or a shorter horizon is needed to learn what each action is worth"
        )
    labels = ds.labels[[*KEYS, "cure", "roll_forward"]].merge(values, on=KEYS)
    keep = (pd.to_datetime(ds.X["as_of"]) < before).to_numpy()
    return fit_action_models(
        ds.X[keep], labels, tables["actions"], cfg.policy, cfg.seed, horizon_cycles=valuation.horizon
    )


def book_valuation(
    tables: dict[str, pd.DataFrame], cfg: RollcureConfig, until: pd.Timestamp | None
) -> Valuation:
    """The value definition with recovery factors from the book's history up to ``until``."""
    return estimate_valuation(tables["cycles"], tables["loans"], tables.get("actions"), cfg.value, until)


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


def _metrics(choice, values, realised, cash, cure, roll, balance, costs) -> dict[str, float]:
    rows = np.arange(len(choice))
    recovered = cash[rows, choice]
    cost = costs[choice]
    return {
        "net_recovery": float((recovered - cost).sum()),
        "recovery_rate": float(recovered.sum() / balance.sum()),
        "cost": float(cost.sum()),
        "cure_rate": float(cure[rows, choice].mean()),
        "roll_rate": float(roll[rows, choice].mean()),
        "realised_value": float(realised[rows, choice].sum()),
        "expected_net_value": float(values[rows, choice].sum()),
        "cases": len(choice),
    }


@dataclass
class _Book:
    """The cases of one evaluation set with what every strategy needs to decide on them."""

    states: pd.DataFrame
    X: pd.DataFrame
    eligible: np.ndarray
    scores: pd.DataFrame
    pred: ActionPrediction
    values: np.ndarray  # the oracle's expected value, cases x actions

    @property
    def as_of(self) -> np.ndarray:
        return pd.to_datetime(self.X["as_of"]).to_numpy()


def _book(
    tables: dict[str, pd.DataFrame],
    states: pd.DataFrame,
    bundle: Bundle,
    cfg: RollcureConfig,
    valuation: Valuation,
    predict: Callable[[pd.DataFrame], ActionPrediction] | None = None,
) -> _Book:
    """``predict``: every action's prediction of a feature frame (default: the bundle's models)."""
    from features.build import build_features
    from simulation.oracle import action_values

    policy = bundle.policy
    assert policy is not None
    X = build_features(tables, states[KEYS].copy(), cfg.features)
    costs = np.asarray(policy.config.cost_vector())
    pred = policy.action_models.predict(X, costs=costs) if predict is None else predict(X)
    av = action_values(states, cfg.simulation, valuation)
    return _Book(
        states,
        X,
        eligibility(X, policy.rules).mask,
        bundle.score(X).to_frame(),
        pred,
        av[[f"value_{a}" for a in ACTIONS]].to_numpy(),
    )


def _choices(book: _Book, pcfg, seed: int) -> dict[str, np.ndarray]:
    """Every strategy's action per case, cycle by cycle under the same capacities."""
    caps = np.asarray(pcfg.cycle_capacity())
    rng = np.random.default_rng(seed)
    X, el, V, pred, scores = book.X, book.eligible, book.values, book.pred, book.scores
    choosers = {
        "oracle": lambda r: allocate(V[r], el[r], caps),
        "rollcure": lambda r: allocate(pred.decision[r], el[r], caps),
        "risk_score": lambda r: risk_score_policy(X.iloc[r], scores.iloc[r], el[r], caps, pcfg),
        "dpd_ladder": lambda r: dpd_ladder(X.iloc[r], el[r], caps),
        "random": lambda r: random_policy(el[r], caps, rng),
    }
    return {name: _per_cycle(book.as_of, pick) for name, pick in choosers.items()}


def run_backtest(
    tables: dict[str, pd.DataFrame],
    truth: dict[str, pd.DataFrame],
    bundle: Bundle,
    cfg: RollcureConfig,
    seed: int,
) -> BacktestResult:
    """Compare the strategies on the cases at or after the bundle's first out-of-time cycle."""
    from features.labels import build_labels
    from simulation.oracle import potential_outcomes

    if "case_states" not in truth:
        raise InputError("--data: simulator truth lacks case_states")
    start = held_out_start(bundle)
    all_states = truth["case_states"]
    states = all_states[pd.to_datetime(all_states["as_of"]) >= start].reset_index(drop=True)
    if states.empty:
        raise InputError(f"--data: no overdue case at or after the held-out start {start.date()}")
    if bundle.policy is None:
        sampled = cut_to_sample(tables, policy_share(bundle, tables, cfg))
        bundle.policy = PolicyBundle.from_config(cfg.policy, fit_policy_models(sampled, cfg, start))
    pcfg = bundle.policy.config
    valuation = book_valuation(tables, cfg, start - pd.Timedelta(days=1))
    book = _book(tables, states, bundle, cfg, valuation)
    X, V, pred = book.X, book.values, book.pred
    true_costs = np.asarray(cfg.simulation.cost_vector())
    po = potential_outcomes(states, cfg.simulation, valuation, seed)
    realised, cash, cure, roll = (
        po[[f"{k}_{a}" for a in ACTIONS]].to_numpy() for k in ("value", "cash", "cure", "roll")
    )
    choices = _choices(book, pcfg, seed)
    balance = X["balance"].to_numpy(dtype=float)
    rows = [
        {"policy": n, **_metrics(c, V, realised, cash, cure, roll, balance, true_costs)}
        for n, c in choices.items()
    ]
    policies = pd.DataFrame(rows)
    policies["regret"] = policies.loc[0, "expected_net_value"] - policies["expected_net_value"]
    off_policy = _off_policy(tables, all_states, bundle, cfg, valuation, seed)

    labels, _ = build_labels(tables["cycles"], states[KEYS], cfg.features.horizon_days)
    rc = choices["rollcure"]
    r_all = np.arange(len(rc))
    as_of = book.as_of
    forecast = bucket_forecast(
        X["dpd"].to_numpy(),
        balance,
        pred.cure[r_all, rc],
        book.scores["p_roll_forward"].to_numpy(),
        transition_matrix(tables["cycles"], until=start - pd.Timedelta(days=1)),
        cure[r_all, rc],
        roll[r_all, rc],
    )
    under_rollcure = pd.DataFrame(
        {
            "action": np.asarray(ACTIONS)[rc],
            "bucket": bucket_of(X["dpd"].to_numpy()),
            "balance": balance,
            "recovered": cash[r_all, rc],
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
    arms = _arms(bundle, X, as_of, V, realised, seed)
    confusion, clear = _against_the_oracle(states, cfg, V, book.eligible, choices, true_costs)
    caps = np.asarray(pcfg.cycle_capacity())
    facts = {
        "held_out_from": str(start.date()),
        "cycles": int(len(np.unique(as_of))),
        "cases": len(X),
        "capacity_per_cycle": {a: c for a, c in zip(ACTIONS, caps.tolist(), strict=True) if np.isfinite(c)},
        "bucket_mix": np.bincount(bucket_index(X["dpd"].to_numpy()), minlength=8).tolist(),
        "value": cfg.value.model_dump(),
        "recovery_factors": valuation.factors.to_frame().to_dict(orient="records"),
        "clear_cases": clear,
        # the off-policy figures' models: fitted without each case's loan (folds >= 2) or in-sample (1)
        "off_policy_folds": cfg.training.ope_folds,
    }
    return BacktestResult(policies, off_policy, forecast, arms, kpis, facts, confusion)


#: Latent cut-off of the ability x willingness quadrants (both latents lie in [0, 1]).
_QUADRANT_CUT = 0.5


def _against_the_oracle(
    states: pd.DataFrame,
    cfg: RollcureConfig,
    values: np.ndarray,
    eligible: np.ndarray,
    choices: dict[str, np.ndarray],
    costs: np.ndarray,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """How rollcure's choices line up with the oracle's, in terms a strategist can check.

    The confusion table counts (oracle's action, rollcure's action) per ability x willingness
    quadrant of the simulator's latents. The clear cases are those whose best eligible action beats
    the second best by more than the second's cost: there the choice matters and is not a toss-up;
    the share of them where rollcure picks the oracle's best is reported.
    """
    from simulation.dynamics import effective_latents
    from simulation.oracle import state_of_cases

    ability, will = effective_latents(state_of_cases(states), cfg.simulation)
    quadrant = np.where(ability >= _QUADRANT_CUT, "able", "unable").astype(object) + np.where(
        will >= _QUADRANT_CUT, " & willing", " & unwilling"
    )
    names = np.asarray(ACTIONS)
    frame = pd.DataFrame(
        {
            "quadrant": quadrant,
            "oracle": names[choices["oracle"]],
            "rollcure": names[choices["rollcure"]],
        }
    )
    confusion = frame.value_counts().rename("cases").reset_index()
    masked = np.where(eligible, values, -np.inf)
    order = np.argsort(-masked, axis=1)
    rows = np.arange(len(values))
    best, second = order[:, 0], order[:, 1]
    gap = masked[rows, best] - masked[rows, second]
    clear = np.isfinite(gap) & (gap > costs[second])

    def share(policy: str) -> float:
        return float((choices[policy] == best)[clear].mean()) if clear.any() else float("nan")

    return confusion, {
        "cases": int(clear.sum()),
        "rollcure_picks_the_best": share("rollcure"),
        "ladder_picks_the_best": share("dpd_ladder"),
        # the oracle policy too: it works under the same capacities, so this is the reachable share
        "oracle_picks_the_best": share("oracle"),
    }


def _off_policy(
    tables: dict[str, pd.DataFrame],
    all_states: pd.DataFrame,
    bundle: Bundle,
    cfg: RollcureConfig,
    valuation: Valuation,
    seed: int,
) -> pd.DataFrame:
    """IPS, SNIPS and DR estimates of every strategy beside the oracle's truth.

    They need each case's logged value, observed only once its whole horizon has passed, so they
    run on the latest ``training.ope_cycles`` cycles whose horizon lies inside the book (not the
    held-out cycles, whose horizon has not happened yet); the recovery factors stay those of the
    history before the held-out start.
    """
    from features.value_labels import build_value_labels

    as_of = pd.to_datetime(all_states["as_of"])
    values, _ = build_value_labels(tables, all_states[KEYS], valuation)
    days = np.sort(pd.to_datetime(values["as_of"]).unique())[-cfg.training.ope_cycles :]
    if len(days) == 0:
        return pd.DataFrame(columns=["policy", "truth", "logged_cases"])
    states = all_states[as_of.isin(days).to_numpy()].reset_index(drop=True)
    predict = _cross_fitted(tables, bundle, cfg, cfg.training.ope_folds)
    book = _book(tables, states, bundle, cfg, valuation, predict)
    choices = _choices(book, bundle.policy.config if bundle.policy else cfg.policy, seed)
    logged = tables["actions"].rename(columns={"decided_at": "as_of"})[[*KEYS, "action", "propensity"]]
    obs = states[KEYS].reset_index().merge(values[[*KEYS, "value"]], on=KEYS).merge(logged, on=KEYS)
    idx = obs["index"].to_numpy()
    logged_a = pd.Categorical(obs["action"], categories=list(ACTIONS)).codes
    reward = obs["value"].to_numpy(dtype=float)
    ope = []
    for name, c in choices.items():
        est = off_policy_estimates(
            c[idx], logged_a, obs["propensity"].to_numpy(), reward, book.pred.value[idx], seed=seed
        )
        truth_mean = float(book.values[idx, c[idx]].mean())
        ope.append(
            {"policy": name, "truth": truth_mean}
            | {
                f"{k}{s}": getattr(e, a)
                for k, e in est.items()
                for s, a in (("", "value"), ("_low", "low"), ("_high", "high"))
            }
            | {f"{k}_error": (e.value - truth_mean) / abs(truth_mean) for k, e in est.items()}
            | {f"{k}_covers": bool(e.low <= truth_mean <= e.high) for k, e in est.items()}
            | {f"{k}_width": (e.high - e.low) / abs(truth_mean) for k, e in est.items()}
        )
    off_policy = pd.DataFrame(ope)
    off_policy["logged_cases"] = len(idx)
    off_policy["cycles"] = ", ".join(str(pd.Timestamp(d).date()) for d in days)
    return off_policy


def policy_share(bundle: Bundle, tables: dict[str, pd.DataFrame], cfg: RollcureConfig) -> float:
    """The share of loans the bundle's action-response models were fitted on (its metadata), or
    the share ``training.policy_max_loans`` gives this book for a bundle that records none."""
    recorded = bundle.metadata.get("policy_loans")
    if recorded is not None:
        return float(recorded["share"])
    return loan_sample(int(tables["loans"]["loan_id"].nunique()), cfg.training.policy_max_loans).share


def loan_folds(loan_id: np.ndarray, folds: int) -> np.ndarray:
    """Each loan's fold (0..folds-1), from a hash of its id: the same loan always lands together."""
    with np.errstate(over="ignore"):
        return (splitmix64(np.asarray(loan_id).astype(np.uint64)) % np.uint64(folds)).astype(np.int64)


def without_fold(tables: dict[str, pd.DataFrame], fold: int, folds: int) -> dict[str, pd.DataFrame]:
    """The raw tables less every loan of ``fold`` (and the borrowers left with no loan)."""
    return loans_where(tables, lambda loan_id: loan_folds(loan_id, folds) != fold)


def _cross_fitted(
    tables: dict[str, pd.DataFrame], bundle: Bundle, cfg: RollcureConfig, folds: int
) -> Callable[[pd.DataFrame], ActionPrediction] | None:
    """Every action's prediction of a frame with each case's models fitted without its loan's fold
    (the policy's settings, the training period of the bundle); None for one fold (in-sample)."""
    if folds < 2 or bundle.policy is None:
        return None
    start = held_out_start(bundle)
    pcfg = bundle.policy.config
    sampled = cut_to_sample(tables, policy_share(bundle, tables, cfg))  # the loans the bundle's fit saw
    fitted = [
        fit_policy_models(without_fold(sampled, k, folds), cfg.model_copy(update={"policy": pcfg}), start)
        for k in range(folds)
    ]
    costs = np.asarray(pcfg.cost_vector())

    def predict(X: pd.DataFrame) -> ActionPrediction:
        fold = loan_folds(X["loan_id"].to_numpy(), folds)
        parts = {k: fitted[k].predict(X[fold == k], costs=costs) for k in np.unique(fold).tolist()}
        if not parts:  # an empty frame: any fold's models give the empty prediction
            return fitted[0].predict(X, costs=costs)
        first = next(iter(parts.values()))
        arrays = {}
        for f in fields(first):
            out = np.empty((len(X), *getattr(first, f.name).shape[1:]))
            for k, part in parts.items():
                out[fold == k] = getattr(part, f.name)
            arrays[f.name] = out
        return ActionPrediction(**arrays)

    return predict


def _arms(bundle: Bundle, X: pd.DataFrame, as_of: np.ndarray, V, realised, seed: int) -> pd.DataFrame:
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
                    "realised_value": realised[rows, chosen],
                    "propensity": d["propensity"].to_numpy(),
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    out = frame.groupby("arm").agg(
        cases=("arm", "size"),
        expected_net_value_per_case=("expected_net_value", "mean"),
        realised_value_per_case=("realised_value", "mean"),
        mean_propensity=("propensity", "mean"),
    )
    return out.reset_index()
