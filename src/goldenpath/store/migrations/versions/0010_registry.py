"""The model registry: models, immutable versions, aliases and every move of an alias.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("project_id", sa.String(26), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("model_id", sa.String(26), sa.ForeignKey("models.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("run_id", sa.String(26), nullable=True),
        sa.Column("flavor", sa.String(16), nullable=False),
        sa.Column("task", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("native_digest", sa.String(64), nullable=False),
        sa.Column("native_format", sa.String(32), nullable=False),
        sa.Column("onnx_digest", sa.String(64), nullable=False),
        sa.Column("signature", sa.JSON, nullable=False),
        sa.Column("metrics", sa.JSON, nullable=False),
        sa.Column("parity", sa.JSON, nullable=False),
        sa.Column("profile_digest", sa.String(64), nullable=False),
        sa.Column("validation_digest", sa.String(64), nullable=True),
        sa.Column("card", sa.JSON, nullable=False),
        sa.Column("gates", sa.JSON, nullable=False),
        sa.Column("lineage", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
    )
    op.create_table(
        "model_aliases",
        sa.Column("model_id", sa.String(26), sa.ForeignKey("models.id"), primary_key=True),
        sa.Column("alias", sa.String(63), primary_key=True),
        sa.Column("version_id", sa.String(26), sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "model_alias_history",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("model_id", sa.String(26), sa.ForeignKey("models.id"), nullable=False),
        sa.Column("alias", sa.String(63), nullable=False),
        sa.Column("from_version", sa.Integer, nullable=True),
        sa.Column("to_version", sa.Integer, nullable=True),
        sa.Column("forced", sa.Boolean, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("moved_at", _TS, nullable=False),
        sa.Column("moved_by", sa.String(128), nullable=False),
    )
    op.create_index(
        "ix_model_alias_history_model_alias",
        "model_alias_history",
        ["model_id", "alias", "moved_at"],
    )
