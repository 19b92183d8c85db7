"""``gp audit``: the audit trail."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from goldenpath.cli import render
from goldenpath.cli.context import workspace
from goldenpath.cli.help import App
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import InvalidInput

app = App(
    help=("The audit trail: who did what, to which object, when.\n\nExample: gp audit verify"),
    no_args_is_help=True,
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
        render.print_json([e.as_dict() for e in events])
        return
    render.table(
        None,
        ["#", "at", "actor", "action", "object", "details"],
        [
            (e.seq, render.when(e.at), e.actor, e.action, e.object_ref, json.dumps(e.details)[:80])
            for e in events
        ],
        empty="no audit events match (drop --action, --object or --actor to see more)",
    )


@app.command()
def verify(
    anchor: Path | None = typer.Option(
        None,
        "--anchor",
        help="A checkpoint kept outside the workspace (from gp audit export-checkpoint): "
        "fail if the trail no longer reaches or matches it.",
    ),
    json_: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Check the chain, checkpoints, signing key and append-only triggers; exit 9 if tampered.

    With --anchor, also fail if the trail no longer reaches or matches a checkpoint kept
    outside the workspace.

    Example: gp audit verify --anchor anchor.json  # needs: gp audit export-checkpoint
    """
    from goldenpath.cli.progress import StepProgress
    from goldenpath.workspace import Workspace

    ws = workspace()
    parsed = _read_anchor(anchor) if anchor else None
    if isinstance(ws, Workspace):
        progress = StepProgress("audit verify", enabled=not json_)
        result = ws.audit.verify(anchor=parsed, progress=progress)
    else:  # the server verifies; nothing to count here
        result = ws.audit.verify(anchor=parsed)
    if json_:
        render.print_json(result.as_dict())
    else:
        state = "[green]intact[/green]" if result.ok else "[red]TAMPERED[/red]"
        render.out.print(
            f"audit trail {state}: {result.events:,} events, head #{result.head_seq} "
            f"{result.head_hash[:16]}, checked in {result.seconds:.2f}s",
            markup=True,
        )
        if result.checkpoint:
            render.out.print(
                f"checkpoint: #{result.checkpoint['seq']} signed at "
                f"{result.checkpoint['at']} ({result.checkpoint['from']})"
            )
        if result.anchor:
            render.out.print(
                f"anchor: #{result.anchor['seq']} signed at {result.anchor['at']} ({anchor})"
            )
        for problem in result.problems:
            render.out.print(f"  [red]{problem.kind}[/red]: {escape(problem.message)}", markup=True)
        for note in result.notes:
            render.out.print(f"  note: {note}")
    if not result.ok:
        raise typer.Exit(9)


def _read_anchor(path: Path) -> Any:
    """The JSON in an anchor file; one clear error if it cannot be read or parsed."""
    hint = "pass a file written by gp audit export-checkpoint or gp audit checkpoint --json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the anchor {path}: {exc}", hint=hint) from None
    except ValueError as exc:
        raise InvalidInput(f"the anchor {path} is not JSON: {exc}", hint=hint) from None


@app.command()
def checkpoint(json_: bool = typer.Option(False, "--json", help="Print as JSON.")) -> None:
    """Sign the trail's head with the workspace's audit key, so truncation is detectable.

    Example: gp audit checkpoint
    """
    point = workspace().audit.checkpoint()
    if json_:
        render.print_json(point)
        return
    render.out.print(
        f"checkpoint #{point['seq']} ({point['count']:,} events) "
        f"{point['head_hash'][:16]} signed by key {point['key_id'][:16]}"
    )
    render.err.print("keep a copy outside the workspace: gp audit export-checkpoint -o FILE")


@app.command("export-checkpoint")
def export_checkpoint(
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)."),
) -> None:
    """Write the newest signed checkpoint with its public key, to keep as an anchor.

    Keep the file outside the workspace (another host, a ticket, a WORM bucket) and pass it
    to gp audit verify --anchor.

    Example: gp audit checkpoint && gp audit export-checkpoint -o anchor.json
    """
    text = json.dumps(workspace().audit.export_checkpoint(), indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    tmp = output.with_name(output.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(output)
    except OSError as exc:
        raise InvalidInput(f"cannot write {output}: {exc}") from None
    render.err.print(f"wrote the checkpoint to {output}")


@app.command("rotate-key")
def rotate_key(
    old_key_lost: bool = typer.Option(
        False,
        "--old-key-lost",
        help="Rotate even though the current key is missing or not the workspace's "
        "(the new key is then not vouched for by the old one; audited).",
    ),
    json_: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Replace the audit signing key on purpose (admins; audited).

    The old public key is kept, so older checkpoints still verify; the old key vouches for
    the new one, and a checkpoint is signed with the new key at once.

    Example: gp audit rotate-key
    """
    result = workspace().audit.rotate_key(old_key_lost=old_key_lost)
    if json_:
        render.print_json(result)
        return
    old = (result["old_key_id"] or "none")[:16]
    vouched = "vouched for by the old key" if result["endorsed"] else "NOT vouched for"
    render.out.print(
        f"rotated the audit signing key: {old} -> {result['new_key_id'][:16]} ({vouched}); "
        f"checkpoint #{result['checkpoint']['seq']} signed with the new key"
    )


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    units = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
    if value[:-1].isdigit() and value[-1] in units:
        return utcnow() - timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"invalid --since {value!r}",
            hint="use an ISO date or time (2026-11-01) or an age (7d, 12h)",
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=utcnow().tzinfo)


@app.command()
def export(
    since: str | None = typer.Option(None, help="Only events from this time (ISO) or age (7d)."),
    output: Path | None = typer.Option(None, "--output", "-o", help="File (default: stdout)."),
) -> None:
    """Write audit events as JSON Lines for a SIEM, oldest first.

    Example: gp audit export --since 7d -o audit.jsonl
    """
    start = _since(since)
    if output is None:
        workspace().audit.export(sys.stdout, since=start)
        return
    tmp = output.with_name(output.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as handle:
        count = workspace().audit.export(handle, since=start)
    tmp.replace(output)
    render.err.print(f"wrote {count:,} events to {output}")
