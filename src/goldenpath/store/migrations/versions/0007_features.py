"""Feature store: definitions and their versions, who uses them, training sets, lineage edges.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feature_definitions",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("project_id", sa.String(26), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("namespace", sa.String(8), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("current_version", sa.Integer, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.Column("removed_at", _TS, nullable=True),
        sa.UniqueConstraint("namespace", "name", name="uq_feature_definitions_namespace_name"),
    )
    op.create_table(
        "feature_versions",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column(
            "definition_id",
            sa.String(26),
            sa.ForeignKey("feature_definitions.id"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("version_hash", sa.String(64), nullable=False),
        sa.Column("content", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.UniqueConstraint(
            "definition_id", "version", name="uq_feature_versions_definition_version"
        ),
        sa.UniqueConstraint(
            "definition_id", "version_hash", name="uq_feature_versions_definition_hash"
        ),
    )
    op.create_table(
        "feature_users",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column(
            "version_id", sa.String(26), sa.ForeignKey("feature_versions.id"), nullable=False
        ),
        sa.Column("user_kind", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_feature_users_version", "feature_users", ["version_id"])
    op.create_table(
        "training_sets",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("project_id", sa.String(26), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("delta_version", sa.Integer, nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("schema", sa.JSON, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("entity_fingerprint", sa.String(64), nullable=False),
        sa.Column("spec", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_training_sets_name_version"),
    )
    op.create_table(
        "lineage_edges",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("from_kind", sa.String(32), nullable=False),
        sa.Column("from_id", sa.String(128), nullable=False),
        sa.Column("to_kind", sa.String(32), nullable=False),
        sa.Column("to_id", sa.String(128), nullable=False),
        sa.Column("relation", sa.String(32), nullable=False),
        sa.Column("attributes", sa.JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_lineage_edges_from", "lineage_edges", ["from_kind", "from_id"])
    op.create_index("ix_lineage_edges_to", "lineage_edges", ["to_kind", "to_id"])


def downgrade() -> None:
    op.drop_table("lineage_edges")
    op.drop_table("training_sets")
    op.drop_table("feature_users")
    op.drop_table("feature_versions")
    op.drop_table("feature_definitions")
