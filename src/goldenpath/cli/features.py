"""``gp features``: plan and apply feature definitions, browse the catalog, build training sets."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from goldenpath.cli import render
from goldenpath.cli.context import workspace
from goldenpath.cli.help import App
from goldenpath.core.errors import InvalidInput
from goldenpath.core.humanize import plural

if TYPE_CHECKING:
    from goldenpath.client.remote import RemoteFeatures
    from goldenpath.features.service import FeatureStore

app = App(
    help=(
        "Feature definitions (features.py), the catalog, point-in-time training sets and "
        "online values.\n\n"
        "Example: gp features plan --file features.py"
    ),
    no_args_is_help=True,
)


def _features() -> FeatureStore:
    """The local feature store: plan, apply and training-set run the project's code
    (features.py), which never runs inside the server."""
    ws = workspace()
    from goldenpath.workspace import Workspace

    if not isinstance(ws, Workspace):
        raise InvalidInput(
            "this command runs features.py, so it needs a local workspace, not GP_SERVER",
            hint="unset GP_SERVER and use --workspace (list, show and training-sets work "
            "over the server)",
        )
    return ws.features


def _catalog() -> FeatureStore | RemoteFeatures:
    """The catalog and stored training sets: local, or over the server at GP_SERVER."""
    return workspace().features


JSON = typer.Option(False, "--json", help="Print as JSON.")
FILE = typer.Option(Path("features.py"), "--file", "-f", help="The definitions file.")


def _print_plan(the_plan: object, json_: bool, verb: str) -> None:
    from goldenpath.features.registry import Plan

    assert isinstance(the_plan, Plan)
    if json_:
        render.print_json(the_plan.as_dict())
        return
    render.table(
        None,
        ["kind", "name", "status", "version", "details"],
        [
            (
                c.kind,
                c.name,
                c.status,
                "" if c.version is None else c.version,
                "; ".join(c.details),
            )
            for c in the_plan.changes
        ],
    )
    render.out.print(f"{plural(len(the_plan.pending), 'change')} {verb}")


@app.command()
def plan(file: Path = FILE, json_: bool = JSON) -> None:
    """Show what apply would change (new, changed, metadata, unchanged, removed).

    Example: gp features plan --file features.py
    """
    _print_plan(_features().plan(file), json_, "to apply")


@app.command()
def apply(file: Path = FILE, json_: bool = JSON) -> None:
    """Record new definition versions (by content hash).

    Example: gp features apply --file features.py
    """
    _print_plan(_features().apply(file), json_, "applied")


@app.command("list")
def list_(json_: bool = JSON) -> None:
    """The catalog: every entity, view and service.

    Example: gp features apply && gp features list
    """
    entries = _catalog().list()
    if json_:
        render.print_json([e.as_dict() for e in entries])
        return
    render.table(
        None,
        ["kind", "name", "version", "owner", "description"],
        [(e.kind, e.name, e.version, e.owner, e.description) for e in entries],
    )


@app.command()
def show(
    name: str = typer.Argument(..., help="A view, service or entity."), json_: bool = JSON
) -> None:
    """A definition: owner, types, source, freshness, versions and users.

    Example: gp features apply && gp features show user_tx
    """
    entry = _catalog().show(name)
    if json_:
        render.print_json(entry.as_dict())
        return
    content = entry.content
    pairs: list[tuple[str, object]] = [
        ("kind", entry.kind),
        ("name", f"{entry.name}@{entry.version}"),
        ("project", entry.project),
        ("owner", entry.owner),
        ("description", entry.description),
    ]
    if "source" in content:
        pairs.append(("source", content["source"]))
    if entry.freshness:
        pairs.append(
            (
                "freshness",
                f"newest event {entry.freshness['newest_event_time']} in "
                f"{entry.freshness['dataset_version']} (read {entry.freshness['read_at']})",
            )
        )
    pairs.append(("versions", ", ".join(str(v["version"]) for v in entry.versions or [])))
    pairs.append(
        (
            "users",
            "; ".join(f"{u['kind']} {u['id']} (v{u['version']})" for u in entry.users or [])
            or "none",
        )
    )
    render.fields(pairs)
    features = [
        *content.get("features", []),
        *content.get("aggregations", []),
        *content.get("outputs", []),
    ]
    if features and isinstance(features[0], dict):
        render.table(
            None,
            ["feature", "type", "definition"],
            [
                (
                    f["name"],
                    f["dtype"],
                    f.get("expression")
                    or f"{f['function']}({f.get('column') or '*'}) over {f['window_seconds']}s",
                )
                for f in features
            ],
        )


@app.command("training-set")
def training_set(
    entities: Path = typer.Option(..., "--entities", help="Entity rows (CSV or Parquet)."),
    service: str | None = typer.Option(None, "--service", help="A feature service."),
    feature: list[str] = typer.Option(
        [], "--feature", metavar="VIEW:FEATURE", help="A feature (repeatable)."
    ),
    name: str = typer.Option(..., "--name", help="Store as the next version of this name."),
    output: Path | None = typer.Option(
        None, "--output", help="Also write it to a Parquet or CSV file."
    ),
    timestamp_column: str = typer.Option("event_timestamp", "--timestamp-column"),
    file: Path = FILE,
    json_: bool = JSON,
) -> None:
    """Build a point-in-time training set and store it.

    Example: gp features apply && gp features training-set --entities entity-rows.csv
    --service fraud --name fraud-train
    """
    from goldenpath.cli.progress import StepProgress

    if output is not None and output.suffix not in (".parquet", ".csv"):
        raise InvalidInput(f"cannot write {output}: use a .parquet or .csv file")
    with StepProgress("training set", enabled=not json_).step("build"):
        built = _features().training_set(
            entities,
            feature or None,
            service=service,
            name=name,
            timestamp_column=timestamp_column,
            definitions=file,
        )
    if output is not None:
        if output.suffix == ".csv":
            import pyarrow.csv as pacsv

            pacsv.write_csv(built.table, output)
        else:
            import pyarrow.parquet as pq

            pq.write_table(built.table, output)
    info = built.info
    assert info is not None
    if json_:
        render.print_json(info.as_dict())
        return
    render.out.print(
        f"{info.ref}: {plural(info.row_count, 'row')}, fingerprint {info.fingerprint[:16]}"
    )


@app.command("training-sets")
def training_sets(json_: bool = JSON) -> None:
    """Stored training sets.

    Example: gp features training-sets
    """
    found = _catalog().training_sets()
    if json_:
        render.print_json([i.as_dict() for i in found])
        return
    render.table(
        None,
        ["training set", "rows", "fingerprint", "created"],
        [(i.ref, i.row_count, i.fingerprint[:16], render.when(i.created_at)) for i in found],
    )


# -- online ------------------------------------------------------------------------------------


def _when(value: str | None, option: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(
            f"{option} {value!r} is not an ISO-8601 time",
            hint=f"for example: {option} 2026-06-01T12:00:00+00:00",
        ) from None
    if parsed.tzinfo is None:
        raise InvalidInput(
            f"{option} {value!r} has no time zone",
            hint=f"add one, for example: {option} {value}+00:00",
        )
    return parsed


@app.command()
def materialize(
    views: list[str] = typer.Argument(None, help="Feature views (default: every applied one)."),
    full: bool = typer.Option(False, "--full", help="Rebuild from the current versions."),
    start: str | None = typer.Option(None, "--start", help="Backfill from this time (ISO)."),
    end: str | None = typer.Option(None, "--end", help="Backfill up to this time (excluded)."),
    json_: bool = JSON,
) -> None:
    """Write the applied views' latest values into the online store (incremental).

    Example: gp features apply && gp features materialize
    """
    from goldenpath.cli.progress import StepProgress

    begin, finish = _when(start, "--start"), _when(end, "--end")
    with StepProgress("materialize", enabled=not json_).step("views"):
        result = _catalog().materialize(views or None, full=full, start=begin, end=finish)
    if json_:
        render.print_json(result.as_dict())
        return
    render.table(
        None,
        ["view", "mode", "rows read", "entities", "dataset versions", "event times", "seconds"],
        [
            (
                v.view,
                v.mode,
                v.rows_read,
                v.entities_written,
                ", ".join(f"{d}@{n}" for d, ns in v.dataset_versions.items() for n in ns),
                ""
                if v.event_start is None or v.event_end is None
                else f"{v.event_start.isoformat()} .. {v.event_end.isoformat()}",
                f"{v.seconds:.2f}",
            )
            for v in result.views
        ],
    )
    for check in result.contract_checks:
        if check.passed:
            render.out.print(check.summary())
        else:
            render.warning(check.summary())


def _entity(text: str) -> dict[str, str]:
    """``k=v[,k=v]`` as text: the service reads each value as its definition's type."""
    row: dict[str, str] = {}
    for pair in text.split(","):
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(
                f"--entity {text!r}: expected key=value pairs separated by commas",
                hint="for example: --entity user_id=7 (or user_id=7,request_amount=12.5)",
            )
        row[key.strip()] = value.strip()
    return row


@app.command()
def online(
    entity: list[str] = typer.Option(
        ...,
        "--entity",
        metavar="KEY=VALUE",
        help="One entity row: key=value[,key=value] (repeatable).",
    ),
    features: list[str] = typer.Option(
        [], "--features", metavar="VIEW:FEATURE", help="A feature (repeatable)."
    ),
    service: str | None = typer.Option(None, "--service", help="A feature service."),
    at: str | None = typer.Option(None, "--at", help="The instant (ISO, with zone; default now)."),
    file: Path = typer.Option(
        Path("features.py"), "--file", "-f", help="The definitions of on-demand features."
    ),
    json_: bool = JSON,
) -> None:
    """Online values, with each one's status (present, missing, expired) and age.

    Each --entity value is read as its definition's type: a join key as its view's source
    column (user_id=007 stays "007" when user_id is text), a request field as its dtype.

    Example: gp features apply && gp features materialize &&
    gp features online --entity user_id=7 --entity user_id=42 --service fraud
    """
    rows = [_entity(e) for e in entity]
    when = _when(at, "--at")
    store = _catalog()
    from goldenpath.features.service import FeatureStore  # heavy: only when a command runs

    if isinstance(store, FeatureStore):
        result = store.online(
            rows, features or None, service=service, at=when, definitions=file, keys_as_text=True
        )
    else:
        result = store.online(rows, features or None, service=service, at=when, keys_as_text=True)
    if json_:
        render.print_json(result.as_dict())
        return
    keys = list(rows[0]) if rows else []
    table_rows = []
    for index, row in enumerate(result.entity_rows):
        who = ",".join(f"{k}={row.get(k)}" for k in keys)
        for name, values in result.values.items():
            age = result.ages[name][index]
            table_rows.append(
                (
                    who,
                    name,
                    "null" if values[index] is None else values[index],
                    result.statuses[name][index],
                    "" if age is None else _age(age),
                )
            )
    render.table(None, ["entity", "feature", "value", "status", "age"], table_rows)


def _age(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if abs(seconds) >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.3f}s"


@app.command()
def push(
    view: str = typer.Argument(..., help="The feature view."),
    file: Path = typer.Argument(..., help="Rows: a CSV, Parquet or JSON-lines file."),
    json_: bool = JSON,
) -> None:
    """Append rows to the view's dataset (contract-checked) and write them online at once.

    Example: gp features apply && gp features push user_tx next-batch.csv
    """
    from goldenpath.data.formats import read_table
    from goldenpath.features.online_inputs import text_columns

    store = _catalog()
    source = store.show(view).content.get("source")
    # The dataset's text columns stay text (a CSV's 007 is not guessed to be 7).
    pinned = (
        text_columns(workspace().datasets.get(source).schema) if isinstance(source, str) else {}
    )
    table, _ = read_table(file, column_types=pinned)
    result = store.push(view, table)
    if json_:
        render.print_json(result.as_dict())
        return
    render.out.print(
        f"{view}: {plural(result.rows, 'row')} pushed, offline as {result.dataset_version}, "
        f"online for {plural(result.online.entities_written, 'entity', 'entities')}"
    )
    if result.pending_rules:
        render.out.print(
            f"contract: row rules applied; table rules {', '.join(result.pending_rules)} "
            "pending: the next gp features materialize checks them over the pushed rows"
        )
    if result.not_applied_rules:
        render.out.print(
            f"contract: not applied to pushes: {', '.join(result.not_applied_rules)} "
            "(counts an ingested batch's rows)"
        )
