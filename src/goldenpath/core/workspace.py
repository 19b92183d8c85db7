"""The workspace: one platform instance (metadata database + storage root + stack config).

``init_workspace`` creates one; ``open_workspace`` opens an existing one; both hand back a
:class:`Workspace` whose capability services (``ws.datasets``, ``ws.audit``) act as its actor.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from goldenpath.core import audit, signing
from goldenpath.core.actor import Actor, default_actor
from goldenpath.core.config import (
    CONFIG_FILE,
    Stack,
    StackSettings,
    require_local_storage,
    resolve_home,
    resolve_stack,
    write_workspace_config,
)
from goldenpath.core.errors import NotFound
from goldenpath.store.engine import MetadataStore, open_store
from goldenpath.store.tables import audit_events, dataset_versions, datasets

if TYPE_CHECKING:
    from goldenpath.data.service import DatasetService


@dataclass(frozen=True)
class WorkspaceStatus:
    """What ``gp status`` shows: the stack, where each setting came from, and object counts."""

    home: str
    stack: dict[str, str]
    sources: dict[str, str]
    counts: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return {
            "home": self.home,
            "stack": self.stack,
            "sources": self.sources,
            "counts": self.counts,
        }


def _redact(url: str) -> str:
    """A URL without its password (``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


class Workspace:
    """An open workspace. Use :func:`goldenpath.connect` to get one."""

    def __init__(self, stack: Stack, store: MetadataStore, actor: Actor) -> None:
        self.stack = stack
        self.store = store
        self.actor = actor
        self.storage_root = require_local_storage(stack.storage)

    @cached_property
    def datasets(self) -> DatasetService:
        """Versioned datasets with data contracts (:class:`~goldenpath.data.DatasetService`)."""
        from goldenpath.data.service import DatasetService

        return DatasetService(self.store, self.storage_root, self.actor)

    @cached_property
    def audit(self) -> audit.AuditService:
        """The audit trail: list, verify, checkpoint, export."""
        return audit.AuditService(self.store, signing.key_path(self.stack.home), self.actor)

    def status(self) -> WorkspaceStatus:
        """The stack and how many objects the workspace holds."""
        with self.store.connect() as conn:
            counts = {
                "datasets": conn.execute(select(func.count()).select_from(datasets)).scalar_one(),
                "dataset_versions": conn.execute(
                    select(func.count()).select_from(dataset_versions)
                ).scalar_one(),
                "audit_events": conn.execute(
                    select(func.count()).select_from(audit_events)
                ).scalar_one(),
            }
        stack = {
            "metadata": _redact(self.stack.metadata),
            "storage": self.stack.storage,
            "online": _redact(self.stack.online),
            "runtime": self.stack.runtime,
        }
        return WorkspaceStatus(str(self.stack.home), stack, dict(self.stack.sources), counts)

    def close(self) -> None:
        """Release database connections."""
        self.store.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.stack.home)!r}, actor={self.actor.name!r})"


def init_workspace(
    workspace: str | os.PathLike[str] | None = None,
    *,
    settings: StackSettings | None = None,
    actor: Actor | None = None,
) -> tuple[Workspace, bool]:
    """Create the workspace (or open it if it exists); return it and whether it was created."""
    home, _ = resolve_home(workspace)
    config_path = home / CONFIG_FILE
    created = not config_path.exists()
    if created:
        home.mkdir(parents=True, exist_ok=True)
        write_workspace_config(home, settings or StackSettings())
    stack = resolve_stack(home, settings)
    store = open_store(stack.metadata)
    require_local_storage(stack.storage).mkdir(parents=True, exist_ok=True)
    ws = Workspace(stack, store, actor or default_actor())
    if created:
        with store.begin() as conn:
            audit.record(
                conn,
                ws.actor,
                "workspace.init",
                "workspace",
                str(home),
                {"metadata": _redact(stack.metadata), "storage": stack.storage},
            )
    return ws, created


def open_workspace(
    workspace: str | os.PathLike[str] | None = None,
    *,
    settings: StackSettings | None = None,
    actor: Actor | None = None,
) -> Workspace:
    """Open an existing workspace; raise :class:`NotFound` with a hint if there is none."""
    home, origin = resolve_home(workspace)
    if not (home / CONFIG_FILE).exists():
        raise NotFound(
            f"no workspace at {home} (from {origin})",
            hint=f"create one with: gp init --workspace {home}",
        )
    stack = resolve_stack(home, settings)
    return Workspace(stack, open_store(stack.metadata), actor or default_actor())


def workspace_path(workspace: str | os.PathLike[str] | None) -> Path:
    """The directory a workspace argument resolves to."""
    return resolve_home(workspace)[0]
