"""Training runs: parameters, metrics (newest value and history), artifacts.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("project_id", sa.String(26), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("experiment", sa.String(63), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("seed", sa.BigInteger, nullable=True),
        sa.Column("environment", sa.JSON, nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("error", sa.JSON, nullable=True),
        sa.Column("rerun_of", sa.String(26), nullable=True),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("ended_at", _TS, nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("cpu_s", sa.Float, nullable=True),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
    op.create_index("ix_runs_project_started", "runs", ["project_id", "started_at"])
    op.create_index(
        "ix_runs_project_experiment_started", "runs", ["project_id", "experiment", "started_at"]
    )
    op.create_table(
        "run_params",
        sa.Column("run_id", sa.String(26), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("number", sa.Float, nullable=True),
    )
    op.create_index("ix_run_params_key_number", "run_params", ["key", "number"])
    # Up to 6,000 characters: more than a PostgreSQL B-tree entry holds, so a hash index there.
    op.create_index("ix_run_params_value", "run_params", ["value"], postgresql_using="hash")
    op.create_table(
        "run_tags",
        sa.Column("run_id", sa.String(26), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_index("ix_run_tags_value", "run_tags", ["value"], postgresql_using="hash")
    op.create_table(
        "run_metrics",
        sa.Column("run_id", sa.String(26), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("key", sa.String(250), primary_key=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("at", _TS, nullable=False),
    )
    op.create_index("ix_run_metrics_key_value", "run_metrics", ["key", "value"])
    op.create_table(
        "run_metric_history",
        sa.Column("run_id", sa.String(26), sa.ForeignKey("runs.id"), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("step", sa.BigInteger, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("at", _TS, nullable=False),
    )
    op.create_index("ix_run_metric_history_run_key", "run_metric_history", ["run_id", "key"])
    op.create_table(
        "run_artifacts",
        sa.Column("run_id", sa.String(26), sa.ForeignKey("runs.id"), primary_key=True),
        sa.Column("name", sa.String(512), primary_key=True),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("at", _TS, nullable=False),
    )
