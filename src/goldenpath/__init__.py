"""goldenpath: a self-service AI platform.

import goldenpath
ws = goldenpath.connect()                      # the workspace from GP_HOME or the default
ws.datasets.ingest("transactions", Path("tx.csv"), contract=Path("contract.yaml"))
table = ws.datasets.read("transactions@1")     # a pyarrow.Table, exactly version 1
"""

from __future__ import annotations

import os

from goldenpath.core.actor import Actor
from goldenpath.core.config import StackSettings
from goldenpath.core.errors import (
    BackendUnavailable,
    Conflict,
    ContractError,
    GoldenpathError,
    InvalidInput,
    InvalidName,
    NotFound,
    ValidationFailed,
)
from goldenpath.core.workspace import Workspace, init_workspace, open_workspace

__version__ = "0.1.0"


def connect(
    workspace: str | os.PathLike[str] | None = None,
    *,
    actor: str | None = None,
    metadata: str | None = None,
    storage: str | None = None,
    create: bool = False,
) -> Workspace:
    """Open a workspace (``create=True`` makes it if missing).

    ``workspace`` is a directory (default: ``GP_HOME`` or ``~/.local/share/goldenpath``);
    ``metadata`` and ``storage`` override the stack config; ``actor`` names who is acting.
    """
    settings = StackSettings(metadata=metadata, storage=storage)
    who = Actor(actor) if actor else None
    if create:
        return init_workspace(workspace, settings=settings, actor=who)[0]
    return open_workspace(workspace, settings=settings, actor=who)


__all__ = [
    "BackendUnavailable",
    "Conflict",
    "ContractError",
    "GoldenpathError",
    "InvalidInput",
    "InvalidName",
    "NotFound",
    "ValidationFailed",
    "Workspace",
    "__version__",
    "connect",
]
