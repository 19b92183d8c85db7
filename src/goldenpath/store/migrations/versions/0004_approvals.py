"""Approval requests: an action a policy holds until an approver signs it off.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "approval_requests",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("policy", sa.String(63), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_ref", sa.String(256), nullable=False),
        sa.Column("project", sa.String(63), nullable=True),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),  # pending|approved|rejected|used
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index(
        "ix_approval_requests_lookup", "approval_requests", ["action", "object_ref", "status"]
    )
