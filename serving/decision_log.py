"""The durable audit log of served decisions.

Every decision the service returns is appended here *before* the response leaves, in one
transaction per pass (the requests the service merged decide and commit together: a group
commit, one fsync for all of them), so a decision a client has seen is a decision an auditor can find, even if
the process is killed the next instant. The default store is SQLite in WAL mode with
``synchronous=FULL`` (each commit is fsynced); any SQLAlchemy URL (e.g. ``postgresql://``) works too.

Case ids are stored only as a salted HMAC, so the log holds no id in clear; the inputs are kept as a
digest, enough to prove which payload a decision was made on without storing the payload.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from models.record import LogRecord, columns, log_record_class, sql_columns
from rollcure.core.case_hash import hash_case_id as hash_case_id  # re-exported: the hash lives in the base
from rollcure.core.errors import InputError

logger = logging.getLogger(__name__)

#: Salt used when the salt variable is unset: fine for a demo, never for production (a warning says so).
DEV_SALT = "rollcure-development-salt"
EXPORT_CHUNK_ROWS = 100_000

_metadata = sa.MetaData()
#: The record's log view (``models.record``) behind an internal sequence number, which orders the
#: export; the decision id is unique and the case hash indexed (an auditor looks cases up by it).
decisions_table = sa.Table(
    "decisions",
    _metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    *sql_columns(),
    sa.UniqueConstraint("decision_id"),
    sa.Index("ix_decisions_case_hash", "case_hash"),
)
#: Capacity booked per action and day (``serving.ledger``), in the same database as the decisions
#: so a pass books its actions in the transaction that logs its decisions.
capacity_table = sa.Table(
    "capacity_ledger",
    _metadata,
    sa.Column("day", sa.String(10), primary_key=True),
    sa.Column("action", sa.String(64), primary_key=True),
    sa.Column("booked", sa.Integer, nullable=False),
)
#: Column order of the Parquet export (the table's, less the internal sequence number).
EXPORT_COLUMNS: tuple[str, ...] = columns("log")
if TYPE_CHECKING:
    # built at run time (below) from the record's log view; a type checker sees its base
    class DecisionRecord(LogRecord): ...

else:
    #: One row of the log; ``as_row()`` gives the values to insert.
    DecisionRecord = log_record_class(__name__)


class LogUnavailable(RuntimeError):
    """The log could not take a pass's decisions; none of them may be returned (HTTP 503)."""


def inputs_digest(payload: dict[str, Any]) -> str:
    """SHA-256 of the canonical JSON of one case's inputs (key order and spacing do not matter)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def resolve_salt(env: dict[str, str], salt_env: str) -> str:
    """The salt from the environment; the development salt (with a warning) only in insecure dev
    mode, since hashes keyed by a salt in the source reverse to the ids by counting."""
    from serving.auth import insecure_dev

    salt = env.get(salt_env, "")
    if not salt:
        if not insecure_dev(env):
            raise InputError(f"{salt_env} is not set: the decision log needs a secret salt")
        logger.warning("%s is not set: the decision log hashes case ids with the development salt", salt_env)
        return DEV_SALT
    return salt


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{Path(data_dir).resolve() / 'decisions.sqlite'}"


def _private_file(path: Path) -> None:
    """Create the log file 0600 (and any folder it needs 0700) before SQLite opens it; SQLite gives
    its -wal and -shm files the same mode. An existing file is made 0600 too: it holds hashes an
    outsider could try to reverse, and scores of real people."""
    missing = [p for p in (path.parent, *path.parent.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)
        folder.chmod(0o700)  # mkdir's mode is filtered by the umask
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    path.chmod(0o600)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


class DecisionLog:
    """Append-only store of decisions behind a SQLAlchemy engine.

    >>> log = DecisionLog.open("sqlite://")  # in memory, for the example
    >>> log.count()
    0
    """

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str) -> DecisionLog:
        """Connect (creating the SQLite file and folder if needed) and make sure the table exists."""
        try:
            parsed = sa.engine.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise InputError(f"serving.decision_log_url: not a database URL ({exc})") from exc
        kwargs: dict[str, Any] = {"future": True}
        if parsed.drivername == "postgresql" and importlib.util.find_spec("psycopg") is not None:
            parsed = parsed.set(drivername="postgresql+psycopg")  # psycopg 3 (the lock's), not psycopg2
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _private_file(Path(parsed.database))
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        engine = sa.create_engine(parsed, **kwargs)
        if parsed.get_backend_name() == "sqlite":
            sa.event.listen(engine, "connect", _sqlite_pragmas)
        _metadata.create_all(engine, checkfirst=True)
        found = {c["name"] for c in sa.inspect(engine).get_columns(decisions_table.name)}
        missing = [c.name for c in decisions_table.columns if c.name not in found]
        if missing:
            engine.dispose()
            raise InputError(
                f"serving.decision_log_url: the existing log has an older layout (missing {missing}); "
                "export it and start a new file"
            )
        return cls(engine)

    def append(self, records: Sequence[DecisionRecord], conn: sa.Connection | None = None) -> None:
        """Write the records in one transaction (``conn``'s, when given: the caller commits);
        returns only once the commit is durable."""
        if not records:
            return
        if conn is not None:
            conn.execute(decisions_table.insert(), [r.as_row() for r in records])
            return
        with self.engine.begin() as own:
            own.execute(decisions_table.insert(), [r.as_row() for r in records])

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(decisions_table)).scalar_one())

    def iter_chunks(self, chunk_rows: int = EXPORT_CHUNK_ROWS) -> Iterable[list[dict[str, Any]]]:
        """Rows in insertion order, a bounded chunk at a time (keyset pagination on the sequence)."""
        cols = [decisions_table.c[name] for name in EXPORT_COLUMNS]
        last = 0
        while True:
            query = (
                sa.select(decisions_table.c.seq, *cols)
                .where(decisions_table.c.seq > last)
                .order_by(decisions_table.c.seq)
                .limit(chunk_rows)
            )
            with self.engine.connect() as conn:
                rows = [dict(r._mapping) for r in conn.execute(query)]
            if not rows:
                return
            last = rows[-1]["seq"]
            for row in rows:
                del row["seq"]
            yield rows

    def close(self) -> None:
        self.engine.dispose()


def open_configured_log(cfg: Any, must_exist: bool = False) -> DecisionLog:
    """Open the log a ``RollcureConfig`` points at; ``must_exist`` refuses to create a new SQLite file."""
    url = cfg.serving.decision_log_url or default_url(cfg.data_dir)
    parsed = sa.engine.make_url(url) if "://" in url else None
    if must_exist and parsed is not None and parsed.get_backend_name() == "sqlite":
        if not parsed.database or not Path(parsed.database).is_file():
            raise InputError(f"--data: no decision log at {parsed.database} (nothing served yet?)")
    return DecisionLog.open(url)
