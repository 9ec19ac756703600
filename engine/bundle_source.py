"""Where a worker loads the bundle from: the MLflow registry or a folder the cluster can read.

The bundle is never shipped to workers as a pickle: the driver sends a small source (a registry
version pinned by number, or a folder path and the SHA-256 of every file), and each worker loads
the bundle itself once, through ``Bundle.load``'s digest check, and keeps it for later tasks. A
folder changed after the driver staged it is refused by every worker, naming the file.
"""

from __future__ import annotations

import shutil
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from models.bundle import Bundle
from models.digest import check_digests, folder_digests

#: Bundles loaded in this process, by source (a dask worker keeps them between tasks).
_LOADED: dict[object, Bundle] = {}


@dataclass(frozen=True)
class FolderBundle:
    """A bundle folder on a path every worker can read, with the digests its files must have."""

    path: Path
    digests: tuple[tuple[str, str], ...]
    version: str

    def load(self) -> Bundle:
        if self not in _LOADED:
            bundle = Bundle.load(Path(self.path), digests=dict(self.digests))
            bundle.metadata = {**bundle.metadata, "registered_version": self.version}
            _LOADED[self] = bundle
        return _LOADED[self]


@dataclass(frozen=True)
class RegistryBundle:
    """A registered version, pinned by number (an alias could move during the run)."""

    tracking_uri: str
    data_dir: Path
    model_name: str
    version: str

    def load(self) -> Bundle:
        if self not in _LOADED:
            from registry.store import load_bundle
            from rollcure.config import RollcureConfig
            from rollcure.config.training import TrainingConfig

            cfg = RollcureConfig(
                data_dir=self.data_dir,
                training=TrainingConfig(tracking_uri=self.tracking_uri, registered_model=self.model_name),
            )
            _LOADED[self] = load_bundle(cfg, self.version)
        return _LOADED[self]


@dataclass(frozen=True)
class InMemoryBundle:
    """A bundle already loaded in this process (the local engine, tests); never sent to a worker."""

    bundle: Bundle

    @property
    def version(self) -> str:
        return str(self.bundle.metadata.get("registered_version", "unregistered"))

    def load(self) -> Bundle:
        return self.bundle

    def __reduce__(self) -> tuple:
        raise TypeError("InMemoryBundle stays in its process: give workers a FolderBundle or RegistryBundle")


def release(source: BundleSource) -> None:
    """Drop this process's copy of a source's bundle (a run's temporary folder is not read again)."""
    _LOADED.pop(source, None)


@dataclass(frozen=True)
class PendingBundle:
    """A bundle still being fetched in this process (the local engine): its tasks start reading
    their piece and building features while the registry answers (seconds: MLflow's import, its
    store and the download), and wait for the bundle only when they need its models. Every task
    shares the one fetch; a failed fetch fails each task that asks. Never sent to a worker."""

    future: Future[Bundle]

    @property
    def version(self) -> str:
        return str(self.load().metadata.get("registered_version", "unregistered"))

    def load(self) -> Bundle:
        return self.future.result()

    def __reduce__(self) -> tuple:
        raise TypeError("PendingBundle stays in its process: give workers a FolderBundle or RegistryBundle")


BundleSource = FolderBundle | RegistryBundle | InMemoryBundle | PendingBundle


def stage_bundle(bundle: Bundle, folder: Path, version: str) -> FolderBundle:
    """Save ``bundle`` into ``folder`` (a path the workers can read; replaced) and pin its digests."""
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    bundle.save(folder)
    digests = folder_digests(folder)
    check_digests(folder, digests)
    return FolderBundle(folder, tuple(sorted(digests.items())), version)
