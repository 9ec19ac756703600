"""Serving with a bundle that carries the policy: decisions are the policy's, logged as given."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from rollcure.core.catalogue import ACTIONS
from serving.answers import case_seeds, features_for, recommend
from serving.request import ServedCase
from serving.runtime import ModelRuntime

NOW = datetime(2026, 1, 5, 9, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def policy_runtime(policy_bundle) -> ModelRuntime:
    return ModelRuntime(
        bundle=policy_bundle,
        model_name="rollcure-bundle",
        model_version="7",
        alias="champion",
        run_id=None,
        config_hash="0" * 16,
    )


def test_recommend_returns_the_policy_decision(policy_runtime, policy_bundle, sample_payloads, trained_run):
    from models.policy import decide

    payloads = [ServedCase.model_validate(p) for p in sample_payloads[:12]]
    X = features_for(payloads, trained_run.cfg.features)
    decisions, records = recommend(policy_runtime, payloads, X, "salt", NOW)
    digests = [r.inputs_digest for r in records]
    expected = decide(policy_bundle, X, seed=case_seeds(digests)).to_frame()
    assert [d.action for d in decisions] == list(expected["action"])
    assert [d.reason_codes for d in decisions] == list(expected["reason_codes"])
    assert ["; ".join(d.reasons) for d in decisions] == list(expected["reasons"])
    assert [d.arm for d in decisions] == list(expected["arm"])
    np.testing.assert_allclose([d.expected_value for d in decisions], expected["expected_value"])
    for d, r in zip(decisions, records, strict=True):
        assert d.action in (*ACTIONS, "manual_review")
        assert set(d.expected_values) == set(ACTIONS)
        if d.action in ACTIONS:
            assert d.expected_value == pytest.approx(d.expected_values[d.action])
        assert d.rule_notes and d.rule_notes[0]  # why this action comes first
        assert d.challenger == (d.arm == "challenger")
        assert r.action == d.action and r.arm == d.arm and 0 < r.propensity <= 1
        assert r.decided_at == NOW.isoformat() and r.model_version == "7"


def test_same_request_same_decisions(policy_runtime, sample_payloads, trained_run):
    """The arm draw is seeded from the inputs, so a logged decision can be replayed exactly."""
    payloads = [ServedCase.model_validate(p) for p in sample_payloads[:12]]
    X = features_for(payloads, trained_run.cfg.features)
    first, a = recommend(policy_runtime, payloads, X, "salt", NOW)
    again, b = recommend(policy_runtime, payloads, X, "other-salt", NOW)
    assert [(d.action, d.arm) for d in first] == [(d.action, d.arm) for d in again]
    assert [r.propensity for r in a] == [r.propensity for r in b]
    assert [r.case_hash for r in a] != [r.case_hash for r in b]  # the salt changes only the hashes


def _alone_and_merged(runtime, payloads, feature_cfg):
    """Each case decided in a request of its own, and all of them in one merged pass."""
    alone = [recommend(runtime, [p], features_for([p], feature_cfg), "salt", NOW) for p in payloads]
    merged = recommend(runtime, payloads, features_for(payloads, feature_cfg), "salt", NOW)
    return [(d[0], r[0]) for d, r in alone], list(zip(*merged, strict=True))


def test_a_case_gets_the_same_decision_alone_and_merged(policy_runtime, sample_payloads, trained_run):
    """Merging requests must not change any case's answer: features, scores, arm draw, action."""
    n = int(min(len(sample_payloads), policy_runtime.merge_limit))  # as many as one pass may hold
    payloads = [ServedCase.model_validate(p) for p in sample_payloads[:n]]
    alone, merged = _alone_and_merged(policy_runtime, payloads, trained_run.cfg.features)
    keep = ("loan_id", "as_of", "action", "arm", "challenger", "reason_codes", "reasons", "rule_notes")
    for (da, ra), (dm, rm) in zip(alone, merged, strict=True):
        assert {k: getattr(da, k) for k in keep} == {k: getattr(dm, k) for k in keep}
        assert da.p_roll_forward == pytest.approx(dm.p_roll_forward, abs=1e-12)
        assert da.expected_value == pytest.approx(dm.expected_value, abs=1e-9)
        assert ra.propensity == pytest.approx(rm.propensity) and ra.inputs_digest == rm.inputs_digest
    assert len({d.action for d, _ in merged}) > 1  # the sample is not one action for everyone


def test_merged_passes_stay_below_every_capacity(policy_runtime, policy_bundle):
    """A pass of at most ``merge_limit`` cases cannot make a capacity bind (so merging is neutral)."""
    caps = [c for c in policy_bundle.policy.config.cycle_capacity() if np.isfinite(c) and c > 0]
    assert 1 <= policy_runtime.merge_limit <= min(caps)


def test_case_seeds_come_from_each_case_alone():
    from serving.decision_log import inputs_digest

    digests = [inputs_digest({"case": i}) for i in (1, 2, 3)]
    seeds = case_seeds(digests)
    assert seeds.dtype == np.int64 and len(set(seeds.tolist())) == 3
    assert case_seeds(digests[1:2])[0] == seeds[1]


def test_decision_reasons_are_the_bundles_roll_forward_reasons(trained_run, sample_cases):
    """Explaining only the decision target gives exactly the rows the full explanation has for it."""
    from features.build import build_features
    from models.policy import DECISION_REASON_DIRECTION, DECISION_REASON_TARGET, decision_reasons

    tables, cases = sample_cases
    X = build_features(tables, cases, trained_run.cfg.features)
    fast = decision_reasons(trained_run.bundle, X)
    full = trained_run.bundle.explain(X).to_frame()
    keep = (full["target"] == DECISION_REASON_TARGET) & (full["direction"] == DECISION_REASON_DIRECTION)
    chosen = full.loc[keep].sort_values(["case", "rank"], kind="stable")
    np.testing.assert_array_equal(
        np.diff(fast.offsets), chosen["case"].value_counts().reindex(range(len(X)), fill_value=0)
    )
    np.testing.assert_array_equal(fast.codes, chosen["code"].to_numpy(dtype=object))
    np.testing.assert_array_equal(fast.texts, chosen["text"].to_numpy(dtype=object))
    assert fast.offsets[-1] > 0


def test_batch_scoring_carries_the_policy_actions(policy_bundle, sample_cases, trained_run, tmp_path):
    from serving.batch import TableBook, score_book

    tables, _ = sample_cases
    out = tmp_path / "scores.parquet"
    summary = score_book(
        TableBook(tables),
        policy_bundle,
        trained_run.cfg.features,
        out,
        as_of=None,
        chunk_size=300,
        model_name="m",
        seed=3,
    )
    frame = pd.read_parquet(out)
    assert len(frame) == summary.n_cases > 300
    assert frame["action"].isin([*ACTIONS, "manual_review"]).all()
    assert (
        frame["expected_value"].notna().all() and frame["propensity"].between(0, 1, inclusive="right").all()
    )
    assert set(frame["arm"]) <= {"champion", "challenger", "explore"}
