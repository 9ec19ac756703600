"""Read the decision log back for monitoring, without importing the service.

The service (``serving.decision_log``) writes the log; training may not import serving, so this
module reads the same table by its column names, which both take from the one decision record
(``models.record``'s log view). It reads either the live log (any SQLAlchemy URL, read-only
``SELECT``) or its Parquet export (``rollcure decisions export``), so a validator can monitor from
an exported file without access to the production database.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from models.record import columns
from rollcure.core.errors import InputError

#: The log's table name (``serving.decision_log.decisions_table``).
LOG_TABLE = "decisions"
#: What monitoring needs of each logged decision.
NEEDED: tuple[str, ...] = (
    "case_hash", "as_of", "decided_at", "model_version", "p_roll_forward", "p_cure", "action",
    "expected_value", "arm", "propensity",
)  # fmt: skip


def read_decision_log(source: str | Path) -> pd.DataFrame:
    """The logged decisions (the columns monitoring needs), ``as_of`` as a timestamp.

    ``source`` is a Parquet export (a path ending in ``.parquet``) or a database URL.
    """
    text = str(source)
    if text.endswith(".parquet"):
        if not Path(text).is_file():
            raise InputError(f"--decisions: file not found: {text}")
        frame = pd.read_parquet(text)
    else:
        frame = _read_sql(text)
    missing = [c for c in NEEDED if c not in frame.columns]
    if missing:
        raise InputError(f"--decisions: the decision log lacks column(s) {missing}")
    frame = frame[list(NEEDED)].copy()
    frame["as_of"] = pd.to_datetime(frame["as_of"]).astype("datetime64[ns]")
    return frame


def _read_sql(url: str) -> pd.DataFrame:
    import importlib.util

    import sqlalchemy as sa

    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise InputError(f"--decisions: not a database URL or a .parquet file ({exc})") from exc
    if parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg") is not None:
        parsed = parsed.set(drivername="postgresql+psycopg")  # the lock's psycopg 3, as the service
    engine = sa.create_engine(parsed)
    try:
        if not sa.inspect(engine).has_table(LOG_TABLE):
            raise InputError(f"--decisions: no '{LOG_TABLE}' table in the log database")
        names = ", ".join(f'"{c}"' for c in columns("log") if c in NEEDED)
        with engine.connect() as conn:
            return pd.read_sql(sa.text(f"SELECT {names} FROM {LOG_TABLE} ORDER BY seq"), conn)
    finally:
        engine.dispose()
