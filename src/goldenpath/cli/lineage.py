"""``gp lineage``: what went into an object and what depends on it; ``gp openlineage export``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import typer

from goldenpath.cli import render
from goldenpath.cli.context import workspace
from goldenpath.cli.help import App
from goldenpath.core.errors import InvalidInput

JSON = typer.Option(False, "--json", help="Print as JSON.")

openlineage_app = App(
    help=(
        "OpenLineage run events of training runs, to a JSON Lines file or an HTTP endpoint.\n\n"
        "Example: gp openlineage export --to events.jsonl"
    ),
    no_args_is_help=True,
)

_ORDER = (
    "deployment",
    "model_version",
    "run",
    "training_set",
    "feature_view_version",
    "dataset_version",
)
_LABEL = {
    "deployment": "deployments",
    "model_version": "model versions",
    "run": "runs",
    "training_set": "training sets",
    "feature_view_version": "feature view versions",
    "dataset_version": "dataset versions",
}


def lineage(
    ref: str = typer.Argument(
        ...,
        help="prediction:REQUEST_ID, DATASET@V, view:VIEW@V, training-set:NAME@V, run:ID, "
        "model:MODEL@V or deployment:NAME.",
    ),
    downstream: bool = typer.Option(
        False, "--downstream", help="What depends on it (default: what went into it)."
    ),
    json_: bool = JSON,
) -> None:
    """Trace lineage: upstream (default) down to each served value's dataset version, or
    --downstream: the training sets, models, deployments and predictions that depend on it.

    Example: gp lineage transactions@1 --downstream
    """
    service = workspace().lineage
    found = service.downstream(ref) if downstream else service.upstream(ref)
    if json_:
        render.print_json(found.as_dict())
        return
    _show(found.as_dict())


def _show(found: dict[str, Any]) -> None:
    root = found["root"]
    arrow = "depends on" if found["direction"] == "downstream" else "went into"
    typer.echo(f"{root['kind']} {root['ref']} (project {root['project']})")
    if root["kind"] == "prediction":
        typer.echo(
            f"  at {root['time']}, deployment {root['deployment']}, "
            f"{root['model']}@{root['model_version']} ({root['role']})"
        )
    nodes = [n for n in found["nodes"] if _key(n) != _key(root)]
    if nodes:
        typer.echo(f"what {arrow} it:")
    for kind in _ORDER:
        refs = [n["ref"] for n in nodes if n["kind"] == kind]
        if refs:
            typer.echo(f"  {_LABEL[kind]}: {', '.join(refs)}")
    features = found.get("features")
    if features:
        typer.echo("served feature values:")
        render.table(
            None,
            ["feature", "value", "status", "view", "dataset versions", "event time", "traced"],
            [
                [
                    f["feature"],
                    f["value"],
                    f["status"],
                    f["view_version"] or "",
                    ", ".join(f["dataset_versions"]) or "",
                    f["event_time"] or "",
                    f["resolved"],
                ]
                for f in features
            ],
        )
    counted = found.get("predictions")
    if counted is not None:
        typer.echo(
            f"predictions: {counted['scored']:,} scored by these models, "
            f"{counted['served_values']:,} served values from it"
        )
        for entry in counted["deployments"]:
            typer.echo(
                f"  {entry['deployment']}: {entry['scored']:,} scored, "
                f"{entry['served_values']:,} served values"
            )
        if counted.get("hidden_deployments"):
            typer.echo(
                f"  ({counted['hidden_deployments']} deployment(s) whose predictions you may "
                "not read are not counted)"
            )
    for hidden in found["hidden"]:
        typer.echo(f"hidden: {hidden['count']} {hidden['kind']}: {hidden['reason']}")
    if found["truncated"]:
        typer.echo("(cut: a node has more edges than one query reads; see --json)")


def _key(node: dict[str, Any]) -> str:
    return f"{node['kind']}:{node['ref']}"


@openlineage_app.command("export")
def export(
    to: str | None = typer.Option(
        None,
        "--to",
        help="A JSON Lines file (appended) or an http(s):// endpoint; default: $OPENLINEAGE_URL.",
    ),
    since: str | None = typer.Option(
        None, "--since", help="Runs started at or after this time (ISO-8601 with a zone)."
    ),
    limit: int = typer.Option(1000, "--limit", help="At most this many runs (1-10,000)."),
    namespace: str = typer.Option("goldenpath", "--namespace", help="The jobs' namespace."),
) -> None:
    """Export the training runs you may read as OpenLineage run events (START, then
    COMPLETE or FAIL): inputs the dataset versions and training sets read, outputs the model
    versions made.

    Example: gp openlineage export --to events.jsonl
    """
    import os

    target = to or os.environ.get("OPENLINEAGE_URL")
    if not target:
        raise InvalidInput(
            "name where to send the events", hint="--to events.jsonl, or --to http://host:5000"
        )
    moment = None
    if since is not None:
        try:
            moment = datetime.fromisoformat(since)
        except ValueError:
            raise InvalidInput(
                f"--since {since[:60]!r} is not an ISO-8601 time", hint="e.g. 2026-12-01T20:00:00Z"
            ) from None
    sent = workspace().lineage.export_openlineage(
        target, since=moment, limit=limit, namespace=namespace
    )
    typer.echo(f"sent {sent} OpenLineage event(s) to {target}")
