"""The one engine for parallel work (issue 15): `rollcure score` and `rollcure train` on ``local``
(this process) or a ``dask.distributed`` cluster.

- ``engine.cluster``: the client (a scheduler address or a LocalCluster) and ``run_tasks``.
- ``engine.book``: books and their pieces at an as-of date (runs of loans, hash partitions).
- ``engine.history``: whole loan histories per piece, for training.
- ``engine.partition``: `rollcure partition`, Parquet datasets partitioned by a hash of loan_id.
- ``engine.bundle_source``: where a worker loads the bundle from (registry or folder, digests).
- ``engine.score``: per-piece decisions on the workers, one capacity plan on the driver.

The package sits above ``registry`` (a worker loads the bundle from it) and below ``training`` and
``serving``, which both use it (docs/architecture.md). Nothing is re-exported here, so importing
one module does not pull in dask or the models.
"""
