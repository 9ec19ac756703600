"""Engine settings: where the parallel work of `rollcure score` and `rollcure train` runs.

``local`` keeps everything in the calling process (the reference: no cluster, no serialisation);
``dask`` runs the per-partition work on a ``dask.distributed`` cluster, either one started at a
``scheduler`` address by the operator or, without an address, a ``LocalCluster`` sized to this
machine. The same settings drive both commands, so a book scored and trained on one cluster is
configured once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Schemes a dask scheduler address may use.
SCHEDULER_SCHEMES: tuple[str, ...] = ("tcp://", "tls://", "inproc://", "ucx://")


class EngineConfig(BaseModel):
    """Knobs of `--engine local|dask`, `--scheduler ADDRESS` and the local cluster."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["local", "dask"] = Field(
        default="local", description="local: in this process; dask: on a dask.distributed cluster."
    )
    scheduler: str | None = Field(
        default=None,
        description="Address of a running dask scheduler (tcp://host:8786); None starts a LocalCluster.",
    )
    workers: int = Field(
        default=0, ge=0, le=256, description="Worker processes of the LocalCluster; 0 = one per usable core."
    )
    local_threads: int = Field(
        default=2,
        ge=1,
        le=64,
        description="Pieces the local engine decides at once, on threads of this process (at most one per "
        "usable core). Two let one piece's Python work overlap the other's kernels (LightGBM, TreeSHAP "
        "and the Parquet reads release the GIL, and already use every core); each piece in flight holds "
        "its rows in memory.",
    )
    threads_per_worker: int = Field(
        default=1,
        ge=1,
        le=64,
        description="Threads per LocalCluster worker. One: LightGBM and TreeSHAP already fill a core, and "
        "the process is the unit of memory.",
    )
    memory_limit: str = Field(
        default="auto",
        min_length=1,
        description="Memory limit per LocalCluster worker (dask syntax: '3GiB', 'auto' = RAM / workers); "
        "a worker spills to disk above 60% of it and pauses above 80%.",
    )
    partitions: int = Field(
        default=0,
        ge=0,
        le=100_000,
        description="Partitions when a plain data folder is cut on the fly (loan-id ranges); 0 = the "
        "cases / serving.batch_chunk_size. A folder written by `rollcure partition` keeps its own.",
    )
    bundle_dir: Path | None = Field(
        default=None,
        description="Folder every worker can read: the driver copies the registered bundle there and "
        "workers load it from it (digest-checked). None: each worker loads from the MLflow registry.",
    )
    connect_timeout_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="How long to wait for the scheduler and its first worker."
    )
    allowed_failures: int = Field(
        default=3,
        ge=0,
        le=100,
        description="How often a task may lose its worker (killed, out of memory) before the run fails; "
        "below it dask reruns the task on another worker.",
    )

    @field_validator("scheduler")
    @classmethod
    def _a_dask_address(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(SCHEDULER_SCHEMES):
            raise ValueError(f"{v!r} is not a dask address; allowed schemes: " + ", ".join(SCHEDULER_SCHEMES))
        return v

    @model_validator(mode="after")
    def _address_needs_dask(self) -> EngineConfig:
        if self.scheduler is not None and self.kind != "dask":
            raise ValueError("engine.scheduler: an address needs engine.kind 'dask' (--engine dask)")
        return self
