"""Initial schema: audit events, datasets, dataset versions, validations.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

_BIGINT = sa.Integer().with_variant(sa.BigInteger(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column("seq", _BIGINT, primary_key=True, autoincrement=True),
        sa.Column("id", sa.String(26), nullable=False, unique=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_ref", sa.String(256), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("contract", sa.Text, nullable=True),
        sa.Column("contract_sha256", sa.String(64), nullable=True),
    )
    op.create_table(
        "dataset_versions",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("dataset_id", sa.String(26), sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("delta_version", sa.Integer, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("row_count", sa.BigInteger, nullable=False),
        sa.Column("batch_rows", sa.BigInteger, nullable=False),
        sa.Column("quarantined_rows", sa.BigInteger, nullable=False),
        sa.Column("schema", sa.JSON, nullable=False),
        sa.Column("schema_changes", sa.JSON, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("content_sum", sa.String(24), nullable=False),
        sa.Column("source", sa.JSON, nullable=False),
        sa.Column("contract_sha256", sa.String(64), nullable=True),
        sa.Column("profile", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_version"),
    )
    op.create_table(
        "validations",
        sa.Column("id", sa.String(26), primary_key=True),
        sa.Column("dataset_id", sa.String(26), sa.ForeignKey("datasets.id"), nullable=False),
        sa.Column("version_id", sa.String(26), sa.ForeignKey("dataset_versions.id"), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("rows_checked", sa.BigInteger, nullable=False),
        sa.Column("rows_failed", sa.BigInteger, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
    )
