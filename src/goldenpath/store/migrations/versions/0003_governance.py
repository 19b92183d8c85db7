"""Governance: teams and projects, principals, tokens, role grants; datasets belong to projects.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("team", sa.String(63), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "principals",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),  # user | service | agent
        sa.Column("owner", sa.String(63), nullable=True),  # agents: who answers for them
        sa.Column("allowed_actions", sa.JSON, nullable=True),  # agents: the only permissions
        sa.Column("expires_at", _TS, nullable=True),
        sa.Column("disabled_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("principal_id", sa.String(26), sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.JSON, nullable=True),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("revoked_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "grants",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("principal_id", sa.String(26), sa.ForeignKey("principals.id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("scope_kind", sa.String(16), nullable=False),  # workspace | team | project
        sa.Column("scope_name", sa.String(63), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.UniqueConstraint(
            "principal_id",
            "role",
            "scope_kind",
            "scope_name",
            name="uq_grants_principal_role_scope",
        ),
    )
    projects = sa.table(
        "projects",
        sa.column("id"),
        sa.column("name"),
        sa.column("team"),
        sa.column("created_at", _TS),
        sa.column("created_by"),
    )
    op.bulk_insert(
        projects,
        [
            {
                "id": "0000000000000000000DEFAULT",
                "name": "default",
                "team": "default",
                "created_at": datetime.now(UTC),
                "created_by": "migration",
            }
        ],
    )
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("project_id", sa.String(26), nullable=True))
    op.execute("UPDATE datasets SET project_id = '0000000000000000000DEFAULT'")
    with op.batch_alter_table("datasets") as batch:
        batch.alter_column("project_id", existing_type=sa.String(26), nullable=False)
        batch.create_foreign_key("fk_datasets_project", "projects", ["project_id"], ["id"])
