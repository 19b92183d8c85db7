"""Global CLI state: which workspace, whether to show tracebacks."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from goldenpath.client.remote import RemoteWorkspace
    from goldenpath.workspace import Workspace


@dataclass
class CliState:
    workspace: str | None = None
    project: str | None = None
    debug: bool = False
    _open: Workspace | RemoteWorkspace | None = None


state = CliState()


def workspace() -> Workspace | RemoteWorkspace:
    """The workspace the command acts on: the server at ``GP_SERVER``, else a local one."""
    server = os.environ.get("GP_SERVER")
    if state._open is None and server:
        from goldenpath.client.remote import RemoteWorkspace

        state._open = RemoteWorkspace(server, os.environ.get("GP_TOKEN"), state.project)
    if state._open is None:
        from goldenpath.workspace import open_workspace

        # GP_TOKEN authenticates as a token's principal; otherwise the OS user (or GP_ACTOR).
        state._open = open_workspace(
            state.workspace, token=os.environ.get("GP_TOKEN") or None, project=state.project
        )
    return state._open
