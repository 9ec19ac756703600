"""The bundle on disk: nothing on its load path is unpickled, and save -> load changes no number.

A bundle folder may come from a shared artifact store, so reading it must not run code: a pickle
planted in a saved folder (where format 1 kept its calibrators and action models) is never read,
and the reloaded bundle scores, explains and decides exactly as the one that was saved.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.bundle import Bundle
from models.calibration import Calibrator
from models.policy import decide

SEED = 5


class _Planted:
    """Unpickling this writes ``marker``: proof that something read the planted file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "unpickled"))


@pytest.mark.parametrize("method", ["platt", "isotonic", "none"])
def test_calibrator_json_round_trip_is_exact(method):
    rng = np.random.default_rng(SEED)
    margin = rng.normal(size=2000)
    y = (rng.random(2000) < 1 / (1 + np.exp(-margin))).astype(float)
    fitted = Calibrator(method).fit(margin, y)
    reloaded = Calibrator.from_dict(pickle.loads(pickle.dumps(fitted.to_dict())))  # plain values only
    grid = np.linspace(-6, 6, 501)
    assert np.array_equal(reloaded.transform(grid), fitted.transform(grid))


@pytest.fixture(scope="module")
def planted_bundle_dir(policy_bundle, tmp_path_factory) -> tuple[Path, Path]:
    folder = policy_bundle.save(tmp_path_factory.mktemp("planted") / "bundle")
    marker = folder.parent / "marker.txt"
    for name in ("calibrators.pkl", "action_models.pkl", "action_models/action_models.pkl"):
        (folder / name).write_bytes(pickle.dumps(_Planted(marker)))
    return folder, marker


def test_loading_a_bundle_never_unpickles(planted_bundle_dir, monkeypatch):
    folder, marker = planted_bundle_dir

    def refuse(*args, **kwargs):
        raise AssertionError("the bundle's load path unpickled something")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    loaded = Bundle.load(folder)
    assert loaded.policy is not None
    assert not marker.exists()
    assert len(list(folder.rglob("*.pkl"))) == 3  # the planted files are still there, unread


def test_save_then_load_gives_identical_scores_reasons_and_decisions(
    planted_bundle_dir, policy_bundle, latest_book
):
    folder, _ = planted_bundle_dir
    loaded = Bundle.load(folder)
    X = latest_book.head(300)
    pd.testing.assert_frame_equal(
        loaded.score(X).to_frame(), policy_bundle.score(X).to_frame(), check_exact=True
    )
    pd.testing.assert_frame_equal(
        loaded.explain(X.head(40)).to_frame(), policy_bundle.explain(X.head(40)).to_frame()
    )
    a = decide(loaded, X, seed=SEED).to_frame()
    b = decide(policy_bundle, X, seed=SEED).to_frame()
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert loaded.policy.config == policy_bundle.policy.config
    assert loaded.policy.rules == policy_bundle.policy.rules
    old, new = policy_bundle.policy.action_models.predict(X), loaded.policy.action_models.predict(X)
    assert np.array_equal(old.decision, new.decision) and np.array_equal(old.value_low, new.value_low)
