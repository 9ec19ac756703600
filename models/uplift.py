"""Action-response models: what each action is worth and how likely it cures, per case.

One LightGBM model sees the case's features plus the logged action (an S-learner), so the actions
share what they have in common (most of a case's value is what the borrower pays anyway) and an
action's effect is learnt only where the data supports it. The target is the case's value
(``rollcure.core.value``) before the logged action's own cost, as a share of the balance (amounts
are heavy-tailed, shares transfer across loan sizes), scaled back by the case's balance; older
cases count less because the book drifts. By default the value looks one cycle ahead
(``policy.lookahead_cycles`` = 1): the cash paid next cycle plus the next state's recovery factor
× the balance, so the roll-forward and cure the action causes are what it is valued by, and the
recovery factors carry everything after. Side by side on 30k × 24 books (seeds 7 and 8) this closed
65% and 61% of the DPD ladder's regret against 51% and 21% for labels over the whole 12-cycle
horizon: a next-cycle label is observed for every logged case but the latest (twelve more cycles
of data) and carries far less noise (docs/experiments.md). A small bootstrap ensemble (Poisson
weights, different seeds) gives each expected value an uncertainty band, and the expected value is
that gross value minus the action's configured cost (``recovery`` below names the gross value, for
the columns' stability). The policy ranks by ``decision``, not by the expected values: the
reference action (``REFERENCE_ACTION``, the reminder: the cheapest contact) at its expected value,
every other action at the reference's value plus the *lower* band of its contrast with the
reference (``caution_z`` bootstrap sds), minus its cost, because the contrasts are small beside
the noise of case values and point estimates would swap actions on noise. What was tried and
measured to choose these settings is in docs/experiments.md ("models/uplift.py").
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from models.action_trees import ActionForest, action_forest
from models.explain.treeshap import TreeShap, default_threads, tree_shap
from models.lgb_input import as_lgb_matrix, column_positions, column_values
from rollcure.config.policy import PolicyConfig
from rollcure.core.catalogue import ACTIONS, CATALOGUE
from rollcure.core.errors import InputError

if TYPE_CHECKING:
    import lightgbm as lgb

KEYS = ["loan_id", "as_of"]
_ACTION = "_action"
#: The value's share of the balance is capped to this range (interest can push it a little above
#: one; later actions' costs a little below zero).
_MIN_SHARE, _MAX_SHARE = -0.5, 1.5
#: The action the policy departs from only on clear evidence (see the module docstring).
REFERENCE_ACTION = CATALOGUE.reference_action


@dataclass
class ActionPrediction:
    """n x A arrays in ACTIONS order."""

    recovery: np.ndarray
    recovery_sd: np.ndarray
    cure: np.ndarray
    #: probability of a worse bucket next cycle under each action
    roll: np.ndarray
    value: np.ndarray
    value_low: np.ndarray
    value_high: np.ndarray
    #: what the policy ranks by: the reference's value, the others' lower contrast band (see above)
    decision: np.ndarray

    def columns(self) -> dict[str, np.ndarray]:
        """The per-action columns of ``to_frame`` as arrays, for callers that build one wider frame."""
        cols = {}
        for j, a in enumerate(ACTIONS):
            cols[f"ev_{a}"] = self.value[:, j]
            cols[f"ev_low_{a}"] = self.value_low[:, j]
            cols[f"ev_high_{a}"] = self.value_high[:, j]
            cols[f"recovery_{a}"] = self.recovery[:, j]
            cols[f"p_cure_{a}"] = self.cure[:, j]
            cols[f"p_roll_forward_{a}"] = self.roll[:, j]
        return cols

    def to_frame(self, index: pd.Index | None = None) -> pd.DataFrame:
        return pd.DataFrame(self.columns(), index=index)


@dataclass
class ActionModels:
    """The action-response models a bundle's policy carries.

    ``save``/``load`` write LightGBM's text format for the boosters and JSON for the settings, so
    a bundle is read without unpickling anything and the boosters predict exactly as before.
    """

    feature_names: list[str]
    costs: np.ndarray
    band_z: float
    horizon_cycles: int
    #: bootstrap members predicting the value's share of the balance, and the next cycle's cure
    #: and roll-forward classifiers (the probabilities under each action)
    recovery_members: list[lgb.Booster]
    cure_model: lgb.Booster
    roll_model: lgb.Booster
    #: logged rows per action, for the record
    arm_rows: dict[str, int] = field(default_factory=dict)
    weighting: str = "none"
    #: the policy's caution (``PolicyConfig.caution_z``); None: ``band_z`` (bundles saved before it)
    caution_z: float | None = None
    _forests: list[ActionForest] | None = field(default=None, init=False, repr=False, compare=False)
    _explainers: dict[str, TreeShap] = field(default_factory=dict, init=False, repr=False, compare=False)

    def forests(self) -> list[ActionForest]:
        """The members', the cure and the roll model's trees as arrays, read once per loaded bundle."""
        if self._forests is None:
            boosters = [*self.recovery_members, self.cure_model, self.roll_model]
            self._forests = [action_forest(m) for m in boosters]
        return self._forests

    def contributions(self, X: pd.DataFrame, target: str, action: str) -> np.ndarray:
        """Exact TreeSHAP of the next cycle's ``target`` ("roll_forward" or "cure") log-odds under
        ``action``: (n, features + 1) in ``feature_names`` order, the base value last. The action's
        own contribution is folded into the base value (every case here has the same action, so
        it is no reason of the case's), and the rows still sum to the margin."""
        booster = {"roll_forward": self.roll_model, "cure": self.cure_model}.get(target)
        if booster is None:
            raise InputError(f"action models: target must be roll_forward or cure, got {target!r}")
        if action not in ACTIONS:
            raise InputError(f"action models: action must be one of {list(ACTIONS)}, got {action!r}")
        if target not in self._explainers:
            self._explainers[target] = tree_shap(booster)
        base = self._matrix(X)
        rows = np.empty((len(base), base.shape[1] + 1))
        rows[:, :-1] = base
        rows[:, -1] = ACTIONS.index(action)
        phi = self._explainers[target].contributions(rows, default_threads())
        return np.column_stack([phi[:, :-2], phi[:, -2] + phi[:, -1]])

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The features as LightGBM's float matrix, read from X's arrays (no column-selecting copy)."""
        column_positions(X, self.feature_names, "action models: feature frame")
        return as_lgb_matrix(X, self.feature_names)

    def predict(
        self, X: pd.DataFrame, costs: np.ndarray | None = None, threads: int | None = None
    ) -> ActionPrediction:
        """Expected recovery (with band), cure probability and expected value under every action.

        Every action of a case comes from one walk of each tree (``models.action_trees``: equal to
        LightGBM's prediction of the case under each action); ``threads`` default to
        ``models.explain.treeshap.default_threads()``, as for the scorers' explanations.
        """
        base = self._matrix(X)
        balance = _balance(X, self.feature_names)
        threads = default_threads() if threads is None else threads
        raw = np.stack([forest.predict(base, len(ACTIONS), threads) for forest in self.forests()])
        members = raw[:-2] * balance[None, :, None]
        rec = np.clip(members.mean(axis=0), 0, None)
        sd = members.std(axis=0, ddof=1)
        cure, roll = raw[-2], raw[-1]
        c = self.costs if costs is None else np.asarray(costs, dtype=float)
        value = rec - c[None, :]
        half = self.band_z * sd
        caution = self.band_z if self.caution_z is None else self.caution_z
        decision = _cautious_values(members, rec, c, caution)
        return ActionPrediction(
            rec, sd, np.clip(cure, 0, 1), np.clip(roll, 0, 1), value, value - half, value + half, decision
        )

    def save(self, path: Path) -> Path:
        """Write the models into the folder ``path`` (created); returns it."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        for i, member in enumerate(self.recovery_members):
            (path / _MEMBER_FILE.format(i)).write_text(member.model_to_string())
        (path / _CURE_FILE).write_text(self.cure_model.model_to_string())
        (path / _ROLL_FILE).write_text(self.roll_model.model_to_string())
        settings = {
            "feature_names": list(self.feature_names),
            "costs": np.asarray(self.costs, dtype=float).tolist(),
            "band_z": self.band_z,
            "caution_z": self.caution_z,
            "horizon_cycles": self.horizon_cycles,
            "n_members": len(self.recovery_members),
            "arm_rows": self.arm_rows,
            "weighting": self.weighting,
        }
        (path / _SETTINGS_FILE).write_text(json.dumps(settings, indent=1))
        return path

    @classmethod
    def load(cls, path: Path) -> ActionModels:
        """Read a folder written by :meth:`save`."""
        import lightgbm as lgb

        path = Path(path)
        settings = json.loads((path / _SETTINGS_FILE).read_text())
        members = [
            lgb.Booster(model_str=(path / _MEMBER_FILE.format(i)).read_text())
            for i in range(settings.pop("n_members"))
        ]
        return cls(
            **{**settings, "costs": np.asarray(settings["costs"], dtype=float)},
            recovery_members=members,
            cure_model=lgb.Booster(model_str=(path / _CURE_FILE).read_text()),
            roll_model=lgb.Booster(model_str=_read_roll_model(path)),
        )


_SETTINGS_FILE = "action_models.json"
_MEMBER_FILE = "recovery_{}.lgb.txt"
_CURE_FILE = "cure.lgb.txt"
_ROLL_FILE = "roll_forward.lgb.txt"


def _read_roll_model(path: Path) -> str:
    file = path / _ROLL_FILE
    if not file.exists():
        raise InputError(
            f"action models: {file} is missing (a bundle from before the roll-forward model under each "
            "action); retrain the bundle"
        )
    return file.read_text()


def _cautious_values(members: np.ndarray, rec: np.ndarray, costs: np.ndarray, z: float) -> np.ndarray:
    """Reference action at its expected value; the others at the reference plus the lower band of
    their contrast with it (``z`` bootstrap sds), less their cost. Ranking by this departs from the
    reference only where the members agree that the other action pays more.
    """
    ref = ACTIONS.index(REFERENCE_ACTION)
    contrast = members - members[:, :, [ref]]
    low = contrast.mean(axis=0) - z * contrast.std(axis=0, ddof=1)
    return rec[:, [ref]] + low - costs[None, :]


_LARGEST = np.finfo(float).max


def _balance(X: pd.DataFrame, features: list[str] | None = None) -> np.ndarray:
    """Each case's balance (>= 1), which must be one of the model's ``features`` (default: X's columns)."""
    if "balance" not in (X.columns if features is None else features):
        raise InputError(
            "action models: feature 'balance' is required (recoveries are modelled as its share)"
        )
    balance = np.asarray(column_values(X, ("balance",))[0], dtype=float)  # no Series (10-80 µs)
    # np.nan_to_num(nan=0) then >= 1, without its per-call finfo look-ups: +inf -> largest float
    return np.minimum(np.maximum(np.where(np.isnan(balance), 0.0, balance), 1.0), _LARGEST)


def _with_action(X: pd.DataFrame, action: str) -> pd.DataFrame:
    out = X.copy()
    out[_ACTION] = pd.Categorical([action] * len(X), categories=list(ACTIONS))
    return out


def _lgb_params(cfg: PolicyConfig, objective: str, seed: int) -> dict:
    u = cfg.uplift
    return {
        "objective": objective,
        "learning_rate": u.learning_rate,
        "num_leaves": u.num_leaves,
        "min_child_samples": u.min_child_samples,
        "max_cat_to_onehot": u.max_cat_to_onehot,
        "feature_fraction": 0.9,
        "lambda_l2": 1.0,
        "num_threads": u.num_threads,
        "seed": seed,
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
    }


def _fit(
    X: pd.DataFrame, y: np.ndarray, w: np.ndarray, cfg: PolicyConfig, objective: str, seed: int
) -> lgb.Booster:
    import lightgbm as lgb

    data = lgb.Dataset(X, label=y, weight=w, free_raw_data=True)
    return lgb.train(_lgb_params(cfg, objective, seed), data, num_boost_round=cfg.uplift.n_estimators)


def _bagged(X: pd.DataFrame, y: np.ndarray, w: np.ndarray, cfg: PolicyConfig, seed: int) -> list[lgb.Booster]:
    rng = np.random.default_rng(seed)
    members = []
    for b in range(cfg.uplift.n_bags):
        boot = rng.poisson(1.0, len(y)).astype(float)
        members.append(_fit(X, y, w * boot, cfg, "regression", seed + b))
    return members


def _recency_weights(as_of: pd.Series, half_life_months: float) -> np.ndarray:
    """Weight halves every ``half_life_months`` before the latest case: the book drifts."""
    days = (pd.to_datetime(as_of).max() - pd.to_datetime(as_of)).dt.days.to_numpy(dtype=float)
    return 0.5 ** (days / (30.4 * half_life_months))


def logged_training_frame(
    X: pd.DataFrame, labels: pd.DataFrame, actions: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join features, labels and the logged treatment of each case on (loan_id, as_of).

    Returns the feature rows and a frame with action, propensity, cost, value_gross, cure and
    roll_forward, row-aligned. Cases without a logged action or an observed label are dropped.
    """
    for name, frame, cols in (
        ("X", X, KEYS),
        ("labels", labels, [*KEYS, "value_gross", "cure", "roll_forward"]),
        ("actions", actions, ["loan_id", "decided_at", "action", "propensity", "cost"]),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise InputError(f"action models: {name} lacks column(s) {missing}")
    logged = actions.rename(columns={"decided_at": "as_of"})[[*KEYS, "action", "propensity", "cost"]]
    keys = X[KEYS].reset_index(drop=True)
    outcomes = labels[[*KEYS, "value_gross", "cure", "roll_forward"]]
    joined = keys.merge(outcomes, on=KEYS, how="left", validate="1:1")
    joined = joined.merge(logged, on=KEYS, how="left", validate="1:1")
    ok = joined["action"].notna().to_numpy() & joined["value_gross"].notna().to_numpy()
    unknown = sorted(set(joined.loc[ok, "action"].astype(str)) - set(ACTIONS))
    if unknown:
        raise InputError(
            f"action models: actions.action has unknown value(s) {unknown}; allowed: {list(ACTIONS)}"
        )
    bad_p = ok & ~((joined["propensity"] > 0) & (joined["propensity"] <= 1)).to_numpy()
    if bad_p.any():
        raise InputError("action models: actions.propensity must be in (0, 1] for every logged case")
    return X.reset_index(drop=True)[ok], joined[ok].reset_index(drop=True)


def fit_action_models(
    X: pd.DataFrame,
    labels: pd.DataFrame,
    actions: pd.DataFrame,
    cfg: PolicyConfig,
    seed: int,
    feature_names: list[str] | None = None,
    horizon_cycles: int = 12,
) -> ActionModels:
    """Fit the action-response models on logged cases (training period only: the caller splits).

    ``X`` is ``build_features`` output (loan_id, as_of, features), ``labels`` from ``build_labels``,
    ``actions`` the raw actions table (treatment = the action decided at the case's as_of); the
    labels hold ``value_gross`` (``features.value_labels``), ``cure`` and ``roll_forward`` (next
    cycle); ``horizon_cycles`` is the valuation's horizon, kept for the record.
    """
    Xl, logged = logged_training_frame(X, labels, actions)
    names = feature_names or [c for c in X.columns if c not in KEYS]
    if len(Xl) < cfg.uplift.min_rows:
        raise InputError(
            f"action models: {len(Xl)} cases have both a logged action and an observed outcome; "
            f"need at least {cfg.uplift.min_rows}"
        )
    Xm = Xl[names].reset_index(drop=True)
    action = logged["action"].astype(str).to_numpy()
    if cfg.uplift.weighting == "ipw":
        w = 1.0 / np.clip(logged["propensity"].to_numpy(dtype=float), cfg.uplift.propensity_floor, 1.0)
    else:
        w = np.ones(len(Xm))
    if cfg.uplift.half_life_months is not None:
        w = w * _recency_weights(Xl["as_of"], cfg.uplift.half_life_months)
    share = np.clip(logged["value_gross"].to_numpy(dtype=float) / _balance(Xm), _MIN_SHARE, _MAX_SHARE)
    Xa = Xm.copy()
    Xa[_ACTION] = pd.Categorical(action, categories=list(ACTIONS))
    return ActionModels(
        feature_names=names,
        costs=np.asarray(cfg.cost_vector()),
        band_z=cfg.band_z,
        caution_z=cfg.caution_z,
        horizon_cycles=horizon_cycles,
        recovery_members=_bagged(Xa, share, w, cfg, seed),
        cure_model=_fit(Xa, logged["cure"].astype(float).to_numpy(), w, cfg, "binary", seed + 991),
        roll_model=_fit(Xa, logged["roll_forward"].astype(float).to_numpy(), w, cfg, "binary", seed + 997),
        arm_rows={a: int((action == a).sum()) for a in ACTIONS},
        weighting=cfg.uplift.weighting,
    )
