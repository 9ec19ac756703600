"""One capacity plan for the whole book: with per-cycle capacities that bind, `--engine dask` on 4
partitions allocates exactly as the single-process ``decide`` over the whole book."""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import pandas as pd
import pytest
from fixtures_dask import SEED

from engine.book import PartitionedBook
from engine.bundle_source import stage_bundle
from engine.score import score_book
from rollcure.core.catalogue import ACTIONS, CATALOGUE

#: A slot a day for 3 working days per limited action: far below the book's demand.
TIGHT_DAILY = 1
TIGHT_DAYS = 3


@pytest.fixture(scope="module")
def tight_bundle(trained_run, tmp_path_factory):
    bundle = copy.copy(trained_run.bundle)
    daily = {a: (None if c is None else TIGHT_DAILY) for a, c in CATALOGUE.daily_capacity().items()}
    policy_cfg = bundle.policy.config.model_copy(
        update={"daily_capacity": daily, "working_days_per_cycle": TIGHT_DAYS}
    )
    bundle.policy = dataclasses.replace(bundle.policy, config=policy_cfg)
    return stage_bundle(bundle, tmp_path_factory.mktemp("tight") / "bundle", "1")


@pytest.fixture(scope="module")
def whole_book_decisions(tight_bundle, sim_default_dir, trained_run):
    """``models.policy.decide`` on the whole book's feature frame in one process (the reference)."""
    from features.build import build_features
    from features.cases import overdue_cases
    from models.book_decide import book_seeds
    from models.policy import decide
    from rollcure.core.io import read_tables

    tables = read_tables(sim_default_dir)
    cases = overdue_cases(tables["cycles"], tables["cycles"]["cycle_date"].max())
    cases = cases.sort_values("loan_id", kind="stable").reset_index(drop=True)
    X = build_features(tables, cases, trained_run.cfg.features)
    bundle = tight_bundle.load()
    seeds = book_seeds(SEED, cases["loan_id"].to_numpy())
    decided = decide(bundle, X, seed=seeds, explain=False)
    unlimited = decide(bundle, X, seed=seeds, explain=False, capacities=[np.inf] * len(ACTIONS))
    return decided.to_frame(), unlimited.to_frame(), bundle.policy.config.cycle_capacity()


def test_dask_on_four_partitions_allocates_as_the_whole_book_lp(
    local_cluster, tight_bundle, whole_book_decisions, partitioned_book, trained_run, tmp_path
):
    cfg, client = local_cluster
    out = tmp_path / "tight.parquet"
    summary = score_book(
        PartitionedBook(partitioned_book),
        tight_bundle,
        trained_run.cfg.features,
        out,
        as_of=None,
        chunk_size=100,
        model_name="m",
        seed=SEED,
        engine=cfg,
        client=client,
    )
    assert summary.n_chunks == 4
    got = pd.read_parquet(out)
    want, unlimited, caps = whole_book_decisions
    assert list(got["loan_id"]) == list(want["loan_id"])
    assert list(got["action"]) == list(want["action"])
    assert list(got["arm"]) == list(want["arm"])
    np.testing.assert_allclose(got["expected_value"], want["expected_value"], rtol=1e-12)
    np.testing.assert_allclose(got["propensity"], want["propensity"], rtol=1e-12)
    np.testing.assert_allclose(got["p_roll_forward"], want["p_roll_forward"], rtol=1e-12)
    # the capacities bind: without them more cases would take a limited action than it has slots
    limited = [a for a, c in zip(ACTIONS, caps, strict=True) if np.isfinite(c)]
    cap = dict(zip(ACTIONS, caps, strict=True))
    demand = unlimited["action"].value_counts()
    binding = [a for a in limited if demand.get(a, 0) > cap[a]]
    assert binding, "no capacity binds on this book: the test would prove nothing"
    used = got["action"].value_counts()
    assert all(used.get(a, 0) <= cap[a] for a in limited)
    assert any(used.get(a, 0) == cap[a] for a in binding)


def test_pieces_alone_would_overspend_the_capacity(tight_bundle, sim_default_dir, trained_run):
    """Why the plan is global: each of 4 pieces deciding alone with the whole cycle's capacity would
    hand out more slots than the cycle has (what `--workers` did before)."""
    from engine.book import ParquetBook
    from engine.score import decide_piece
    from models.book_decide import allocate_book

    bundle = tight_bundle.load()
    pieces = ParquetBook(sim_default_dir).pieces(
        pd.Timestamp(pd.read_parquet(sim_default_dir / "cycles.parquet")["cycle_date"].max()), 10_000, 4
    )
    used = pd.Series(0, index=list(ACTIONS))
    for piece in pieces:
        options = decide_piece(piece, tight_bundle, trained_run.cfg.features, SEED, 10_000)
        choice = allocate_book(options, bundle.policy.config)
        used = used.add(pd.Series(choice.action).value_counts(), fill_value=0)
    caps = dict(zip(ACTIONS, bundle.policy.config.cycle_capacity(), strict=True))
    assert any(used.get(a, 0) > c for a, c in caps.items() if np.isfinite(c))
