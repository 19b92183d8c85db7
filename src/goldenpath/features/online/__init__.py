"""Online feature stores: one backend per file behind :class:`OnlineStore` (``base.py``)."""

from __future__ import annotations

from pathlib import Path

from goldenpath.core.errors import InvalidInput
from goldenpath.features.online.base import OnlineStore, ViewLayout

__all__ = ["SQLITE_FILE", "OnlineStore", "ViewLayout", "open_online_store"]

SQLITE_FILE = Path("online") / "features.sqlite"
"""Where the default store lives, relative to the workspace home."""


def open_online_store(
    url_or_setting: str, workspace_home: Path, *, namespace: str = "gp:"
) -> OnlineStore:
    """The online store a workspace's ``online`` setting names.

    ``"sqlite"`` is a SQLite file at ``<workspace_home>/online/features.sqlite``;
    ``"redis://host:port/db"`` (or ``rediss://``) is Redis, its keys prefixed by ``namespace``
    (tests and workspaces sharing one Redis database use distinct namespaces).
    """
    if url_or_setting == "sqlite":
        from goldenpath.features.online.sqlite import SqliteOnlineStore

        return SqliteOnlineStore(workspace_home / SQLITE_FILE)
    if url_or_setting.startswith(("redis://", "rediss://")):
        from goldenpath.features.online.redis import RedisOnlineStore

        return RedisOnlineStore(url_or_setting, namespace=namespace)
    raise InvalidInput(
        f"unknown online store {url_or_setting!r}",
        hint="set online to 'sqlite' or a redis://host:port/db URL",
    )
