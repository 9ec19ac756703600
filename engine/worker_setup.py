"""What a dask worker imports when it starts (``dask worker --preload engine.worker_setup``).

Why: a worker's first task used to begin with seconds of imports (pandas, LightGBM, the feature
pipeline, the numba kernels' cached code, MLflow's registry client) that every worker paid once,
one after the other with the driver's own start. Imported at worker start, they run while the
driver resolves the model version and cuts the book, so the first piece starts on a warm worker.
The LocalCluster of ``engine.cluster`` preloads this module; an operator's workers may do the same.
"""

from __future__ import annotations

import mlflow  # noqa: F401  (imported lazily by registry.store: seconds, paid here)
import mlflow.store.tracking.sqlalchemy_store  # noqa: F401  (the SQLite registry's store)

import engine.score  # noqa: F401  (the scoring task, the features, the bundle and its kernels)
import registry.store  # noqa: F401  (the registry a worker loads the bundle from)
