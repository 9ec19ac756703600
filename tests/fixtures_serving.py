"""Fixtures of the serving stage (loaded by tests/conftest.py, visible to every test file)."""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    # starlette's TestClient warns on import that it prefers httpx2; the client works as documented.
    warnings.simplefilter("ignore", DeprecationWarning)
    from starlette.testclient import TestClient  # noqa: F401 - re-exported for the serving tests
