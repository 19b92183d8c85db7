"""SQL text from untrusted names, and the one DuckDB connection the platform opens.

Column names come from files, contracts and requests: anyone who can upload a CSV chooses
them. Two rules keep them from becoming SQL:

- an identifier or literal that comes from data, a contract or a user reaches SQL only
  through :func:`quote_identifier` / :func:`quote_literal` here, or as a ``?`` parameter;
- every DuckDB connection comes from :func:`sandboxed_duckdb`, which cannot reach the file
  system, the network, extensions or the caller's Python variables, and whose settings are
  locked, so even a quoting bug elsewhere can read only the Arrow tables registered on it.

User-written SQL (the feature store's expressions, later) runs on such a connection too.
DuckDB is imported lazily: ``gp status`` and the server's start must not pay for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


def quote_identifier(name: str) -> str:
    """``name`` as a SQL identifier (DuckDB, SQLite, PostgreSQL): any text is safe inside.

    Double quotes are doubled, which is the only escape inside a quoted identifier. A NUL
    cannot be quoted (DuckDB ends the identifier there), so it is refused: column names
    with one are rejected at read time (``data/columns.py``) long before this point.
    """
    if "\x00" in name:
        raise ValueError("a SQL identifier cannot contain a NUL character")
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """``text`` as a SQL string literal. Prefer a ``?`` parameter where the API takes one.

    Single quotes are doubled; DuckDB's standard strings treat backslashes literally, so
    nothing else escapes. NUL is refused for the same reason as in identifiers.
    """
    if "\x00" in text:
        raise ValueError("a SQL string literal cannot contain a NUL character")
    return "'" + text.replace("'", "''") + "'"


# Settings of every connection, applied before the configuration is locked. Each closes a
# way out of the registered tables: files (read_text, read_csv, COPY TO, ATTACH), extensions
# (INSTALL/LOAD, which could bring httpfs back), and Python replacement scans, which let
# ``SELECT * FROM name`` read any Python variable of that name in the caller's frames.
_SANDBOX: dict[str, Any] = {
    "enable_external_access": False,
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "allow_unsigned_extensions": False,
    "python_enable_replacements": False,
}


@cache
def _settings_known() -> frozenset[str]:
    """The settings this DuckDB release has (older ones lack e.g. allow_community_extensions)."""
    import duckdb

    with duckdb.connect(":memory:", config={"enable_external_access": False}) as con:
        return frozenset(row[0] for row in con.sql("SELECT name FROM duckdb_settings()").fetchall())


def sandboxed_duckdb(tables: Mapping[str, Any] | None = None) -> duckdb.DuckDBPyConnection:
    """A new in-memory DuckDB connection that can read only ``tables`` (Arrow objects).

    ``tables`` maps a view name to a ``pa.Table``, ``pa.RecordBatchReader`` or
    ``pyarrow.dataset.Dataset``. Names are ours (``batch``, ``existing``), not the user's.
    More may be registered later with ``con.register``. Registering needs no external access
    (checked on DuckDB 2.0): DuckDB scans the Arrow object in this process, and for a
    ``pyarrow.dataset.Dataset`` it is pyarrow, not DuckDB, that opens the files, so a Delta
    version registered this way stays readable while every DuckDB file function is refused.
    ``SET``, ``RESET``, ``ATTACH``, ``INSTALL``, ``LOAD``, ``COPY`` and every file-reading
    function fail on the returned connection.
    """
    import duckdb

    config = {key: value for key, value in _SANDBOX.items() if key in _settings_known()}
    con = duckdb.connect(":memory:", config=config)
    try:
        # Timestamp bounds like "2024-01-01" mean UTC on every machine. (A SET, not a connect
        # option: the ICU extension that owns TimeZone registers it after connect.)
        con.execute("SET TimeZone = 'UTC'")
        for name, table in (tables or {}).items():
            con.register(name, table)
        # Last: from here on no statement can change a setting, so a query cannot undo any
        # of the above (SET enable_external_access = true is refused, not just ignored).
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con
