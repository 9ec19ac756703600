"""What a dask worker imports when it starts (``dask worker --preload engine.worker_setup``).

Why: a worker's first task used to begin with seconds of imports (pandas, LightGBM, the feature
pipeline and the bundle's modules, MLflow and its registry store) that every worker paid once,
after the driver's own start. Imported as the worker starts, they run while the driver asks the
registry for the model version (``serving.batch.score_portfolio``), so the first piece starts on a
worker that has only the bundle to load (the numba kernels still load their cached code on their
first call).
An operator's workers preload it (``--preload engine.worker_setup``); a LocalCluster's workers
preload only ``engine.score``: the driver hands them the bundle as a folder on this machine.
"""

from __future__ import annotations

import mlflow  # noqa: F401  (imported lazily by registry.store: seconds, paid here)
import mlflow.store.tracking.sqlalchemy_store  # noqa: F401  (the SQLite registry's store)

import engine.score  # noqa: F401  (the scoring task, the features, the bundle and its kernels)
import registry.store  # noqa: F401  (the registry a worker loads the bundle from)
