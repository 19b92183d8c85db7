"""``gp init`` and ``gp status``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from goldenpath.cli import render
from goldenpath.cli.context import state, workspace


def init(
    workspace_dir: Path | None = typer.Option(
        None,
        "--workspace",
        "-w",
        metavar="DIR",
        help="Directory of the workspace (default: GP_HOME or ~/.local/share/goldenpath).",
    ),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Create a workspace, or open it if it exists.

    Example: gp init --workspace ./gp-home
    """
    from goldenpath.workspace import init_workspace

    ws, created = init_workspace(
        workspace_dir if workspace_dir is not None else state.workspace, project=state.project
    )
    status = ws.status()
    if json_:
        render.print_json({"created": created, **status.as_dict()})
        return
    verb = "created" if created else "opened existing"
    render.out.print(f"{verb} workspace {ws.stack.home}")
    shown = list((status.stack or {}).items()) or [("acting as", ws.actor.name)]
    render.fields(shown)
    render.out.print("\nnext: gp data ingest NAME FILE   (CSV, Parquet or JSON Lines)")


def status(json_: bool = typer.Option(False, "--json", help="Print the status as JSON.")) -> None:
    """Show the stack (what serves metadata, storage, online features, runtime), counts, and
    each deployment's health in one line.

    Example: gp status --json
    """
    opened = workspace()
    from goldenpath.workspace import Workspace

    if isinstance(opened, Workspace):  # deployments run on this machine: their health too
        info = opened.status(health=True, token=os.environ.get("GP_TOKEN"))
    else:
        info = opened.status()
    if json_:
        render.print_json(info.as_dict())
        return
    if info.stack is None or info.sources is None or info.counts is None:
        render.out.print(f"acting as {info.principal} in project {info.project}")
        render.out.print("(the stack and counts are shown to workspace admins)")
        _deployments(info.deployments)
        return
    render.out.print(f"[bold]workspace[/bold] {escape(str(info.home))}", markup=True)
    render.out.print(f"acting as {info.principal} in project {info.project}\n")
    effect = info.effect or {}
    render.table(
        None,
        ["setting", "value", "from", "effect"],
        [(k, v, info.sources.get(k, ""), effect.get(k, "")) for k, v in info.stack.items()],
    )
    render.out.print()
    render.table(None, ["object", "count"], list(info.counts.items()))
    if info.training_sandbox:
        render.out.print(f"\ntraining sandbox: {escape(info.training_sandbox)}", markup=True)
    _deployments(info.deployments)


def _deployments(found: list[dict[str, Any]] | None) -> None:
    if not found:
        return
    # One line each, wrapped rather than cut: the health line is the point.
    render.out.print("\n[bold]deployments[/bold]", markup=True)
    for d in found:
        health = f": {d['health']}" if d["health"] else ""
        render.out.print(f"  {d['name']} ({d['status']}, {d['serving']}){health}")
