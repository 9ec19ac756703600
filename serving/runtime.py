"""The model a running service answers with, and how it is (re)loaded from the registry.

A ``ModelRuntime`` is immutable: a reload builds a new one and swaps one reference, so a request
that started on the old model finishes on it and no request ever sees half of each.
"""

from __future__ import annotations

import functools
import hashlib
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from models.bundle import Bundle
from rollcure.config import RollcureConfig
from rollcure.core.catalogue import ACTIONS


@dataclass(frozen=True)
class ModelRuntime:
    """A loaded bundle with the registry facts the service reports and logs."""

    bundle: Bundle
    model_name: str
    model_version: str
    alias: str
    run_id: str | None
    config_hash: str

    @property
    def has_policy(self) -> bool:
        return self.bundle.policy is not None

    @property
    def daily_capacity(self) -> dict[str, int | None]:
        """The policy's capacity per action and working day (None: unlimited); empty without a
        policy. The service books it in the capacity ledger (``serving.ledger``)."""
        if self.bundle.policy is None:
            return {}
        return dict(self.bundle.policy.config.daily_capacity)

    @functools.cached_property
    def merge_limit(self) -> float:
        """Most cases one merged pass of decisions may hold (inf without a policy).

        The policy shares each action's per-cycle capacity among the cases it decides together. A
        pass no larger than the smallest finite capacity cannot make any capacity bind, so each case
        gets what it would get in its own request; a request larger than that runs alone, as before.
        """
        if self.bundle.policy is None:
            return math.inf
        caps = [c for c in self.bundle.policy.config.cycle_capacity() if math.isfinite(c) and c > 0]
        return float(max(1, math.floor(min(caps)))) if caps else math.inf


def config_hash(cfg: RollcureConfig) -> str:
    """Short digest of the running configuration (secrets are never in it)."""
    return hashlib.sha256(cfg.model_dump_json().encode()).hexdigest()[:16]


def registered_version(cfg: RollcureConfig, ref: str) -> str:
    """The version an alias points at now (cheap: one registry query, no download)."""
    from registry.store import resolve_version

    return str(resolve_version(cfg, ref).version)


def load_runtime(cfg: RollcureConfig, ref: str | None = None) -> ModelRuntime:
    """Load the bundle of ``ref`` (default: the configured alias) from the registry."""
    from registry.store import load_bundle

    alias = ref or cfg.serving.model_alias
    bundle = load_bundle(cfg, alias)
    for scorer in bundle.scorers.values():  # read the trees for TreeSHAP now, not on the first request
        scorer.model.explainer()
    if bundle.policy is not None:  # and the action models' trees, with their kernel compiled
        for forest in bundle.policy.action_models.forests():
            forest.predict(np.zeros((1, forest.n_case_features)), len(ACTIONS))
    return ModelRuntime(
        bundle=bundle,
        model_name=cfg.training.registered_model,
        model_version=str(bundle.metadata.get("registered_version", "unregistered")),
        alias=alias,
        run_id=bundle.metadata.get("run_id"),
        config_hash=config_hash(cfg),
    )


class RuntimeHolder:
    """The current runtime behind a lock that serialises reloads (reads need no lock)."""

    def __init__(self, cfg: RollcureConfig, runtime: ModelRuntime) -> None:
        self.cfg = cfg
        self.current = runtime
        self._reload_lock = threading.Lock()

    def reload(self, force: bool = False) -> tuple[str, ModelRuntime]:
        """Swap to the version the alias points at now, if it changed; returns (previous, now)."""
        with self._reload_lock:
            previous = self.current
            if not force and registered_version(self.cfg, previous.alias) == previous.model_version:
                return previous.model_version, previous
            fresh = load_runtime(self.cfg, previous.alias)
            self.current = fresh
            return previous.model_version, fresh

    def watch(
        self, interval: float, stop: threading.Event, on_error: Callable[[Exception], None]
    ) -> threading.Thread:
        """Poll the registry every ``interval`` seconds in a daemon thread until ``stop`` is set."""

        def loop() -> None:
            while not stop.wait(interval):
                try:
                    self.reload()
                except Exception as exc:  # noqa: BLE001 - keep serving the current model
                    on_error(exc)

        thread = threading.Thread(target=loop, name="rollcure-model-watch", daemon=True)
        thread.start()
        return thread
