"""goldenpath: a self-service AI platform.

import goldenpath
ws = goldenpath.connect()                      # the workspace from GP_HOME or the default
ws.datasets.ingest("transactions", Path("tx.csv"), contract=Path("contract.yaml"))
table = ws.datasets.read("transactions@1")     # a pyarrow.Table, exactly version 1
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from goldenpath.core.errors import (
    BackendUnavailable,
    Conflict,
    ContractError,
    GoldenpathError,
    InvalidInput,
    InvalidName,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    ValidationFailed,
)

if TYPE_CHECKING:
    from goldenpath.client.remote import RemoteWorkspace
    from goldenpath.workspace import Workspace

__version__ = "0.1.0"


def connect(
    workspace: str | os.PathLike[str] | None = None,
    *,
    actor: str | None = None,
    token: str | None = None,
    project: str | None = None,
    metadata: str | None = None,
    storage: str | None = None,
    online: str | None = None,
    create: bool = False,
) -> Workspace | RemoteWorkspace:
    """Open a workspace (``create=True`` makes it if missing; its creator becomes admin).

    ``workspace`` is a server URL (``http://127.0.0.1:8700``: the same SDK over HTTP, with
    ``token`` or ``GP_TOKEN``), or a directory (default: ``GP_HOME`` or
    ``~/.local/share/goldenpath``).
    Who acts: ``token`` (a bearer token), else ``actor`` (a principal name; embedded use
    trusts the local OS), else ``GP_ACTOR`` or the OS user. ``project`` (or ``GP_PROJECT``)
    is where new objects go. ``metadata``, ``storage`` and ``online`` (``"sqlite"`` or a
    ``redis://`` URL) override the stack config.
    """
    if isinstance(workspace, str) and workspace.startswith(("http://", "https://")):
        from goldenpath.client.remote import RemoteWorkspace

        return RemoteWorkspace(workspace, token or os.environ.get("GP_TOKEN"), project)
    from goldenpath.core.actor import Actor
    from goldenpath.core.config import StackSettings
    from goldenpath.core.names import validate_name
    from goldenpath.workspace import init_workspace, open_workspace

    settings = StackSettings(metadata=metadata, storage=storage, online=online)
    who = Actor(validate_name(actor, kind="principal name")) if actor else None
    if create:
        return init_workspace(
            workspace, settings=settings, actor=who, token=token, project=project
        )[0]
    return open_workspace(workspace, settings=settings, actor=who, token=token, project=project)


_LAZY = ("Workspace", "init_workspace", "open_workspace")


def __getattr__(name: str) -> object:
    """``goldenpath.Workspace`` and friends, imported on first use: ``import goldenpath`` stays
    light (the metadata database's SQLAlchemy and the config's pydantic load with a workspace)."""
    if name in _LAZY:
        from goldenpath import workspace

        value = getattr(workspace, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'goldenpath' has no attribute {name!r}")


__all__ = [
    "BackendUnavailable",
    "Conflict",
    "ContractError",
    "GoldenpathError",
    "InvalidInput",
    "InvalidName",
    "NotFound",
    "PermissionDenied",
    "Unauthenticated",
    "ValidationFailed",
    "Workspace",
    "__version__",
    "connect",
]
