"""What an attacker with direct database and file access does to the audit trail.

``attack`` runs SQL with the append-only guard lifted and, like a careful attacker, puts the
guard back afterwards (``restore_guard``), so a test sees only what its attack leaves behind.
"""

from __future__ import annotations

from sqlalchemy import text

import goldenpath

TABLES = ("audit_events", "audit_checkpoints")


def lift_guard(ws: goldenpath.Workspace) -> None:
    """Drop (SQLite) or disable (PostgreSQL) the append-only triggers."""
    with ws.store.begin() as conn:
        for table in TABLES:
            if ws.store.dialect == "postgresql":
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            else:
                for verb in ("update", "delete"):
                    conn.execute(text(f"DROP TRIGGER IF EXISTS {table}_no_{verb}"))


def restore_guard(ws: goldenpath.Workspace) -> None:
    """Put the triggers back exactly as migration 0002 made them."""
    with ws.store.begin() as conn:
        for table in TABLES:
            if ws.store.dialect == "postgresql":
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
            else:
                for verb in ("UPDATE", "DELETE"):
                    conn.execute(
                        text(
                            f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                            "BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
                        )
                    )


def attack(ws: goldenpath.Workspace, *statements: str) -> None:
    """Run SQL as someone with direct database access, then hide the lifted guard."""
    lift_guard(ws)
    with ws.store.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    restore_guard(ws)
