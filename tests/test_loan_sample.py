"""The bounded loan sample the action-response models are fitted on (``engine.loan_sample``):
decided by the loan id alone, so both engines keep the same loans, and the whole book below the
bound."""

from __future__ import annotations

import numpy as np
import pandas as pd

from engine.loan_sample import cut_to_sample, kept, loan_sample


def test_the_sample_is_the_whole_book_below_the_bound():
    assert loan_sample(20_000, 250_000).everything
    assert loan_sample(250_000, 250_000).share == 1.0
    big = loan_sample(1_000_000, 250_000)
    assert not big.everything and big.share == 0.25
    ids = np.arange(10)
    assert kept(ids, 1.0).all()


def test_a_loan_is_kept_by_its_id_alone_and_at_every_larger_share():
    ids = np.arange(1, 200_001, dtype=np.int64) * 7919  # spread, as real ids are
    small, large = kept(ids, 0.2), kept(ids, 0.5)
    assert abs(small.mean() - 0.2) < 0.005 and abs(large.mean() - 0.5) < 0.005
    assert not (small & ~large).any()  # nested: a larger share only adds loans
    shuffled = np.random.default_rng(3).permutation(len(ids))
    np.testing.assert_array_equal(kept(ids[shuffled], 0.2), small[shuffled])  # order does not matter


def test_cutting_keeps_whole_loans_and_their_borrowers(policy_tables):
    tables, _ = policy_tables
    cut = cut_to_sample(tables, 0.3)
    loans = set(cut["loans"]["loan_id"].tolist())
    assert 0.2 < len(loans) / tables["loans"]["loan_id"].nunique() < 0.4
    for name, table in cut.items():
        if "loan_id" in table.columns:
            assert set(table["loan_id"].tolist()) <= loans, name
            whole = tables[name][tables[name]["loan_id"].isin(loans)]
            assert len(table) == len(whole), name  # every row of a kept loan
    assert set(cut["borrowers"]["borrower_id"]) == set(cut["loans"]["borrower_id"])
    assert cut_to_sample(tables, 1.0) is tables


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(list(frame.columns[:3]), kind="stable").reset_index(drop=True)


def test_reading_the_sample_piece_by_piece_equals_cutting_the_whole_book(sim_default_dir, partitioned_book):
    """The driver's streamed read (``--engine dask``) keeps the rows the local cut keeps, from a
    plain folder (loan-id ranges) and from a partitioned one."""
    from engine.history import book_loan_count, read_book_sample
    from rollcure.core.io import read_tables

    book = read_tables(sim_default_dir)
    want = cut_to_sample(book, 0.3)
    assert (
        book_loan_count(partitioned_book)
        == book_loan_count(sim_default_dir)
        == book["loans"]["loan_id"].nunique()
    )
    for folder in (sim_default_dir, partitioned_book):
        got = read_book_sample(folder, 0.3, n_pieces=3)
        assert set(got) == set(want)
        for name in want:
            columns = list(want[name].columns)
            pd.testing.assert_frame_equal(
                _sorted(got[name][columns]),
                _sorted(want[name]),
                check_dtype=False,
                obj=f"{folder.name}:{name}",
            )


def test_the_bundle_records_the_loans_its_policy_was_fitted_on(trained_run, sim_default_dir):
    from engine.history import book_loan_count

    record = trained_run.outcome.result.bundle.metadata["policy_loans"]
    assert record["share"] == 1.0  # the default book is far below the bound
    assert record["loans_kept"] == record["loans_in_book"] == book_loan_count(sim_default_dir)


def test_table_rows_are_counted_from_the_metadata(sim_default_dir, partitioned_book):
    from engine.history import book_table_rows
    from rollcure.core.io import read_tables

    actions = len(read_tables(sim_default_dir)["actions"])
    assert book_table_rows(sim_default_dir, "actions") == actions
    assert book_table_rows(partitioned_book, "actions") == actions
    assert book_table_rows(sim_default_dir, "no_such_table") == 0


def test_the_backtest_refits_on_the_loans_the_bundle_was_fitted_on(policy_tables, trained_run):
    from types import SimpleNamespace

    from training.backtest import policy_share

    tables, _ = policy_tables
    cfg = trained_run.cfg
    recorded = SimpleNamespace(metadata={"policy_loans": {"share": 0.3, "loans_in_book": 9, "loans_kept": 3}})
    assert policy_share(recorded, tables, cfg) == 0.3  # type: ignore[arg-type]
    unrecorded = SimpleNamespace(metadata={})
    assert policy_share(unrecorded, tables, cfg) == 1.0  # type: ignore[arg-type]  # below the bound
    small = cfg.model_copy(update={"training": cfg.training.model_copy(update={"policy_max_loans": 1000})})
    loans = tables["loans"]["loan_id"].nunique()
    assert policy_share(unrecorded, tables, small) == 1000 / loans  # type: ignore[arg-type]
