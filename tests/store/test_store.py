from __future__ import annotations

from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from goldenpath.core.actor import Actor
from goldenpath.governance import audit
from goldenpath.store.engine import HEAD_REVISION, MIGRATIONS_DIR, open_store
from goldenpath.store.tables import audit_events, metadata


def test_head_revision_constant_matches_the_migration_scripts() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD_REVISION


def test_migrating_an_empty_database_yields_the_declared_schema(metadata_url: str) -> None:
    store = open_store(metadata_url)
    try:
        assert store.current_revision() == HEAD_REVISION
        inspector = inspect(store.engine)
        for table in metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name
            indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes(table.name)}
            for index in table.indexes:
                assert indexes.get(index.name) == [c.name for c in index.columns], index.name
    finally:
        store.dispose()


def test_reopening_is_idempotent(metadata_url: str) -> None:
    open_store(metadata_url).dispose()
    store = open_store(metadata_url)
    assert store.current_revision() == HEAD_REVISION
    store.dispose()


def test_sqlite_uses_wal_and_enforces_foreign_keys(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'gp.db'}")
    with store.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    store.dispose()


def test_an_audit_event_rolls_back_with_its_change(metadata_url: str, tmp_path: Path) -> None:
    store = open_store(metadata_url)
    try:
        with pytest.raises(RuntimeError), store.begin() as conn:
            audit.record(conn, Actor("alice"), "thing.create", "thing", "x")
            raise RuntimeError("the change failed")
        with store.connect() as conn:
            assert conn.execute(select(func.count()).select_from(audit_events)).scalar() == 0
        with store.begin() as conn:
            audit.record(conn, Actor("alice"), "thing.create", "thing", "x", {"k": 1})
        events = audit.AuditService(store, tmp_path / "key.pem", Actor("alice")).list()
        assert [(e.actor, e.action, e.details) for e in events] == [
            ("alice", "thing.create", {"k": 1})
        ]
        assert events[0].at.tzinfo is not None
    finally:
        store.dispose()


def test_unreachable_postgres_is_a_clear_error() -> None:
    from goldenpath.core.errors import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="metadata database unavailable"):
        open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_a_postgres_that_never_answers_times_out() -> None:
    import socket
    import time

    from goldenpath.core.errors import BackendUnavailable

    with socket.socket() as silent:  # listens, never accepts or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(BackendUnavailable, match="metadata database unavailable"):
            open_store(f"postgresql://nobody@127.0.0.1:{port}/none")
        assert time.monotonic() - started < 15
