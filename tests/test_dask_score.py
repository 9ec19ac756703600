"""`rollcure score --engine dask`: the same file as `--engine local`, through a LocalCluster, a
partitioned book and a real scheduler with workers started as commands."""

from __future__ import annotations

import pandas as pd
import pytest
from fixtures_dask import CHUNK, SEED, dask_processes

from engine.book import ParquetBook, PartitionedBook
from engine.score import score_book


def _score(book, staged_bundle, trained_run, out, engine=None, client=None, on_chunk=None):
    score_book(
        book,
        staged_bundle,
        trained_run.cfg.features,
        out,
        as_of=None,
        chunk_size=CHUNK,
        model_name="m",
        seed=SEED,
        engine=engine,
        client=client,
        on_chunk=on_chunk,
    )
    return pd.read_parquet(out)


def test_local_cluster_of_two_workers_writes_the_local_file(
    local_cluster, local_reference, staged_bundle, trained_run, sim_default_dir, tmp_path
):
    cfg, client = local_cluster
    got = _score(
        ParquetBook(sim_default_dir), staged_bundle, trained_run, tmp_path / "d.parquet", cfg, client
    )
    assert len(got) == len(local_reference) > 2 * CHUNK  # several pieces, shared by two workers
    assert len(client.scheduler_info()["workers"]) == 2
    pd.testing.assert_frame_equal(got, local_reference)
    assert got["action"].nunique() > 1 and got["reason_codes"].map(len).gt(0).all()


def test_a_partitioned_book_gives_the_same_file(
    local_cluster, local_reference, staged_bundle, trained_run, partitioned_book, tmp_path
):
    cfg, client = local_cluster
    book = PartitionedBook(partitioned_book)
    got = _score(book, staged_bundle, trained_run, tmp_path / "p.parquet", cfg, client)
    pd.testing.assert_frame_equal(got, local_reference)
    local = _score(book, staged_bundle, trained_run, tmp_path / "pl.parquet")
    pd.testing.assert_frame_equal(local, local_reference)


def test_partitions_hold_each_loan_whole(partitioned_book, sim_default_dir):
    from engine.partition import partition_of, read_manifest

    raw = pd.read_parquet(sim_default_dir / "cycles.parquet", columns=["loan_id"])
    seen = []
    for k in range(4):
        part = pd.read_parquet(partitioned_book / "cycles" / f"part={k}", columns=["loan_id"])
        assert (partition_of(part["loan_id"].to_numpy(), 4) == k).all()
        seen.append(part)
    assert sum(len(p) for p in seen) == len(raw)
    assert read_manifest(partitioned_book)["partitions"] == 4


def test_partition_files_hold_full_row_groups(sim_default_dir, tmp_path, monkeypatch):
    """Streamed in small batches over several partitions, each file still gets row groups of the
    writer's size, not one fragment per batch and partition."""
    import math

    import pyarrow.parquet as pq

    import engine.partition as partition

    monkeypatch.setattr(partition, "BATCH_ROWS", 10_000)  # the default book's cycles: ~25 batches
    partition.partition_book(sim_default_dir, tmp_path / "book", 4)
    size = partition.rows_per_group(4)
    files = sorted((tmp_path / "book" / "cycles").rglob("*.parquet"))
    assert len(files) == 4
    for f in files:
        meta = pq.ParquetFile(f).metadata
        assert meta.num_row_groups == math.ceil(meta.num_rows / size), (f, meta.num_rows, meta.num_row_groups)
    assert partition.rows_per_group(1) == 1 << 17 and partition.rows_per_group(1 << 16) == 1 << 10


def test_dask_workers_refuse_an_in_memory_bundle(local_cluster, trained_run, sim_default_dir, tmp_path):
    from rollcure.core.errors import InputError

    cfg, client = local_cluster
    with pytest.raises(InputError, match="dask workers load the bundle from a folder or the registry"):
        _score(
            ParquetBook(sim_default_dir), trained_run.bundle, trained_run, tmp_path / "x.parquet", cfg, client
        )


def test_a_changed_bundle_file_is_refused_on_the_workers(
    local_cluster, staged_bundle, trained_run, sim_default_dir, tmp_path
):
    """Workers load the folder through the digest check: a file changed after staging is refused."""
    import dataclasses
    import shutil

    from rollcure.core.errors import InputError

    cfg, client = local_cluster
    copy = tmp_path / "bundle"
    shutil.copytree(staged_bundle.path, copy)
    (copy / "reason_codes.csv").write_text((copy / "reason_codes.csv").read_text() + "\n")
    tampered = dataclasses.replace(staged_bundle, path=copy)
    with pytest.raises(InputError, match="reason_codes.csv"):
        _score(ParquetBook(sim_default_dir), tampered, trained_run, tmp_path / "t.parquet", cfg, client)
    assert not list(tmp_path.glob("t.parquet*"))


def test_a_real_scheduler_and_two_workers_score_through_the_cli(
    serving_setup, local_reference, sim_default_dir, tmp_path
):
    """`dask scheduler` + 2 × `dask worker` on 127.0.0.1; the CLI connects with --scheduler and each
    worker loads the registered bundle from the registry itself."""
    from fixtures_serving import use_registry, write_serving_config

    from cli.main import run

    config = write_serving_config(serving_setup, tmp_path / "config.yaml", batch_chunk_size=CHUNK)
    out = tmp_path / "scores.parquet"
    with dask_processes(tmp_path, n_workers=2) as procs, use_registry(serving_setup):
        argv = ["score", "--data", str(sim_default_dir), "--out", str(out), "--config", str(config)]
        assert run([*argv, "--scheduler", procs.address]) == 0
    got = pd.read_parquet(out)
    want = local_reference.assign(model_name=got["model_name"], model_version=serving_setup.version)
    pd.testing.assert_frame_equal(got, want)


def test_a_local_cluster_through_the_cli_reads_the_bundle_from_a_folder_it_removes_after(
    serving_setup, local_reference, sim_default_dir, tmp_path, monkeypatch
):
    """`--workers 2` without a scheduler: the driver downloads the registered version into a
    temporary folder its LocalCluster's workers load (digest-checked); the folder is gone after."""
    import tempfile

    from fixtures_serving import use_registry, write_serving_config

    import registry.store
    from cli.main import run

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    downloads = []
    download = registry.store.download_bundle

    def spy(cfg, ref, dst):
        downloads.append(dst)
        return download(cfg, ref, dst)

    monkeypatch.setattr(registry.store, "download_bundle", spy)
    config = write_serving_config(serving_setup, tmp_path / "config.yaml", batch_chunk_size=CHUNK)
    out = tmp_path / "scores.parquet"
    argv = ["score", "--data", str(sim_default_dir), "--out", str(out), "--config", str(config)]
    with use_registry(serving_setup):
        assert run([*argv, "--workers", "2"]) == 0
    got = pd.read_parquet(out)
    want = local_reference.assign(model_name=got["model_name"], model_version=serving_setup.version)
    pd.testing.assert_frame_equal(got, want)
    assert len(downloads) == 1 and downloads[0].parent == scratch
    assert downloads[0].name.startswith("rollcure-bundle-")  # the run's folder, not load_bundle's
    assert not list(scratch.glob("rollcure-bundle-*"))


def test_an_unreachable_scheduler_is_one_line_exit_two(serving_setup, sim_default_dir, tmp_path, capsys):
    from fixtures_serving import free_port, use_registry

    from cli.main import run
    from rollcure.config.engine import EngineConfig
    from serving.runner import write_config

    cfg = serving_setup.cfg.model_copy(update={"engine": EngineConfig(connect_timeout_seconds=2)})
    config = write_config(cfg, tmp_path / "config.yaml")
    out = tmp_path / "x.parquet"
    argv = ["score", "--data", str(sim_default_dir), "--out", str(out), "--config", str(config)]
    with use_registry(serving_setup):
        assert run([*argv, "--scheduler", f"tcp://127.0.0.1:{free_port()}"]) == 2
        assert run([*argv, "--scheduler", "127.0.0.1:8786"]) == 2
        assert run([*argv, "--engine", "spark"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("error: --") for line in err), err
    assert (
        "no dask scheduler answered" in err[0]
        and "within 2 s" in err[0]
        and "allowed schemes" in err[1]
        and "--engine" in err[2]
    )
    assert not out.exists()


def test_partition_refuses_bad_input_in_one_line(sim_default_dir, tmp_path, capsys):
    from cli.main import run

    (tmp_path / "taken").mkdir()
    assert (
        run(
            [
                "partition",
                "--data",
                str(sim_default_dir),
                "--out",
                str(tmp_path / "taken"),
                "--partitions",
                "4",
            ]
        )
        == 2
    )
    assert (
        run(
            ["partition", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--partitions", "4"]
        )
        == 2
    )
    assert (
        run(["partition", "--data", str(sim_default_dir), "--out", str(tmp_path / "o"), "--partitions", "0"])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 3
        and "--out:" in err[0]
        and "--data: folder not found" in err[1]
        and "--partitions" in err[2]
    )
    assert not (tmp_path / "o").exists() and not (tmp_path / "o.partial").exists()


def _worker_state(dask_worker) -> tuple[bool, list[str], str | None, str]:
    import os
    import sys

    import pyarrow as pa

    return (
        "engine.score" in sys.modules,
        [p.name for p in dask_worker.preloads],
        os.environ.get("MALLOC_MMAP_THRESHOLD_"),
        pa.default_memory_pool().backend_name,
    )


def test_local_cluster_workers_start_warm_with_the_allocator_settings(local_cluster):
    """Each worker preloaded the scoring modules only, not ``engine.worker_setup``'s MLflow (a
    LocalCluster's workers read the bundle from a folder the driver downloads), and runs with
    ``WORKER_ENV``."""
    from rollcure.core.memory_env import WORKER_ENV

    _, client = local_cluster
    states = list(client.run(_worker_state).values())
    want = (
        True,
        ["engine.score"],
        WORKER_ENV["MALLOC_MMAP_THRESHOLD_"],
        WORKER_ENV["ARROW_DEFAULT_MEMORY_POOL"],
    )
    assert states == [want, want]
