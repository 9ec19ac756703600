"""`rollcure score`: every case overdue at one cycle, scored, explained and decided as one book.

The work is the engine's (``engine.score``): pieces of the book (runs of loans of a data folder,
or the partitions of a folder written by `rollcure partition`) go through the same
``build_features`` -> bundle -> policy path as the HTTP service, in this process
(``--engine local``) or on a dask cluster (``--engine dask``), and the driver allocates the
per-cycle capacities once over the whole book. This module only picks the book, the bundle's
source and the engine from the config, so the command stays a thin shell.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from engine.book import (
    Book,
    ParquetBook,
    PartitionedBook,
    TableBook,
    chunk_tables,
    open_book,
    resolve_as_of,
    tables_up_to,
)
from engine.bundle_source import (
    BundleSource,
    FolderBundle,
    PendingBundle,
    RegistryBundle,
    release,
    stage_bundle,
)
from engine.cluster import open_client
from engine.score import OUTPUT_SCHEMA, BatchSummary, score_book

if TYPE_CHECKING:
    from rollcure.config import RollcureConfig

__all__ = [
    "OUTPUT_SCHEMA",
    "BatchSummary",
    "Book",
    "ParquetBook",
    "PartitionedBook",
    "TableBook",
    "chunk_tables",
    "resolve_as_of",
    "score_book",
    "score_portfolio",
    "tables_up_to",
    "bundle_source",
]


def bundle_source(cfg: RollcureConfig, model: str, local_dir: Path | None = None) -> BundleSource:
    """The registry version ``model`` names, pinned by number: staged to ``engine.bundle_dir`` when
    set, downloaded into ``local_dir`` when given (a LocalCluster: its workers share this machine's
    disk), else loaded by each worker from the registry. Workers read a folder digest-checked."""
    from registry.store import download_bundle, load_bundle, resolve_version, tracking_uri

    if cfg.engine.bundle_dir is None and local_dir is not None:
        folder, digests, mv = download_bundle(cfg, model, local_dir)
        return FolderBundle(folder, tuple(sorted(digests.items())), str(mv.version))
    version = str(resolve_version(cfg, model).version)
    if cfg.engine.bundle_dir is not None:
        return stage_bundle(load_bundle(cfg, version), cfg.engine.bundle_dir, version)
    return RegistryBundle(
        tracking_uri(cfg), Path(cfg.data_dir).resolve(), cfg.training.registered_model, version
    )


def score_portfolio(
    cfg: RollcureConfig,
    data_dir: Path,
    out: Path,
    as_of: date | None,
    model: str,
    on_chunk: Callable[[int, int], None] | None = None,
) -> BatchSummary:
    """Score the data folder ``data_dir`` (plain or partitioned) with the registry bundle ``model``
    on ``cfg.engine``."""
    book = open_book(Path(data_dir))

    def score(source: BundleSource, client: object = None) -> BatchSummary:
        return score_book(
            book,
            source,
            cfg.features,
            out,
            as_of=as_of,
            chunk_size=cfg.serving.batch_chunk_size,
            model_name=cfg.training.registered_model,
            seed=cfg.seed,
            on_chunk=on_chunk,
            engine=cfg.engine,
            client=client,
        )

    if cfg.engine.kind == "local":
        with ThreadPoolExecutor(max_workers=1) as pool:
            # the tasks read their pieces and build features while the registry answers
            return score(PendingBundle(pool.submit(lambda: bundle_source(cfg, model).load())))
    on_this_machine = cfg.engine.scheduler is None
    with (  # the folder outlives the pool, so a failed start never deletes it under a download
        tempfile.TemporaryDirectory(prefix="rollcure-bundle-") if on_this_machine else nullcontext() as tmp,
        ThreadPoolExecutor(max_workers=1) as pool,
    ):
        # the registry answers (seconds: MLflow's import and its store) while the workers start
        resolving = pool.submit(bundle_source, cfg, model, None if tmp is None else Path(tmp))
        with open_client(cfg.engine) as client:
            source = resolving.result()
            try:
                return score(source, client)
            finally:
                if tmp is not None:
                    release(source)
