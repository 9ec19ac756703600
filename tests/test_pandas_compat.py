"""Every private-pandas fast path in `rollcure.core.pandas_compat` against its public fallback.

Each pair must give the same values, dtypes and array types (NaN, NaT, NA, categoricals, strings,
empty frames), and the whole feature and model-input path must be bit-identical with the fast
paths on and off, so dropping one never changes a score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rollcure.core import pandas_compat as compat
from rollcure.core.pandas_compat import FAST_PATHS, use_fast_paths

CATS = pd.CategoricalDtype(["a", "b", "c"])


def _mixed(n: int) -> pd.DataFrame:
    """Every kind of column the project reads, with missing values, in several blocks."""
    rng = np.random.default_rng(n)
    floats = rng.normal(size=n)
    floats[::2] = np.nan
    stamps = pd.date_range("2024-01-31", periods=n, freq="D").to_numpy().copy()
    stamps[1::3] = np.datetime64("NaT")
    labels = np.array(["a", None, "c", "b"] * n, dtype=object)[:n]
    frame = pd.DataFrame(
        {
            "i": np.arange(n, dtype=np.int64),
            "f": floats,
            "b": np.arange(n) % 2 == 0,
            "t": stamps,
            "cat": pd.Categorical(labels, dtype=CATS),
            "s": pd.array(labels, dtype="str"),
            "ni": pd.array([None if k % 3 == 0 else k for k in range(n)], dtype="Int64"),
            "o": np.array([{"k": k} for k in range(n)], dtype=object),
            "f32": floats.astype(np.float32),
        }
    )
    frame["f2"] = floats * 2  # a second float block (not consolidated)
    frame["u8"] = np.arange(n, dtype=np.uint8)
    return frame


FRAMES = [pytest.param(_mixed(n), id=f"rows{n}") for n in (0, 1, 7)]


def _same_array(fast: object, slow: object) -> None:
    assert type(fast) is type(slow)
    assert fast.dtype == slow.dtype
    if isinstance(fast, np.ndarray):
        assert fast.flags.writeable == slow.flags.writeable
        assert fast.shape == slow.shape
        assert fast.tobytes() == slow.tobytes() if fast.dtype != object else list(fast) == list(slow)
    else:
        assert fast.equals(slow)


@pytest.mark.parametrize("frame", FRAMES)
def test_column_array_matches_public(frame):
    for i in range(frame.shape[1]):
        with use_fast_paths(["column_array"]):
            fast = compat.column_array(frame, i)
        with use_fast_paths("none"):
            slow = compat.column_array(frame, i)
        _same_array(fast, slow)
        if isinstance(fast, np.ndarray):
            assert not fast.flags.writeable  # a view into the frame: never written through


@pytest.mark.parametrize("frame", FRAMES)
def test_column_arrays_match_public(frame):
    positions = np.array([3, 0, 4, 4, 10, 1, 5, 6, 7, 2, 8, 9])
    with use_fast_paths(["block_reads"]):
        fast = compat.column_arrays(frame, positions)
    with use_fast_paths("none"):
        slow = compat.column_arrays(frame, positions)
    assert len(fast) == len(slow) == len(positions)
    for a, b in zip(fast, slow, strict=True):
        _same_array(a, b)


@pytest.mark.parametrize("frame", FRAMES)
@pytest.mark.parametrize("skip_every", [0, 2, 3])
def test_copy_numeric_columns_matches_public(frame, skip_every):
    positions = np.arange(frame.shape[1])[::-1].copy()
    skip = np.zeros(positions.size, dtype=bool)
    if skip_every:
        skip[::skip_every] = True
    outs, dones = [], []
    for setting in (["block_reads"], "none"):
        out = np.full((len(frame), positions.size), -7.0)
        with use_fast_paths(setting):
            dones.append(compat.copy_numeric_columns(frame, positions, skip, out))
        outs.append(out)
    np.testing.assert_array_equal(dones[0], dones[1])
    assert outs[0].tobytes() == outs[1].tobytes()  # bit for bit, NaN included
    assert not (dones[0] & skip).any()


def _blocks(n: int) -> tuple[list, pd.Index]:
    rng = np.random.default_rng(n)
    floats = rng.normal(size=(2, n))
    floats[0, ::2] = np.nan
    stamps = np.array(["2024-01-31", "NaT", "1970-01-01"] * n, dtype="datetime64[ns]")[: 2 * n]
    labels = (["b", None, "a"] * n)[:n]
    blocks = [
        (np.arange(n, dtype=np.int64).reshape(1, n), np.array([0])),
        (stamps.reshape(2, n), np.array([5, 1])),
        (floats, np.array([2, 6])),
        (pd.Categorical(labels, dtype=CATS), np.array([3])),
        (pd.array(labels, dtype="str"), np.array([4])),
        ((np.arange(n) % 2 == 0).reshape(1, n), np.array([7])),
    ]
    return blocks, pd.Index(["k", "t0", "f0", "cat", "s", "t1", "f1", "flag"])


@pytest.mark.parametrize("n", [0, 1, 5])
def test_frame_from_blocks_matches_public(n):
    blocks, columns = _blocks(n)
    frames = {}
    for setting in (["frame_from_blocks"], "none"):
        with use_fast_paths(setting):
            frames[str(setting)] = compat.frame_from_blocks(blocks, n, columns)
    reference = frames.pop("none")
    assert isinstance(reference.index, pd.RangeIndex)
    assert reference["t1"].dtype == np.dtype("datetime64[ns]")
    assert reference["cat"].dtype == CATS
    for frame in frames.values():
        pd.testing.assert_frame_equal(frame, reference, check_exact=True)
        assert isinstance(frame.index, pd.RangeIndex)


def test_fast_paths_switch_and_refuse_unknown_names():
    with use_fast_paths("none"):
        assert compat.enabled() == frozenset()
        with use_fast_paths(["column_array"]):
            assert compat.enabled() == {"column_array"}
        assert compat.enabled() == frozenset()
    with pytest.raises(ValueError, match="unknown fast path"):
        with use_fast_paths(["column_arrays"]):
            pass


@pytest.mark.parametrize("version", ["3.0.2", "3.2.0", "4.0.0.dev0+123"])
def test_untested_pandas_uses_only_public_code(monkeypatch, version):
    monkeypatch.setattr(pd, "__version__", version)
    monkeypatch.setattr(compat, "_AVAILABLE", compat._available())
    assert compat._AVAILABLE == frozenset()
    with use_fast_paths("all"):
        assert compat.enabled() == frozenset()


def test_tested_pandas_allows_every_fast_path():
    assert compat._available() == frozenset(FAST_PATHS)


def test_features_and_model_inputs_are_bit_identical_either_way(sim_small, sim_small_cases):
    """The whole path: build_features (book and one payload) and the LightGBM matrix."""
    from features.build import build_features
    from features.payload import payloads_to_tables
    from features.payload_from_tables import payloads_from_tables
    from models.lgb_input import as_lgb_matrix, column_values
    from rollcure.config.features import FeatureConfig

    cases = sim_small_cases.iloc[:300].reset_index(drop=True)
    payloads = payloads_from_tables(sim_small.tables, cases.iloc[:20])
    built = {}
    for setting in ("all", "none"):
        with use_fast_paths(setting):
            X = build_features(sim_small.tables, cases, FeatureConfig())
            tables, one = payloads_to_tables(payloads)
            served = build_features(tables, one, FeatureConfig())
            matrix = as_lgb_matrix(X)
            values = column_values(X, list(X.columns))
        built[setting] = (X, tables, served, matrix, values)
    fast, slow = built["all"], built["none"]
    pd.testing.assert_frame_equal(fast[0], slow[0], check_exact=True)
    for name in fast[1]:
        pd.testing.assert_frame_equal(fast[1][name], slow[1][name], check_exact=True)
    pd.testing.assert_frame_equal(fast[2], slow[2], check_exact=True)
    assert fast[3].tobytes() == slow[3].tobytes()
    for a, b in zip(fast[4], slow[4], strict=True):
        _same_array(a, b)


@pytest.mark.parametrize("path", FAST_PATHS)
def test_each_fast_path_alone_gives_the_same_features(path, tiny_tables):
    from features.build import build_features
    from features.cases import overdue_cases
    from rollcure.config.features import FeatureConfig

    cases = overdue_cases(tiny_tables["cycles"])
    with use_fast_paths("none"):
        reference = build_features(tiny_tables, cases, FeatureConfig())
    with use_fast_paths([path]):
        pd.testing.assert_frame_equal(build_features(tiny_tables, cases, FeatureConfig()), reference)


#: Private pandas names that only `rollcure.core.pandas_compat` may use.
PRIVATE_PANDAS = ("._mgr", "_get_column_array", "_simple_new", "_from_sequence", "pandas.api.internals")
PACKAGES = ("rollcure", "features", "models", "serving", "training", "registry", "adapters", "simulation",
            "benchmarks")  # fmt: skip


def test_private_pandas_only_in_the_compat_module():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    compat_file = root / "rollcure" / "core" / "pandas_compat.py"
    offenders = [
        f"{path.relative_to(root)}: {name}"
        for package in PACKAGES
        for path in sorted((root / package).rglob("*.py"))
        if path != compat_file
        for name in PRIVATE_PANDAS
        if name in path.read_text()
    ]
    assert not offenders, offenders


def test_column_positions_follow_each_frames_own_order():
    """The same request on frames with the same names in another order, or with one missing, gets
    that frame's answer."""
    from models.lgb_input import column_positions
    from rollcure.core.errors import InputError

    a = pd.DataFrame({"x": [1.0], "y": [2.0], "z": [3.0]})
    b = a[["z", "x", "y"]]
    assert column_positions(a, ["y", "z"]).tolist() == [1, 2]
    assert column_positions(b, ["y", "z"]).tolist() == [2, 0]
    assert column_positions(a, ["y", "z"]).tolist() == [1, 2]
    with pytest.raises(InputError, match=r"missing column\(s\) \['y'\]"):
        column_positions(a[["x", "z"]], ["y", "z"])
