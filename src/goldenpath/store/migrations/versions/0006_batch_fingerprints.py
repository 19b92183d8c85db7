"""Dataset versions record the fingerprint of the batch that made them (issue 12, point 4).

An ingest whose batch is already in the dataset is then a no-op, found by one indexed lookup
on (dataset, batch fingerprint). Versions recorded before this migration keep NULL: unknown,
so a batch never matches them.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"


def upgrade() -> None:
    # A nullable column without a foreign key: a plain ALTER TABLE on SQLite and PostgreSQL.
    op.add_column("dataset_versions", sa.Column("batch_fingerprint", sa.String(64), nullable=True))
    op.create_index(
        "ix_dataset_versions_batch_fingerprint",
        "dataset_versions",
        ["dataset_id", "batch_fingerprint", "version"],
    )
