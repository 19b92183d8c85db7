"""Deployments: a model's versions behind one endpoint, and every change of their traffic.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("project_id", sa.String(26), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("model", sa.String(63), nullable=False),
        sa.Column("stage", sa.String(8), nullable=False),
        sa.Column("runtime", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("primary_version", sa.Integer, nullable=False),
        sa.Column("candidate_version", sa.Integer, nullable=True),
        sa.Column("candidate_mode", sa.String(8), nullable=True),
        sa.Column("canary_percent", sa.Integer, nullable=True),
        sa.Column("previous_version", sa.Integer, nullable=True),
        sa.Column("generation", sa.Integer, nullable=False),
        sa.Column("host", sa.String(64), nullable=False),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("settings", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "deployment_events",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("deployment_id", sa.String(26), sa.ForeignKey("deployments.id"), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("detail", sa.JSON, nullable=False),
        sa.Column("at", _TS, nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
    )
    op.create_index(
        "ix_deployment_events_deployment_at", "deployment_events", ["deployment_id", "at"]
    )


def downgrade() -> None:
    op.drop_index("ix_deployment_events_deployment_at", table_name="deployment_events")
    op.drop_table("deployment_events")
    op.drop_table("deployments")
