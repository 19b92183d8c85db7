"""The online feature store's materialisation state: per online store and feature view, which
definition and which source dataset versions its values come from.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feature_online_state",
        sa.Column("store", sa.String(256), primary_key=True),
        sa.Column("view", sa.String(63), primary_key=True),
        sa.Column("definition_hash", sa.String(64), nullable=False),
        sa.Column("source_versions", sa.JSON, nullable=False),
        sa.Column("rows_read", sa.BigInteger, nullable=False),
        sa.Column("entities_written", sa.BigInteger, nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
