"""``gp init`` and ``gp status``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from goldenpath.cli import render
from goldenpath.cli.context import state, workspace
from goldenpath.workspace import init_workspace


def init(
    workspace_dir: Path | None = typer.Option(
        None,
        "--workspace",
        "-w",
        help="Directory of the workspace (default: GP_HOME or ~/.local/share/goldenpath).",
    ),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Create a workspace, or open it if it exists.

    Example: gp init --workspace ./gp-home
    """
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
    """Show the stack (what serves metadata, storage, online features, runtime) and counts.

    Example: gp status --json
    """
    info = workspace().status()
    if json_:
        render.print_json(info.as_dict())
        return
    if info.stack is None or info.sources is None or info.counts is None:
        render.out.print(f"acting as {info.principal} in project {info.project}")
        render.out.print("(the stack and counts are shown to workspace admins)")
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
