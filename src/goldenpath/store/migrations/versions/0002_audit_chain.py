"""Tamper-evident audit: hash chain, signed checkpoints, append-only enforcement.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"

_BIGINT = sa.Integer().with_variant(sa.BigInteger(), "postgresql")

_PG_GUARD = """
CREATE OR REPLACE FUNCTION gp_audit_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit events are append-only: % is not allowed', TG_OP;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    from goldenpath.core.audit_chain import GENESIS, event_hash

    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))

    # Chain the events written before this migration, oldest first.
    bind = op.get_bind()
    events = sa.table(
        "audit_events",
        sa.column("seq"),
        sa.column("id"),
        sa.column("at"),
        sa.column("actor"),
        sa.column("action"),
        sa.column("object_type"),
        sa.column("object_ref"),
        sa.column("details", sa.JSON),
        sa.column("prev_hash"),
        sa.column("hash"),
    )
    previous = GENESIS
    for row in bind.execute(sa.select(events).order_by(events.c.seq)).mappings().all():
        digest = event_hash(previous, dict(row))
        bind.execute(
            events.update()
            .where(events.c.seq == row["seq"])
            .values(prev_hash=previous, hash=digest)
        )
        previous = digest

    with op.batch_alter_table("audit_events") as batch:
        batch.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        batch.alter_column("hash", existing_type=sa.String(64), nullable=False)

    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("seq", _BIGINT, nullable=False),
        sa.Column("count", _BIGINT, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
    )

    if bind.dialect.name == "postgresql":
        op.execute(_PG_GUARD)
        for table in ("audit_events", "audit_checkpoints"):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION gp_audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION gp_audit_append_only()"
            )
    else:
        for table in ("audit_events", "audit_checkpoints"):
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END"
                )
