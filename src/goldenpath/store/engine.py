"""Opening the metadata database and bringing its schema up to date.

SQLite gets WAL and enforced foreign keys; PostgreSQL URLs use psycopg 3. Migrations run
automatically on open; when the database is already at the newest revision (the common case)
the check is one indexed read, not an Alembic start-up (~60 ms saved on every command).
:meth:`MetadataStore.change_token` tells a cache, in microseconds, whether anything may have
been committed since it last looked (SQLite's ``PRAGMA data_version``).
"""

from __future__ import annotations

import itertools
import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError, ProgrammingError

from goldenpath.core.errors import BackendUnavailable, InvalidInput

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest Alembic revision; tests/store/test_migrations.py checks it matches the scripts.
HEAD_REVISION = "0013"


def normalise_url(url: str) -> str:
    """Map user-facing URLs to SQLAlchemy driver URLs (``postgresql://`` -> psycopg 3)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event (below) issue BEGIN itself, so writes can be IMMEDIATE.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable under WAL across process crashes
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes SQLite's write lock up front: two writers that both read the
    # audit chain's head and then write would otherwise deadlock or fork the chain.
    immediate = conn.get_execution_options().get("gp_write", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def _unavailable() -> Iterator[None]:
    """Turn a driver's "cannot reach the database" into our one-line error."""
    try:
        yield
    except OperationalError as exc:
        raise BackendUnavailable(
            f"metadata database unavailable: {str(exc.orig).splitlines()[0]}",
            hint="check the metadata URL with: gp status",
        ) from None


# JSON columns are written with plain json.dumps on every backend (pinned, not left to the
# dialect's default): the audit chain hashes that exact text (core/audit_chain.py).


# Tells apart the probe connections of a process: PRAGMA data_version values are comparable only
# between two readings on the same connection.
_PROBES = itertools.count(1)


class MetadataStore:
    """An engine on the metadata database with its dialect's settings applied."""

    def __init__(self, url: str) -> None:
        self.url = normalise_url(url)
        self._probe: tuple[int, sqlite3.Connection] | None = None
        self._probe_lock = threading.Lock()
        self.dialect = self.url.split(":", 1)[0].split("+", 1)[0]
        if self.dialect not in ("sqlite", "postgresql"):
            raise InvalidInput(
                f"unsupported metadata URL {url!r}",
                hint="use sqlite:///path/gp.db or postgresql://host/db",
            )
        if self.dialect == "sqlite":
            path = self.url.removeprefix("sqlite:///")
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(self.url, json_serializer=json.dumps)
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        else:
            try:
                # A server that accepts but never answers must not hang a caller (or the control
                # plane's event loop) for the OS's TCP timeout of minutes.
                timeout = {} if "connect_timeout" in self.url else {"connect_timeout": 5}
                self.engine = create_engine(
                    self.url,
                    pool_pre_ping=True,
                    json_serializer=json.dumps,
                    connect_args=timeout,
                )
            except ModuleNotFoundError:
                raise InvalidInput(
                    "PostgreSQL metadata needs the psycopg driver",
                    hint="install it with: pip install 'goldenpath[postgres]'",
                ) from None

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        """A connection inside one transaction, committed on success, rolled back on error."""
        with _unavailable(), self.engine.connect() as conn:
            conn.execution_options(gp_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads."""
        with _unavailable(), self.engine.connect() as conn:
            yield conn

    def change_token(self) -> tuple[int, int] | None:
        """A value that differs from an earlier one if anything was committed to the metadata
        database in between, by any connection of any process; ``None`` when the backend cannot
        tell that cheaply (PostgreSQL, an in-memory SQLite): the caller must then look.

        SQLite's ``PRAGMA data_version`` on a connection of its own, opened on first use and
        used for nothing else (a connection's own commits do not move it; this one never
        commits). About a microsecond; lets a cache of registry reads skip its check query.
        """
        if self.dialect != "sqlite":
            return None
        path = self.engine.url.database
        if not path or path == ":memory:" or self.engine.url.query:
            return None
        with self._probe_lock:
            try:
                if self._probe is None:
                    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                    self._probe = (next(_PROBES), conn)
                number, conn = self._probe
                # fetchall: stepped to the end, no statement left holding a read snapshot
                [(version,)] = conn.execute("PRAGMA data_version").fetchall()
            except sqlite3.Error:
                return None  # cannot tell: the caller looks (and reports any real error)
        return number, int(version)

    def current_revision(self) -> str | None:
        """The applied Alembic revision, or ``None`` on an empty database."""
        with self.connect() as conn:
            try:
                row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
            except (OperationalError, ProgrammingError):
                conn.rollback()
                return None
        return None if row is None else str(row[0])

    def migrate(self) -> None:
        """Apply every pending Alembic migration."""
        from alembic import command
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with self.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def dispose(self) -> None:
        """Close every pooled connection (and the change probe's)."""
        with self._probe_lock:
            if self._probe is not None:
                self._probe[1].close()
                self._probe = None
        self.engine.dispose()


def open_store(url: str) -> MetadataStore:
    """Open the metadata database at ``url``, migrating it to the newest schema if needed."""
    store = MetadataStore(url)
    if store.current_revision() != HEAD_REVISION:
        store.migrate()
    return store
