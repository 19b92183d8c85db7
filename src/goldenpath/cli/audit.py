"""``gp audit``: the audit trail."""

from __future__ import annotations

import json

import typer

from goldenpath.cli import render
from goldenpath.cli.context import workspace

app = typer.Typer(
    help="The audit trail: who did what, to which object, when.", no_args_is_help=True
)


@app.command("list")
def list_events(
    limit: int = typer.Option(50, "--limit", "-n", min=1, max=100_000, help="How many events."),
    action: str | None = typer.Option(None, help="Only actions starting with this."),
    object_ref: str | None = typer.Option(None, "--object", help="Only this object."),
    actor: str | None = typer.Option(None, help="Only this actor."),
    json_: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """List audit events, newest first.

    Example: gp audit list --action dataset. --limit 20
    """
    events = workspace().audit.list(limit=limit, action=action, object_ref=object_ref, actor=actor)
    if json_:
        render.print_json([{**e.__dict__, "at": e.at.isoformat()} for e in events])
        return
    render.table(
        None,
        ["#", "at", "actor", "action", "object", "details"],
        [
            (e.seq, render.when(e.at), e.actor, e.action, e.object_ref, json.dumps(e.details)[:80])
            for e in events
        ],
    )
