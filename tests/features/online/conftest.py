"""Fixtures for the online store: one workspace per module, each store backend in turn.

Redis (127.0.0.1:6379, database 15) gets a fresh key namespace per test, deleted afterwards;
without a server the Redis cases skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import goldenpath
from goldenpath.core.ids import new_id
from goldenpath.features.online import OnlineStore, open_online_store

REDIS_URL = os.environ.get("GP_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_or_skip() -> str:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true and is unreachable: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture(scope="module")
def module_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[goldenpath.Workspace]:
    home = tmp_path_factory.mktemp("online") / "home"
    workspace = goldenpath.connect(home, actor="alice", create=True)
    yield workspace
    workspace.close()


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OnlineStore]:
    """A new, empty online store of each backend."""
    if request.param == "sqlite":
        opened = open_online_store("sqlite", tmp_path)
        yield opened
        opened.close()
        return
    import redis

    url = redis_or_skip()
    namespace = f"gp-test-{new_id().lower()}:"
    opened = open_online_store(url, tmp_path, namespace=namespace)
    yield opened
    opened.close()
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=f"{namespace}*", count=1000):
        client.unlink(key)
    client.close()
