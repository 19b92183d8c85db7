from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import func, inspect, select, text

from goldenpath.core.actor import Actor
from goldenpath.governance import audit
from goldenpath.store.engine import HEAD_REVISION, MIGRATIONS_DIR, open_store
from goldenpath.store.tables import HASH_INDEXES, audit_events, metadata


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
            found = {i["name"]: i for i in inspector.get_indexes(table.name)}
            for index in table.indexes:
                assert found[index.name]["column_names"] == [c.name for c in index.columns]
                if store.dialect == "postgresql":
                    using = found[index.name].get("dialect_options", {}).get("postgresql_using")
                    wanted = "hash" if index.name in HASH_INDEXES else "btree"
                    assert (using or "btree") == wanted, index.name
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


def test_the_change_token_moves_when_any_connection_or_process_commits(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gp.db'}"
    store = open_store(url)
    other = open_store(url)  # another Workspace's engine in this process
    try:
        before = store.change_token()
        assert before is not None
        with store.connect() as conn:  # reads move nothing
            conn.execute(select(func.count()).select_from(audit_events)).scalar()
        assert store.change_token() == before
        with store.begin() as conn:  # a commit on the store's own pool is another connection
            audit.record(conn, Actor("alice"), "thing.create", "thing", "a")
        after_own = store.change_token()
        assert after_own != before
        with other.begin() as conn:
            audit.record(conn, Actor("bob"), "thing.create", "thing", "b")
        after_other = store.change_token()
        assert after_other != after_own
        code = (
            "import sys; from goldenpath.core.actor import Actor; "
            "from goldenpath.governance import audit; "
            "from goldenpath.store.engine import open_store; s = open_store(sys.argv[1])\n"
            "with s.begin() as c: audit.record(c, Actor('carl'), 'thing.create', 'thing', 'c')"
        )
        subprocess.run([sys.executable, "-c", code, url], check=True)
        assert store.change_token() not in (after_other, None)
        # A new probe connection (after dispose) starts counting afresh: its tokens never
        # repeat one of the old probe's, which a cache may still hold.
        store.dispose()
        first = store.change_token()
        with other.begin() as conn:
            audit.record(conn, Actor("bob"), "thing.create", "thing", "d")
        seen = store.change_token()
        store.dispose()
        assert store.change_token() != first
        with other.begin() as conn:
            audit.record(conn, Actor("bob"), "thing.create", "thing", "e")
        assert store.change_token() != seen
    finally:
        store.dispose()
        other.dispose()


def test_no_change_token_where_it_cannot_be_cheap(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        assert store.change_token() is None  # the caller checks with a query instead
        assert open_store("sqlite:///:memory:").change_token() is None
    finally:
        store.dispose()
