"""Shared fixtures, one plugin module per stage so each stage owns its own fixtures."""

pytest_plugins = [
    "fixtures_simulation",
    "fixtures_features",
    "fixtures_models",
    "fixtures_policy",
    "fixtures_serving",
    "fixtures_monitoring",
    "fixtures_dask",
]
