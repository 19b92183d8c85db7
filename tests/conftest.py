"""Shared fixtures: a real workspace on SQLite and on PostgreSQL (127.0.0.1:5432).

PostgreSQL tests get a fresh schema each (``search_path``), dropped afterwards. Without a
server they skip, except under ``CI=true`` where a missing server is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import goldenpath
from goldenpath.core.ids import new_id

POSTGRES_URL = os.environ.get(
    "GP_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _postgres_or_skip() -> str:
    """The PostgreSQL URL if the server answers; skip (or fail under CI) otherwise."""
    try:
        import psycopg

        with psycopg.connect(
            POSTGRES_URL.replace("postgresql://", "postgresql://", 1), connect_timeout=3
        ):
            pass
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true and is unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    return POSTGRES_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a new, empty schema (dropped afterwards)."""
    import psycopg

    base = _postgres_or_skip()
    schema = f"gp_test_{new_id().lower()}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def metadata_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The metadata URL of each backend in turn."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'gp.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def ws(metadata_url: str, tmp_path: Path) -> Iterator[goldenpath.Workspace]:
    """A new workspace on each metadata backend, acting as 'alice'."""
    workspace = goldenpath.connect(
        tmp_path / "home", metadata=metadata_url, actor="alice", create=True
    )
    yield workspace
    workspace.close()


@pytest.fixture
def local_ws(tmp_path: Path) -> Iterator[goldenpath.Workspace]:
    """A new embedded (SQLite) workspace, for tests that do not depend on the backend."""
    workspace = goldenpath.connect(tmp_path / "home", actor="alice", create=True)
    yield workspace
    workspace.close()


def write(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` and return it."""
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def _no_cli_workspace_left_open() -> Iterator[None]:
    """A ``gp`` command run in process (CliRunner) keeps the workspace it opened in the CLI's
    module state; close it after each test, so no later test's command finds it open."""
    yield
    from goldenpath.cli.context import state

    opened, state._open = state._open, None
    if opened is not None:
        opened.close()
