"""Global CLI state: which workspace, whether to show tracebacks."""

from __future__ import annotations

from dataclasses import dataclass

from goldenpath.core.workspace import Workspace, open_workspace


@dataclass
class CliState:
    workspace: str | None = None
    debug: bool = False
    _open: Workspace | None = None


state = CliState()


def workspace() -> Workspace:
    """The workspace the command acts on (opened once per command)."""
    if state._open is None:
        state._open = open_workspace(state.workspace)
    return state._open
