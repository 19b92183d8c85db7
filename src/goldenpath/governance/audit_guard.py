"""Whether the database still refuses updates and deletes of audit rows.

Migration 0002 installs triggers that make ``audit_events`` and ``audit_checkpoints``
append-only. Someone with DDL rights can drop or disable them, rewrite rows, and leave the
triggers off; the hash chain would catch the rewrite, but not that the guard is gone. So
verification inspects the catalogue (``sqlite_master`` / ``pg_trigger``) for each trigger, as
migration 0002 wrote it: present, enabled, unconditional, and calling the refusing function.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

TABLES = ("audit_events", "audit_checkpoints")

# The trigger text SQLite keeps verbatim in sqlite_master, whitespace- and case-folded.
_SQLITE_GUARD = (
    "create trigger {table}_no_{verb} before {verb} on {table} "
    "begin select raise(abort, 'audit events are append-only'); end"
)
# pg_trigger.tgtype bits: ROW 1, BEFORE 2, DELETE 8, UPDATE 16, TRUNCATE 32.
_PG_GUARDS = {"{table}_append_only": 1 | 2 | 8 | 16, "{table}_no_truncate": 2 | 32}
_PG_FUNCTION = "gp_audit_append_only"
_PG_BODY = "begin raise exception 'audit events are append-only: % is not allowed', tg_op; end;"
_PG_QUERY = text(
    "SELECT t.tgname, t.tgenabled, t.tgtype, t.tgqual IS NULL AS unconditional, "
    "p.proname, p.prosrc FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid "
    "WHERE t.tgrelid = to_regclass(:table) AND NOT t.tgisinternal"
)


def _fold(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip().lower()


def missing_guards(conn: Connection) -> list[str]:
    """One message per append-only trigger that is missing, disabled or altered."""
    if conn.dialect.name == "postgresql":
        return _postgres(conn)
    return _sqlite(conn)


def _sqlite(conn: Connection) -> list[str]:
    found = {
        name: _fold(sql or "")
        for name, sql in conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
        )
    }
    problems = []
    for table in TABLES:
        for verb in ("update", "delete"):
            name = f"{table}_no_{verb}"
            if name not in found:
                problems.append(
                    f"the append-only trigger {name} is missing: {table} rows can be "
                    f"{verb}d without an error"
                )
            elif found[name] != _SQLITE_GUARD.format(table=table, verb=verb):
                problems.append(f"the append-only trigger {name} was altered: {found[name][:120]}")
    return problems


def _postgres(conn: Connection) -> list[str]:
    problems = []
    for table in TABLES:
        rows = {row.tgname: row for row in conn.execute(_PG_QUERY, {"table": table})}
        for pattern, bits in _PG_GUARDS.items():
            name = pattern.format(table=table)
            row = rows.get(name)
            if row is None:
                problems.append(f"the append-only trigger {name} on {table} is missing")
            elif row.tgenabled not in ("O", "A"):
                problems.append(f"the append-only trigger {name} on {table} is disabled")
            elif (
                row.tgtype & bits != bits
                or not row.unconditional
                or row.proname != _PG_FUNCTION
                or _fold(row.prosrc) != _PG_BODY
            ):
                problems.append(
                    f"the append-only trigger {name} on {table} (or its function "
                    f"{row.proname}) was altered: it no longer refuses every change"
                )
    return problems
