"""Global CLI state: which workspace, whether to show tracebacks."""

from __future__ import annotations

import os
from dataclasses import dataclass

from goldenpath.core.workspace import Workspace, open_workspace


@dataclass
class CliState:
    workspace: str | None = None
    project: str | None = None
    debug: bool = False
    _open: Workspace | None = None


state = CliState()


def workspace() -> Workspace:
    """The workspace the command acts on (opened once per command)."""
    if state._open is None:
        # GP_TOKEN authenticates as a token's principal; otherwise the OS user (or GP_ACTOR).
        state._open = open_workspace(
            state.workspace, token=os.environ.get("GP_TOKEN") or None, project=state.project
        )
    return state._open
