"""Tokens record the token that created them, so revoking a token revokes what it minted.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    # SQLite cannot add a foreign key to an existing table: batch mode copies the table.
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("parent_id", sa.String(26), nullable=True))
        batch.create_foreign_key("fk_tokens_parent_id", "tokens", ["parent_id"], ["id"])
        batch.create_index("ix_tokens_parent_id", ["parent_id"])
