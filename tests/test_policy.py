"""Per-case decisions on the default book: compliant, explained, capacity-bound, reproducible."""

from __future__ import annotations

import numpy as np
import pytest
from test_rules_eligibility import violations

from models.draws import case_seeds, uniforms
from models.eligibility import eligibility
from models.policy import assign_arms, decide
from models.rules import load_rules
from models.strategies import uniform_eligible
from rollcure.core.catalogue import ACTIONS
from rollcure.core.errors import InputError


@pytest.fixture(scope="module")
def decisions(policy_bundle, latest_book):
    return decide(policy_bundle, latest_book, seed=3).to_frame()


def test_one_decision_per_case_with_every_action_valued(decisions, latest_book):
    assert len(decisions) == len(latest_book)
    assert (decisions["loan_id"].to_numpy() == latest_book["loan_id"].to_numpy()).all()
    assert set(decisions["action"]) <= {*ACTIONS, "manual_review"}
    for a in ACTIONS:
        low, ev, high = (decisions[f"ev{s}_{a}"] for s in ("_low", "", "_high"))
        assert ((low <= ev) & (ev <= high)).all()
    assert decisions["p_roll_forward"].between(0, 1).all() and decisions["p_cure"].between(0, 1).all()


def test_the_probabilities_shown_are_those_under_the_recommended_action(
    decisions, policy_bundle, latest_book
):
    """A collector reads p_roll_forward and p_cure of the action recommended (the action models');
    a case sent to manual review, where no action is taken, keeps the scorers'."""
    review = (decisions["action"] == "manual_review").to_numpy()
    acted = decisions[~review]
    for shown, column in (("p_roll_forward", "p_roll_forward_{}"), ("p_cure", "p_cure_{}")):
        under = np.array([acted[column.format(a)].iloc[i] for i, a in enumerate(acted["action"])])
        np.testing.assert_array_equal(acted[shown].to_numpy(), under)
        np.testing.assert_array_equal(decisions.loc[review, shown], decisions.loc[review, f"score_{shown}"])
    scores = policy_bundle.score(latest_book)
    np.testing.assert_array_equal(decisions["score_p_roll_forward"], scores.p_roll_forward)
    # the action matters: somewhere the recommended action's roll-forward differs from the scorer's
    assert (np.abs(acted["p_roll_forward"] - acted["score_p_roll_forward"]) > 0.01).any()


def test_no_decision_breaks_a_rule(decisions, latest_book):
    chosen = decisions["action"].replace({"manual_review": "none"}).map({a: j for j, a in enumerate(ACTIONS)})
    assert violations(latest_book, chosen.to_numpy(), load_rules()) == {}


def test_capacity_is_never_exceeded(policy_bundle, latest_book):
    caps = [np.inf, np.inf, *([3, 2, 4, 1, 2, 2, 2][: len(ACTIONS) - 2])]  # reminder unlimited, others few
    d = decide(policy_bundle, latest_book, seed=1, capacities=caps, explain=False).to_frame()
    counts = d["action"].value_counts()
    for a, c in zip(ACTIONS, caps, strict=True):
        assert counts.get(a, 0) <= c
    # capacity moved champion cases off their best action, yet the champion still chose them
    cfg = policy_bundle.policy.config
    champion = d["arm"] == "champion"
    assert (d.loc[champion, "propensity"] >= 1 - cfg.exploration_share - cfg.challenger_share).all()
    # the champion's value-maximising choice was cut by capacity somewhere: the reason says so
    assert d.filter(like="why_not_").apply(lambda s: s.str.startswith("capacity")).to_numpy().any()


def test_explanations_are_sentences(decisions):
    champion = decisions[decisions["arm"] == "champion"]
    assert champion["why"].str.contains(" over ").mean() > 0.9
    # in value terms, with each action's cure and roll-forward probability next cycle
    sentence = r"^\w+ over \w+: \+\d+ expected value \(cure \d+% vs \d+%, roll \d+% vs \d+% next cycle\)$"
    ahead = champion["why"].str.match(sentence)
    capped = champion["why"].str.contains("capacity is taken")
    only = champion["why"].str.contains("the only action") | champion["why"].str.startswith("manual_review")
    assert (ahead | capped | only).all(), champion.loc[~(ahead | capped | only), "why"].head().tolist()
    for a in ACTIONS:
        col = decisions[f"why_not_{a}"]
        chosen = decisions["action"] == a
        assert (col[chosen] == "").all()
        assert (
            col[~chosen & (decisions["action"] != "manual_review")]
            .str.match(
                r"^(lower value by -?\d+|ineligible by rule [A-Z_]+|capacity: worth \d+ more but full)$"
            )
            .all()
        )
    assert decisions["reasons"].str.len().gt(0).mean() > 0.9
    assert decisions["reason_codes"].map(len).gt(0).mean() > 0.9


def test_arms_and_propensities(decisions, policy_bundle, latest_book):
    cfg = policy_bundle.policy.config
    share = decisions["arm"].value_counts(normalize=True)
    assert abs(share.get("explore", 0) - cfg.exploration_share) < 0.04
    assert abs(share.get("challenger", 0) - cfg.challenger_share) < 0.05
    n_eligible = eligibility(latest_book, load_rules()).mask.sum(axis=1)
    p = decisions["propensity"].to_numpy()
    assert ((p >= cfg.exploration_share / n_eligible) & (p <= 1)).all()
    # the champion chose its cases on purpose (even where capacity moved them off their best action)
    champion = (decisions["arm"] == "champion").to_numpy()
    assert (p[champion] >= 1 - cfg.exploration_share - cfg.challenger_share).all()
    # a case with a single compliant action gets it for sure; an explored one with a choice did not
    assert (p[n_eligible == 1] == 1).all()
    explored = (decisions["arm"] == "explore").to_numpy() & (n_eligible > 1)
    assert explored.any() and (p[explored] < 1).all()


def test_same_seed_same_decisions(policy_bundle, latest_book):
    a = decide(policy_bundle, latest_book.head(300), seed=9, explain=False).to_frame()
    b = decide(policy_bundle, latest_book.head(300), seed=9, explain=False).to_frame()
    assert a.equals(b)


def _with_strategy(bundle, strategy: str):
    import dataclasses

    config = bundle.policy.config.model_copy(update={"challenger_strategy": strategy})
    return dataclasses.replace(bundle, policy=dataclasses.replace(bundle.policy, config=config))


@pytest.mark.parametrize("strategy", ["random", "dpd_ladder"])
def test_a_case_draws_from_its_own_seed_whatever_its_companions(policy_bundle, latest_book, strategy):
    # Unlimited capacity makes every arm's choice a per-case matter, so the whole decision row of a
    # case must follow from its own features and seed, not from the other cases in the call.
    bundle = _with_strategy(policy_bundle, strategy)
    caps = [np.inf] * len(ACTIONS)
    book = latest_book.head(400).reset_index(drop=True)
    seeds = np.arange(1000, 1000 + len(book), dtype=np.int64)
    alone = decide(bundle, book, seed=seeds, capacities=caps, explain=False).to_frame()
    order = np.random.default_rng(0).permutation(len(book))[:150]  # other companions, other order
    mixed = decide(bundle, book.iloc[order], seed=seeds[order], capacities=caps, explain=False).to_frame()
    assert mixed.reset_index(drop=True).equals(alone.iloc[order].reset_index(drop=True))
    assert set(alone["arm"]) == {"champion", "challenger", "explore"}


def test_an_int_seed_stands_for_per_row_seeds(policy_bundle, latest_book):
    book = latest_book.head(300)
    a = decide(policy_bundle, book, seed=9, explain=False).to_frame()
    b = decide(policy_bundle, book, seed=case_seeds(9, len(book)).astype(np.int64), explain=False).to_frame()
    assert a.equals(b)
    assert not a["arm"].equals(decide(policy_bundle, book, seed=10, explain=False).to_frame()["arm"])


def test_per_case_seeds_must_match_the_cases(policy_bundle, latest_book):
    with pytest.raises(InputError, match="one seed per case"):
        decide(policy_bundle, latest_book.head(5), seed=np.arange(4), explain=False)
    with pytest.raises(InputError, match="one seed per case"):
        decide(policy_bundle, latest_book.head(5), seed=np.linspace(0, 1, 5), explain=False)


def test_per_case_draws_match_the_configured_shares(policy_bundle):
    cfg = policy_bundle.policy.config
    n = 200_000
    u = uniforms(case_seeds(np.arange(n, dtype=np.int64), n), 1 + len(ACTIONS))
    assert ((u >= 0) & (u < 1)).all()
    share = np.bincount(assign_arms(u[:, 0], cfg), minlength=3) / n
    sd = np.sqrt(0.25 / n)
    assert abs(share[2] - cfg.exploration_share) < 5 * sd
    assert abs(share[1] - cfg.challenger_share) < 5 * sd
    # exploration is uniform over the eligible actions of a case (here: the first three)
    eligible = np.zeros((n, len(ACTIONS)), dtype=bool)
    eligible[:, :3] = True
    picks = np.bincount(uniform_eligible(eligible, u[:, 1:]), minlength=len(ACTIONS)) / n
    assert np.abs(picks[:3] - 1 / 3).max() < 5 * sd and (picks[3:] == 0).all()
    # streams of one case and neighbouring seeds are not correlated
    assert np.abs(np.corrcoef(u.T) - np.eye(u.shape[1])).max() < 5 / np.sqrt(n)


def test_bundle_without_action_models_is_an_input_error(trained_run, latest_book):
    import dataclasses

    bare = dataclasses.replace(trained_run.bundle, policy=None)
    with pytest.raises(InputError, match="no action-response models"):
        decide(bare, latest_book.head(5), seed=1)


def test_the_champion_decides_as_the_backtest_values_the_rollcure_strategy(policy_bundle, latest_book):
    """One decision path: where capacity does not bind, every champion case gets the action the
    backtest's "rollcure" strategy gives it (the eligible argmax of the cautious values), and the
    service and the batch scorer call this same ``decide``."""
    from models.allocation import allocate

    unlimited = [float("inf")] * len(ACTIONS)
    d = decide(policy_bundle, latest_book, seed=5, capacities=unlimited, explain=False).to_frame()
    policy = policy_bundle.policy
    pred = policy.action_models.predict(latest_book, costs=np.asarray(policy.config.cost_vector()))
    el = eligibility(latest_book, policy.rules)
    backtest_choice = np.asarray(ACTIONS)[allocate(pred.decision, el.mask, np.asarray(unlimited))]
    champion = (d["arm"] == "champion").to_numpy() & ~el.manual_review
    assert champion.sum() > 100
    assert (d["action"].to_numpy()[champion] == backtest_choice[champion]).all()
