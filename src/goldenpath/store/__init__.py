"""The metadata database: SQLAlchemy Core tables, Alembic migrations, SQLite or PostgreSQL."""

from goldenpath.store.engine import MetadataStore, open_store

__all__ = ["MetadataStore", "open_store"]
