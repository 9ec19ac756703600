"""A worker killed mid-run: the run completes on the others with the same file, or, when the
cluster gives up, ends in one line and exit 1 with no output file (never a partial one)."""

from __future__ import annotations

import threading
import time

import pandas as pd
from fixtures_dask import SEED, dask_processes

from engine.book import ParquetBook
from engine.score import score_book
from rollcure.config.engine import EngineConfig

#: Small pieces, so the run is still going when the first one is back.
KILL_CHUNK = 40


def test_killing_a_worker_mid_run_still_writes_the_whole_file(
    staged_bundle, local_reference, trained_run, sim_default_dir, tmp_path
):
    out = tmp_path / "scores.parquet"
    with dask_processes(tmp_path, n_workers=2) as procs:
        killed: list[int] = []

        def kill_first_worker(done: int, total: int) -> None:
            if not killed:
                assert done < total  # mid-run: pieces are still to come
                procs.kill(procs.workers[0])
                killed.append(done)

        score_book(
            ParquetBook(sim_default_dir),
            staged_bundle,
            trained_run.cfg.features,
            out,
            as_of=None,
            chunk_size=KILL_CHUNK,
            model_name="m",
            seed=SEED,
            engine=EngineConfig(kind="dask", scheduler=procs.address),
            on_chunk=kill_first_worker,
        )
        assert killed and procs.workers[0].poll() is not None and procs.workers[1].poll() is None
    pd.testing.assert_frame_equal(pd.read_parquet(out), local_reference)
    assert not list(tmp_path.glob("*.partial"))


def _kill_a_busy_worker(procs, stop: threading.Event, killed: list[str]) -> None:
    """Kill the first worker seen running a task (from a second client on the scheduler)."""
    from distributed import Client

    with Client(procs.address, timeout=10, set_as_default=False) as side:
        deadline = time.monotonic() + 120
        while not stop.is_set() and time.monotonic() < deadline:
            names = {a: w["name"] for a, w in side.scheduler_info()["workers"].items()}
            busy = [names[a] for a, keys in side.processing().items() if keys and a in names]
            if busy:
                procs.kill(procs.workers[int(str(busy[0]).removeprefix("w"))])
                killed.append(str(busy[0]))
                return
            time.sleep(0.05)


def test_when_the_cluster_gives_up_the_run_ends_in_one_line_and_no_file(
    serving_setup, sim_default_dir, tmp_path, capsys
):
    """With engine.allowed_failures 0 on the scheduler, a task whose worker dies is not rerun."""
    from fixtures_serving import use_registry, write_serving_config

    from cli.main import run

    config = write_serving_config(serving_setup, tmp_path / "config.yaml", batch_chunk_size=KILL_CHUNK)
    out = tmp_path / "scores.parquet"
    argv = ["score", "--data", str(sim_default_dir), "--out", str(out), "--config", str(config)]
    with dask_processes(tmp_path, n_workers=2, allowed_failures=0) as procs, use_registry(serving_setup):
        stop, killed = threading.Event(), []
        killer = threading.Thread(target=_kill_a_busy_worker, args=(procs, stop, killed), daemon=True)
        killer.start()
        try:
            code = run([*argv, "--scheduler", procs.address])
        finally:
            stop.set()
            killer.join(timeout=30)
    assert killed, "no worker was killed: the test proves nothing"
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1, err
    assert len(err) == 1 and err[0].startswith("error: engine: workers died"), err
    assert not out.exists() and not list(tmp_path.glob("scores.parquet*"))
