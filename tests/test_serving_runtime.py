"""Model runtime: reload only on a new version, the registry watch swaps by itself, failures keep serving."""

from __future__ import annotations

import dataclasses
import threading
import time

from fixtures_serving import use_registry

from serving.runtime import RuntimeHolder, config_hash, load_runtime


def test_watch_swaps_to_a_promoted_version_and_keeps_serving_on_errors(serving_setup, trained_run):
    from registry.store import client, promote, resolve_version, tracking

    cfg = serving_setup.cfg
    with use_registry(serving_setup):
        holder = RuntimeHolder(cfg, load_runtime(cfg))
        old = holder.current.model_version
        assert holder.reload() == (old, holder.current)  # nothing new: same object, no reload
        source = resolve_version(cfg, old).source
        with tracking(cfg):  # MLflow resolves a logged-model source in its global store
            created = client(cfg).create_model_version(
                "rollcure-bundle", source=source, run_id=trained_run.run_id
            )
        new = str(created.version)
        errors: list[Exception] = []
        stop = threading.Event()
        try:
            promote(cfg, new)
            thread = holder.watch(0.2, stop, errors.append)
            deadline = time.monotonic() + 60
            while holder.current.model_version != new and time.monotonic() < deadline:
                time.sleep(0.1)
            assert holder.current.model_version == new
            assert holder.current.bundle.feature_names == trained_run.bundle.feature_names
        finally:
            stop.set()
            promote(cfg, old)
        thread.join(timeout=10)
        assert not thread.is_alive() and errors == []

        # A registry failure during a poll is reported and the current model stays.
        gone = dataclasses.replace(holder.current, alias="no-such-alias")
        broken = RuntimeHolder(cfg, gone)
        stop = threading.Event()
        thread = broken.watch(0.1, stop, errors.append)
        time.sleep(0.5)
        stop.set()
        thread.join(timeout=10)
        assert errors and broken.current is gone


def test_config_hash_is_stable_and_sensitive(serving_setup):
    cfg = serving_setup.cfg
    assert config_hash(cfg) == config_hash(cfg.model_copy())
    other = cfg.model_copy(update={"serving": cfg.serving.model_copy(update={"max_batch_size": 7})})
    assert config_hash(other) != config_hash(cfg) and len(config_hash(cfg)) == 16
