"""The monitor's figures: each window's drift and quality figures per deployment, version,
subject and metric (issue 25, §1).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "monitoring_figures",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("deployment_id", sa.String(26), sa.ForeignKey("deployments.id"), nullable=False),
        sa.Column("window_start", _TS, nullable=False),
        sa.Column("window_end", _TS, nullable=False),
        sa.Column("computed_at", _TS, nullable=False),
        sa.Column("model_version", sa.Integer, nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("verdict", sa.String(32), nullable=False),
    )
    op.create_index(
        "ix_monitoring_figures_deployment_end",
        "monitoring_figures",
        ["deployment_id", "window_end"],
    )


def downgrade() -> None:
    op.drop_index("ix_monitoring_figures_deployment_end", table_name="monitoring_figures")
    op.drop_table("monitoring_figures")
