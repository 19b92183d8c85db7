"""The online store in one SQLite file under the workspace (the default).

Per view and definition (``ViewLayout.tag``) two ``WITHOUT ROWID`` tables clustered on
``(key, ev, cr, ver, pos)``: a lookup is one B-tree seek per entity. Every write, full rebuilds
included, is one transaction: a process killed mid-write leaves the previous values readable,
and readers (WAL) never wait for a writer.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from goldenpath.core import faults
from goldenpath.core.errors import BackendUnavailable
from goldenpath.core.sql import quote_identifier
from goldenpath.features.online.base import StoredEvent, StoredRow, ViewLayout, redefined

_META = "gp_online_views"
_CHUNK = 50_000


def _table(layout_tag: str, view: str, kind: str) -> str:
    return quote_identifier(f"{view}__{layout_tag}__{kind}")


class SqliteOnlineStore:
    """The SQLite backend (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._statements: dict[tuple[str, str, str, int], str] = {}
        with self._conn() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {_META} (view TEXT PRIMARY KEY, layout TEXT NOT NULL)"
            )

    @property
    def identity(self) -> str:
        return "sqlite"

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, isolation_level=None, cached_statements=512)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA busy_timeout=10000")
            except sqlite3.Error as exc:
                raise BackendUnavailable(
                    f"online store {self.path} cannot be opened: {exc}",
                    hint="check the workspace directory's permissions and free space",
                ) from None
            self._local.conn = conn
        return conn

    # -- layouts --------------------------------------------------------------------------------

    def layout(self, view: str) -> ViewLayout | None:
        row = self._conn().execute(f"SELECT layout FROM {_META} WHERE view = ?", (view,)).fetchone()
        return None if row is None else ViewLayout.from_json(row[0])

    # -- writing --------------------------------------------------------------------------------

    def write(
        self,
        layout: ViewLayout,
        rows: pa.Table,
        events: pa.Table | None,
        *,
        now_us: int,
        replace: bool = False,
    ) -> None:
        conn = self._conn()
        rows_table = _table(layout.tag, layout.view, "rows")
        events_table = _table(layout.tag, layout.view, "events")
        conn.execute("BEGIN IMMEDIATE")
        try:
            previous = self.layout(layout.view)
            if previous is not None and previous.definition_hash != layout.definition_hash:
                self._drop_tables(conn, previous)
                replace = True
            self._create(conn, layout, rows_table, events_table)
            if replace:
                conn.execute(f"DELETE FROM {rows_table}")
                conn.execute(f"DELETE FROM {events_table}")
            self._insert(conn, rows_table, rows)
            if events is not None and layout.retention_us > 0:
                self._insert(conn, events_table, events)
            if not replace:
                self._prune(conn, layout, rows_table, events_table, rows, events, now_us)
            conn.execute(
                f"INSERT INTO {_META} (view, layout) VALUES (?, ?) "
                "ON CONFLICT (view) DO UPDATE SET layout = excluded.layout",
                (layout.view, layout.to_json()),
            )
            faults.reach("online.sqlite.before-commit")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _create(
        conn: sqlite3.Connection, layout: ViewLayout, rows_table: str, events_table: str
    ) -> None:
        order = "key TEXT NOT NULL, ev INTEGER NOT NULL, cr INTEGER NOT NULL, " + (
            "ver INTEGER NOT NULL, pos INTEGER NOT NULL"
        )
        primary = "PRIMARY KEY (key, ev, cr, ver, pos)"
        fields = "".join(f", {quote_identifier('f_' + name)}" for name in layout.fields)
        columns = "".join(f", {quote_identifier('e_' + name)}" for name in layout.event_columns)
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {rows_table} ({order}{fields}, {primary}) WITHOUT ROWID"
        )
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {events_table} ({order}{columns}, {primary}) WITHOUT ROWID"
        )

    @staticmethod
    def _insert(conn: sqlite3.Connection, table: str, data: pa.Table) -> None:
        if data.num_rows == 0:
            return
        marks = ", ".join("?" * data.num_columns)
        sql = f"INSERT OR REPLACE INTO {table} VALUES ({marks})"
        for start in range(0, data.num_rows, _CHUNK):
            chunk = data.slice(start, _CHUNK)
            columns = [_native(chunk.column(i)) for i in range(chunk.num_columns)]
            conn.executemany(sql, zip(*columns, strict=True))

    @staticmethod
    def _prune(
        conn: sqlite3.Connection,
        layout: ViewLayout,
        rows_table: str,
        events_table: str,
        rows: pa.Table,
        events: pa.Table | None,
        now_us: int,
    ) -> None:
        keys = set(rows.column("__key").to_pylist())
        if events is not None:
            keys.update(events.column("__key").to_pylist())
        if not keys:
            return
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS gp_touched (key TEXT PRIMARY KEY)")
        conn.execute("DELETE FROM temp.gp_touched")
        conn.executemany("INSERT INTO temp.gp_touched VALUES (?)", ((k,) for k in keys))
        newest = "(SELECT MAX(y.ev) FROM {t} AS y WHERE y.key = {t}.key AND y.ev <= :now)"
        conn.execute(
            f"DELETE FROM {rows_table} WHERE key IN (SELECT key FROM temp.gp_touched) "
            f"AND ev < {newest.format(t=rows_table)}",
            {"now": now_us},
        )
        if layout.retention_us > 0:
            conn.execute(
                f"DELETE FROM {events_table} WHERE key IN (SELECT key FROM temp.gp_touched) "
                f"AND ev <= {newest.format(t=events_table)} - :window",
                {"now": now_us, "window": layout.retention_us},
            )

    def drop(self, view: str) -> None:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            layout = self.layout(view)
            if layout is not None:
                self._drop_tables(conn, layout)
                conn.execute(f"DELETE FROM {_META} WHERE view = ?", (view,))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    @staticmethod
    def _drop_tables(conn: sqlite3.Connection, layout: ViewLayout) -> None:
        for kind in ("rows", "events"):
            conn.execute(f"DROP TABLE IF EXISTS {_table(layout.tag, layout.view, kind)}")

    # -- reading --------------------------------------------------------------------------------

    def read_rows(
        self, layout: ViewLayout, keys: Sequence[str], at_us: int
    ) -> list[StoredRow | None]:
        try:
            return self._read_rows(layout, keys, at_us)
        except sqlite3.OperationalError:
            # Tables are named by definition and dropped with the layout that named them.
            raise redefined(layout.view) from None

    def read_events(
        self, layout: ViewLayout, keys: Sequence[str], start_us: int, end_us: int
    ) -> list[list[StoredEvent]]:
        try:
            return self._read_events(layout, keys, start_us, end_us)
        except sqlite3.OperationalError:
            raise redefined(layout.view) from None

    def oldest_rows(self, layout: ViewLayout, keys: Sequence[str]) -> list[int | None]:
        if not keys:
            return []
        try:
            found = dict(
                self._conn().execute(
                    self._sql(layout, "oldest", len(keys)), tuple(_in_params(keys))
                )
            )
        except sqlite3.OperationalError:
            raise redefined(layout.view) from None
        return [found.get(key) for key in keys]

    def entity_keys(self, layout: ViewLayout, limit: int) -> list[str]:
        rows = _table(layout.tag, layout.view, "rows")
        try:
            # The table is clustered on key first: DISTINCT walks the B-tree, no sort.
            found = self._conn().execute(f"SELECT DISTINCT key FROM {rows} LIMIT ?", (limit,))
            return [str(r[0]) for r in found]
        except sqlite3.OperationalError:
            raise redefined(layout.view) from None

    def _read_rows(
        self, layout: ViewLayout, keys: Sequence[str], at_us: int
    ) -> list[StoredRow | None]:
        if not keys:
            return []
        conn = self._conn()
        if len(keys) == 1:
            one = conn.execute(self._sql(layout, "one", 1), (keys[0], at_us)).fetchone()
            return [None if one is None else (int(one[0]), tuple(one[2:]), int(one[1]))]
        # One statement for many keys: every retained row <= at (normally one per key); the
        # winner, the greatest (ev, cr, ver, pos), is chosen here rather than by a sort.
        best: dict[str, tuple[Any, ...]] = {}
        for row in conn.execute(self._sql(layout, "many", len(keys)), (*_in_params(keys), at_us)):
            seen = best.get(row[0])
            if seen is None or row[1:5] > seen[1:5]:
                best[row[0]] = row
        found: list[StoredRow | None] = []
        for key in keys:
            row = best.get(key)
            found.append(None if row is None else (int(row[1]), tuple(row[5:]), int(row[3])))
        return found

    def _sql(self, layout: ViewLayout, kind: str, count: int) -> str:
        """A lookup statement, built once per layout, kind and key count (the text is also
        sqlite3's statement cache key)."""
        marks = min(count, _MARKS_MAX + 1)
        cache_key = (layout.view, layout.tag, kind, marks)
        sql = self._statements.get(cache_key)
        if sql is not None:
            return sql
        rows = _table(layout.tag, layout.view, "rows")
        events = _table(layout.tag, layout.view, "events")
        fields = "".join(", " + quote_identifier("f_" + name) for name in layout.fields)
        columns = "".join(", " + quote_identifier("e_" + name) for name in layout.event_columns)
        if kind == "one":
            sql = (
                f"SELECT ev, ver{fields} FROM {rows} WHERE key = ? AND ev <= ? "
                "ORDER BY ev DESC, cr DESC, ver DESC, pos DESC LIMIT 1"
            )
        elif kind == "many":
            sql = (
                f"SELECT key, ev, cr, ver, pos{fields} FROM {rows} "
                f"WHERE key IN {_in(count)} AND ev <= ?"
            )
        elif kind == "oldest":
            sql = f"SELECT key, min(ev) FROM {rows} WHERE key IN {_in(count)} GROUP BY key"
        elif kind == "events-one":
            sql = f"SELECT ev, ver{columns} FROM {events} WHERE key = ? AND ev > ? AND ev <= ?"
        else:
            sql = (
                f"SELECT key, ev, ver{columns} FROM {events} "
                f"WHERE key IN {_in(count)} AND ev > ? AND ev <= ?"
            )
        self._statements[cache_key] = sql
        return sql

    def _read_events(
        self, layout: ViewLayout, keys: Sequence[str], start_us: int, end_us: int
    ) -> list[list[StoredEvent]]:
        if layout.retention_us == 0 or not keys:
            return [[] for _ in keys]
        conn = self._conn()
        if len(keys) == 1:
            rows = conn.execute(
                self._sql(layout, "events-one", 1), (keys[0], start_us, end_us)
            ).fetchall()
            return [[(row[0], row[2:], row[1]) for row in rows]]
        found: dict[str, list[StoredEvent]] = {key: [] for key in keys}
        for row in conn.execute(
            self._sql(layout, "events-many", len(keys)), (*_in_params(keys), start_us, end_us)
        ):
            found[row[0]].append((row[1], row[3:], row[2]))
        return [found[key] for key in keys]

    def async_reads(self) -> None:
        """None: a local read is cheaper on the event loop than handed off (see base.py)."""
        return None

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


_MARKS_MAX = 256


def _in(count: int) -> str:
    """``(?, ?, ...)`` for up to 256 keys (one cached statement per count); beyond that one
    JSON array parameter, so a 10,000-key lookup does not make a 10,000-parameter statement."""
    if count <= _MARKS_MAX:
        return "(" + ", ".join("?" * count) + ")"
    return "(SELECT value FROM json_each(?))"


def _in_params(keys: Sequence[str]) -> Sequence[str]:
    return keys if len(keys) <= _MARKS_MAX else [json.dumps(list(keys))]


def _native(column: pa.ChunkedArray) -> list[Any]:
    """A column as values SQLite stores natively (times as epoch microseconds)."""
    if pa.types.is_timestamp(column.type):
        column = column.cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    return list(column.to_pylist())
