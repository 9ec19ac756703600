"""Serving settings: the HTTP service, its audit log and the batch scorer.

Secrets never live here: the config names the environment variables that hold them (the API token,
the salt of the case-id hash), so a config file can be committed and shared.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: The BentoML service name (also the key of its settings in BentoML's own configuration).
SERVICE_NAME = "rollcure"
#: Environment variable naming the YAML config file the service process loads at start-up.
CONFIG_ENV = "ROLLCURE_CONFIG"
#: Environment variable that lets the service start without its secrets (a local demo only).
INSECURE_DEV_ENV = "ROLLCURE_INSECURE_DEV"


class ServingConfig(BaseModel):
    """Knobs of `rollcure serve`, `rollcure score` and `rollcure decisions export`."""

    model_config = ConfigDict(extra="forbid")

    port: int = Field(default=3000, ge=1, le=65535, description="HTTP port of `rollcure serve`.")
    host: str = Field(default="127.0.0.1", description="Interface to bind; 0.0.0.0 to expose it.")
    workers: int = Field(
        default=1,
        ge=1,
        le=16,
        description="BentoML worker processes. More than one needs reload_poll_seconds > 0, because "
        "POST /reload reaches a single worker while each worker polls the registry by itself.",
    )
    model_alias: str = Field(
        default="champion", min_length=1, description="Registry alias (or version) the service loads."
    )
    max_batch_size: int = Field(
        default=1000, ge=1, description="Most cases one request may carry; more is HTTP 413."
    )
    decision_log_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the decision log; None means SQLite at <data_dir>/decisions.sqlite. "
        "A postgresql:// URL points it at PostgreSQL.",
    )
    token_env: str = Field(
        default="ROLLCURE_API_TOKEN", description="Environment variable holding the bearer token."
    )
    salt_env: str = Field(
        default="ROLLCURE_ID_SALT", description="Environment variable holding the case-id hash salt."
    )
    reload_poll_seconds: float = Field(
        default=0.0,
        ge=0.0,
        description="When > 0, the service checks the registry alias this often and swaps to a new "
        "version by itself; POST /reload (or `rollcure reload`) works either way.",
    )
    omp_threads: int = Field(
        default=1,
        ge=1,
        le=64,
        description="OpenMP threads per prediction in the service process (OMP_NUM_THREADS unless set): "
        "requests are small and run concurrently, so one thread each avoids OpenMP spin-waits "
        "(a single-case LightGBM predict went from 28 ms to 8 ms on a busy 2-core machine).",
    )
    batch_chunk_size: int = Field(
        default=50_000, ge=1, description="Cases per chunk in `rollcure score` (bounds memory)."
    )
    coalesce_max_cases: int = Field(
        default=256,
        ge=1,
        description="Most cases the service decides in one pass when it merges concurrent requests "
        "(one feature build, one model call and one log commit for all of them).",
    )
    coalesce_wait_ms: float = Field(
        default=0.0,
        ge=0.0,
        le=100.0,
        description="How long the first waiting request holds the pass open for others to join; 0 "
        "merges only what is already queued, so a lone request never waits.",
    )

    max_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest request body in bytes; a larger one is HTTP 413 before any of it is parsed "
        "(a case is about 3 KB of JSON, so the default holds max_batch_size cases with room to spare).",
    )
    as_of_ahead_hours: float = Field(
        default=24.0,
        ge=0.0,
        description="How far a case's as_of may lie beyond the server's clock (time zones, clock skew); "
        "later is HTTP 422.",
    )
    auth_failures_per_minute: int = Field(
        default=30,
        ge=1,
        description="Failed authentications one client address may make per minute; beyond that it gets "
        "HTTP 429 until the minute has passed.",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0,
        gt=0.0,
        le=300.0,
        description="On SIGTERM/SIGINT `rollcure serve` lets in-flight requests finish this long, then "
        "kills what is left of the process tree.",
    )

    @model_validator(mode="after")
    def _reload_reaches_every_worker(self) -> ServingConfig:
        if self.workers > 1 and self.reload_poll_seconds <= 0:
            raise ValueError(
                "workers > 1 needs reload_poll_seconds > 0 (POST /reload reaches one worker only)"
            )
        return self
