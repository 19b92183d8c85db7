"""Runs record the process that owns them and, while it trains, a heartbeat (issue 23, §1).

A reader that finds a ``running`` run whose process is gone (same machine: its pid, start time
and boot id no longer match) or whose heartbeat is older than ``limits.run_lost_after_seconds``
marks it failed ("process lost"). Runs recorded before this migration keep NULL in both: no
owner is known, so they are never judged lost.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    # Nullable columns without a foreign key: a plain ALTER TABLE on SQLite and PostgreSQL.
    op.add_column("runs", sa.Column("process", sa.JSON, nullable=True))
    op.add_column("runs", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column("runs", "heartbeat_at")
    op.drop_column("runs", "process")
