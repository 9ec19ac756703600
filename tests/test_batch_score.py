"""`rollcure score`: every overdue case at a cycle, chunked, point-in-time, same numbers as direct scoring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from fixtures_serving import use_registry, write_serving_config

from cli.main import run
from models import record
from rollcure.core.errors import InputError
from serving.batch import OUTPUT_SCHEMA, TableBook, chunk_tables, resolve_as_of, score_book, tables_up_to

REQUIRED = (
    "loan_id",
    "as_of",
    "p_roll_forward",
    "p_cure",
    "action",
    "expected_value",
    "reason_codes",
    "model_version",
)


def _cycles(dates: list[str], loans: list[int]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "loan_id": np.repeat(loans, len(dates)),
            "cycle_date": pd.to_datetime(dates * len(loans)).astype("datetime64[ns]"),
        }
    )


def test_resolve_as_of_defaults_to_latest_and_rejects_unknown_dates():
    cycles = _cycles(["2024-01-31", "2024-02-29"], [1])
    assert resolve_as_of(cycles, None) == pd.Timestamp("2024-02-29")
    assert resolve_as_of(cycles, pd.Timestamp("2024-01-31").date()) == pd.Timestamp("2024-01-31")
    with pytest.raises(InputError, match="--as-of: 2024-03-31 is not a cycle date"):
        resolve_as_of(cycles, pd.Timestamp("2024-03-31").date())


def test_chunk_tables_takes_exactly_the_chunk_loans():
    tables = {
        "cycles": _cycles(["2024-01-31"], [1, 2, 3, 5]),
        "loans": pd.DataFrame({"loan_id": [1, 2, 3, 5], "borrower_id": [10, 20, 30, 50]}),
        "borrowers": pd.DataFrame({"borrower_id": [50, 10, 20, 30]}),
    }
    sub = chunk_tables(tables, np.array([2, 3]))
    assert list(sub["cycles"]["loan_id"]) == [2, 3]
    assert list(sub["loans"]["loan_id"]) == [2, 3]
    assert sorted(sub["borrowers"]["borrower_id"]) == [20, 30]


def test_tables_up_to_drops_later_history_and_same_day_actions():
    tables = {
        "cycles": _cycles(["2024-01-31", "2024-02-29"], [1]),
        "actions": pd.DataFrame(
            {
                "loan_id": [1, 1],
                "decided_at": pd.to_datetime(["2024-01-31", "2024-02-29"]).astype("datetime64[ns]"),
            }
        ),
    }
    known = tables_up_to(tables, pd.Timestamp("2024-01-31"))
    assert list(known["cycles"]["cycle_date"]) == [pd.Timestamp("2024-01-31")]
    assert known["actions"].empty  # an action decided at as_of is that case's treatment, not a feature


@pytest.fixture(scope="module")
def scored(serving_setup, sim_default_dir, tmp_path_factory):
    """`rollcure score` on the default portfolio with small chunks (so several are written)."""
    out_dir = tmp_path_factory.mktemp("batch")
    config = write_serving_config(serving_setup, out_dir / "config.yaml", batch_chunk_size=250)
    out = out_dir / "scores.parquet"
    with use_registry(serving_setup):
        code = run(["score", "--data", str(sim_default_dir), "--out", str(out), "--config", str(config)])
    assert code == 0
    return pd.read_parquet(out), pq.read_schema(out)


def test_score_cli_covers_every_case_overdue_at_the_latest_cycle(scored, sample_cases, serving_setup):
    from features.cases import overdue_cases

    frame, schema = scored
    tables, _ = sample_cases
    latest = tables["cycles"]["cycle_date"].max()
    expected = overdue_cases(tables["cycles"], latest)
    assert len(frame) == len(expected) > 250  # more than one chunk
    assert sorted(frame["loan_id"]) == sorted(expected["loan_id"])
    assert (frame["as_of"] == latest).all()
    assert schema.equals(OUTPUT_SCHEMA)
    assert set(REQUIRED) <= set(frame.columns)
    assert (frame["model_version"] == serving_setup.version).all()
    assert frame["reason_codes"].map(len).gt(0).all()


def test_output_is_null_only_where_the_record_allows(scored):
    frame, _ = scored
    required = [f.name for f in record.fields("batch") if not f.nullable]
    assert not frame[required].isna().any().any()


def test_chunked_scores_equal_direct_scoring(scored, sample_cases, trained_run):
    """Each case's probabilities are the ones scoring it directly gives: the action models' under
    the action the batch chose (the scorers' for a manual review)."""
    from features.build import build_features
    from features.cases import overdue_cases
    from rollcure.core.catalogue import ACTIONS

    frame, _ = scored
    tables, _ = sample_cases
    cases = overdue_cases(tables["cycles"], tables["cycles"]["cycle_date"].max())
    X = build_features(tables, cases, trained_run.cfg.features)
    pred = trained_run.bundle.policy.action_models.predict(X)
    direct = trained_run.bundle.score(X).to_frame()
    got = cases[["loan_id"]].merge(frame, on="loan_id", how="left", validate="1:1")
    review = (got["action"] == "manual_review").to_numpy()
    chosen = got["action"].map({a: j for j, a in enumerate(ACTIONS)}).fillna(0).to_numpy(dtype=int)
    rows = np.arange(len(got))
    for shown, under in (("p_roll_forward", pred.roll), ("p_cure", pred.cure)):
        expected = np.where(review, direct[shown].to_numpy(), under[rows, chosen])
        np.testing.assert_allclose(got[shown], expected, rtol=1e-9)


def test_scores_at_an_earlier_cycle_ignore_the_future(sample_cases, trained_run, tmp_path):
    """Rewriting everything after as_of (payments, contacts, actions) changes nothing."""
    tables, _ = sample_cases
    dates = np.sort(tables["cycles"]["cycle_date"].unique())
    as_of = pd.Timestamp(dates[-3])
    future = {k: v.copy() for k, v in tables.items()}
    later = future["cycles"]["cycle_date"] > as_of
    future["cycles"].loc[later, "paid_amount"] = 0.0
    future["cycles"].loc[later, "dpd"] += 90
    if "contacts" in future:
        c = future["contacts"]
        c.loc[c["ts"] > as_of, "outcome"] = "promise_to_pay"
    if "actions" in future:
        a = future["actions"]
        a.loc[a["decided_at"] >= as_of, "action"] = "litigation"

    def score(tabs, name):
        out = tmp_path / name
        score_book(
            TableBook(tabs),
            trained_run.bundle,
            trained_run.cfg.features,
            out,
            as_of=as_of.date(),
            chunk_size=500,
            model_name="m",
            seed=7,
        )
        return pd.read_parquet(out)

    a, b = score(tables, "a.parquet"), score(future, "b.parquet")
    assert (a["as_of"] == as_of).all() and len(a) > 0
    pd.testing.assert_frame_equal(a, b)


def test_reading_the_folder_a_chunk_at_a_time_equals_in_memory_scoring(
    sample_cases, sim_default_dir, trained_run, tmp_path
):
    from serving.batch import ParquetBook

    tables, _ = sample_cases
    as_of = pd.Timestamp(np.sort(tables["cycles"]["cycle_date"].unique())[-2]).date()
    args = (trained_run.bundle, trained_run.cfg.features)
    opts = {"as_of": as_of, "chunk_size": 250, "model_name": "m", "seed": 7}
    score_book(TableBook(tables), *args, tmp_path / "mem.parquet", **opts)
    summary = score_book(ParquetBook(sim_default_dir), *args, tmp_path / "book.parquet", **opts)
    assert summary.n_chunks > 1
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "mem.parquet"), pd.read_parquet(tmp_path / "book.parquet")
    )


def test_missing_table_is_an_input_error(tmp_path):
    from serving.batch import ParquetBook

    with pytest.raises(InputError, match="table 'borrowers' missing"):
        ParquetBook(tmp_path)
    with pytest.raises(InputError, match="folder not found"):
        ParquetBook(tmp_path / "nope")


def test_bad_as_of_and_unknown_model_exit_two(serving_setup, sim_default_dir, tmp_path, capsys):
    out = str(tmp_path / "x.parquet")
    base = ["score", "--data", str(sim_default_dir), "--out", out, "--config", str(serving_setup.config_path)]
    with use_registry(serving_setup):
        assert run([*base, "--as-of", "31/06/2025"]) == 2
        assert run([*base, "--as-of", "1999-01-31"]) == 2
        assert run([*base, "--model", "no-such-alias"]) == 2
    err = capsys.readouterr().err
    assert "--as-of: not a date" in err and "not a cycle date" in err and "no-such-alias" in err
    assert "Traceback" not in err


def test_the_file_does_not_depend_on_how_the_book_is_cut(sim_default_dir, trained_run, tmp_path):
    """Seeds per case and one capacity plan per book: small pieces and one big piece agree."""
    from serving.batch import ParquetBook

    args = (trained_run.bundle, trained_run.cfg.features)
    files = {}
    for size in (250, 100_000):
        files[size] = tmp_path / f"c{size}.parquet"
        summary = score_book(
            ParquetBook(sim_default_dir),
            *args,
            files[size],
            as_of=None,
            chunk_size=size,
            model_name="m",
            seed=7,
        )
        assert (summary.n_chunks > 2) == (size == 250)
    assert pq.read_table(files[250]).equals(pq.read_table(files[100_000]))


def test_pieces_decided_on_two_threads_write_the_one_thread_file(sim_default_dir, trained_run, tmp_path):
    """The local engine's pieces in flight at once share the bundle and change no number."""
    from rollcure.config.engine import EngineConfig
    from serving.batch import ParquetBook

    files = {}
    for threads in (1, 2):
        files[threads] = tmp_path / f"t{threads}.parquet"
        score_book(
            ParquetBook(sim_default_dir),
            trained_run.bundle,
            trained_run.cfg.features,
            files[threads],
            as_of=None,
            chunk_size=250,
            model_name="m",
            seed=7,
            engine=EngineConfig(local_threads=threads),
        )
    assert pq.read_table(files[1]).equals(pq.read_table(files[2]))


def test_a_bad_row_met_by_a_worker_exits_two_in_one_line(serving_setup, sim_default_dir, tmp_path, capsys):
    """The broken loan is in the last chunk, which only a worker reads; no output file is left."""
    from rollcure.core.io import read_tables, write_tables

    tables = read_tables(sim_default_dir)
    latest = tables["cycles"]["cycle_date"].max()
    cycles = tables["cycles"]
    last_case = cycles.loc[(cycles["cycle_date"] == latest) & (cycles["dpd"] > 0), "loan_id"].max()
    tables["loans"].loc[tables["loans"]["loan_id"] == last_case, "principal"] = -1.0
    write_tables(tables, tmp_path / "book")
    config = write_serving_config(serving_setup, tmp_path / "config.yaml", batch_chunk_size=250)
    out = tmp_path / "scores.parquet"
    argv = ["score", "--data", str(tmp_path / "book"), "--out", str(out), "--config", str(config)]
    with use_registry(serving_setup):
        assert run([*argv, "--engine", "dask", "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert "principal" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.glob("scores.parquet*"))


def test_book_seeds_depend_on_the_run_seed_and_the_loan_only():
    from models.book_decide import book_seeds

    ids = np.array([5, 9, 11])
    np.testing.assert_array_equal(book_seeds(7, ids)[[0, 2]], book_seeds(7, ids[[0, 2]]))
    assert len({int(x) for s in range(5) for x in book_seeds(s, ids)}) == 15


def _reason_lists(rng: np.random.Generator, n: int, names: list[str]):
    from models.policy import ReasonLists

    counts = rng.integers(0, 4, n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    texts = np.asarray(rng.choice(names, int(counts.sum())), dtype=object)
    codes = np.asarray([t.split()[0] for t in texts], dtype=object)
    return ReasonLists(offsets=offsets, codes=codes, texts=texts)


def test_coded_reasons_joined_gathered_and_sliced_keep_every_case_s_texts():
    """Parts with different names are joined into shared names, gathered into a new order and
    written as Arrow lists: each case keeps exactly its own codes and texts, in rank order."""
    from models.book_decide import CodedReasons

    rng = np.random.default_rng(7)
    parts = [
        _reason_lists(rng, 50, ["dpd 30 up", "dpd 60 up", "paid 0 down"]),
        _reason_lists(rng, 0, ["unused"]),
        _reason_lists(rng, 40, ["paid 0 down", "limit 5 up", "dpd 90 up"]),
    ]
    want_texts = [p.texts_of(i) for p in parts for i in range(len(p.offsets) - 1)]
    want_codes = [p.codes_of(i) for p in parts for i in range(len(p.offsets) - 1)]
    joined = CodedReasons.concat([CodedReasons.of(p) for p in parts])
    assert len(joined.text_names) == len(set(joined.text_names)) == 5
    order = rng.permutation(len(want_texts))
    codes, texts = joined.take(order).slice_lists(10, 60)
    assert texts.to_pylist() == [want_texts[i] for i in order[10:60]]
    assert codes.to_pylist() == [want_codes[i] for i in order[10:60]]
    assert joined.take(order[:0]).slice_lists(0, 0)[1].to_pylist() == []


def test_local_tasks_read_their_pieces_before_the_bundle_arrives(
    sim_default_dir, trained_run, staged_bundle, local_reference, tmp_path
):
    """A ``PendingBundle``: the fetch completes only once a task has read its piece, and the file
    equals the one scored with the bundle at hand; a failed fetch fails the run with its own error."""
    import threading
    from concurrent.futures import Future

    from fixtures_dask import CHUNK, SEED

    from engine.bundle_source import PendingBundle
    from serving.batch import ParquetBook

    class WatchedBook(ParquetBook):
        def pieces(self, *args, **kwargs):
            pieces = super().pieces(*args, **kwargs)
            for piece in pieces:
                load = piece.load
                object.__setattr__(piece, "load", lambda load=load: (read.set(), load())[1])
            return pieces

    read = threading.Event()
    pending: Future = Future()
    bundle = staged_bundle.load()

    def arrive() -> None:
        pending.set_result(bundle) if read.wait(60) else pending.set_exception(TimeoutError())

    threading.Thread(target=arrive, daemon=True).start()
    kwargs = {"as_of": None, "chunk_size": CHUNK, "model_name": "m", "seed": SEED}
    out = tmp_path / "pending.parquet"
    score_book(WatchedBook(sim_default_dir), PendingBundle(pending), trained_run.cfg.features, out, **kwargs)
    pd.testing.assert_frame_equal(pd.read_parquet(out), local_reference)
    failed: Future = Future()
    failed.set_exception(InputError("model: no version 9"))
    with pytest.raises(InputError, match="no version 9"):
        score_book(
            ParquetBook(sim_default_dir), PendingBundle(failed), trained_run.cfg.features, out, **kwargs
        )


def test_a_book_with_no_overdue_case_writes_an_empty_file_with_the_full_schema(tmp_path):
    from engine.score import book_batches, write_atomically
    from models.book_decide import BookChoice, CaseOptions, CodedReasons

    out = tmp_path / "none.parquet"
    write_atomically([], out)
    table = pq.read_table(out)
    assert table.num_rows == 0 and table.schema.equals(OUTPUT_SCHEMA)
    empty = np.array([], dtype=object)
    reasons = CodedReasons(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32), empty, empty)
    floats = np.zeros(0)
    options = CaseOptions(np.zeros(0, np.int64), np.zeros(0, "datetime64[ns]"), floats, floats, reasons)
    choice = BookChoice(empty, empty, floats, floats, floats, floats)
    assert list(book_batches(options, choice, "m", "1")) == []
    assert not list(tmp_path.glob("*.partial"))
