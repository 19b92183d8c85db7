"""``gp data``: versioned datasets with data contracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from goldenpath.cli import render
from goldenpath.cli.context import workspace
from goldenpath.cli.help import App
from goldenpath.cli.progress import StepProgress
from goldenpath.core.humanize import plural
from goldenpath.data import Mode

if TYPE_CHECKING:  # the data engines load only when a command needs them
    from goldenpath.data.versions import IngestResult

app = App(
    help=(
        "Versioned datasets, validated against data contracts.\n\n"
        "Example: gp data ingest transactions transactions.csv "
        "--contract transactions.contract.yaml"
    ),
    no_args_is_help=True,
)

JSON = typer.Option(False, "--json", help="Print as JSON.")
ALL_COLUMNS = typer.Option(
    False,
    "--all-columns",
    help="Also show goldenpath's own _gp_* columns, and every column even if the terminal is "
    "too narrow (then one line per value).",
)
MORE = "see them with --all-columns or --json"


def _format_option() -> Any:
    return typer.Option(None, "--format", help="csv, parquet or jsonl (default: from the suffix).")


@app.command()
def ingest(
    name: str = typer.Argument(..., help="Dataset name, e.g. transactions."),
    file: Path = typer.Argument(..., help="A CSV, Parquet or JSON Lines file."),
    mode: Mode = typer.Option("append", help="append (add rows) or overwrite (replace them)."),
    contract: Path | None = typer.Option(None, help="Contract YAML to attach and enforce."),
    allow_breaking: bool = typer.Option(
        False, "--allow-breaking", help="Accept removed or retyped columns."
    ),
    force: bool = typer.Option(
        False, "--force", help="Record a new version even if this batch is already in the dataset."
    ),
    fmt: str | None = _format_option(),
    json_: bool = JSON,
) -> None:
    """Ingest a file as a new version of a dataset.

    Ingesting a batch that is already in the dataset (the same rows, columns and contract)
    writes nothing and names the version that holds it; --force records it anyway.

    Example: gp data ingest transactions next-batch.csv
    """
    result = workspace().datasets.ingest(
        name,
        file,
        mode=mode,
        contract=contract,
        fmt=fmt,
        allow_breaking=allow_breaking,
        force=force,
        progress=None if json_ else StepProgress("ingest"),
    )
    if json_:
        render.print_json(result.as_dict())
        return
    print_ingested(result)


def print_ingested(result: IngestResult) -> None:
    """What an ingest made, in the same words for ``gp data ingest`` and ``gp quickstart``."""
    v = result.version
    if result.unchanged:
        render.out.print(
            f"{v.dataset}: unchanged; this batch is already in {v.ref}, nothing was written "
            "(record it again with --force)"
        )
        return
    if v.version == 1:  # recorded as append whatever the mode: there was nothing to replace
        made = f"{plural(v.batch_rows, 'row')} appended (a new dataset)"
    elif v.mode == "append":
        made = (
            f"{plural(v.batch_rows, 'row')} appended, {plural(v.row_count, 'row')} in the version"
        )
    else:
        made = f"{plural(v.batch_rows, 'row')} written (overwrite)"
    render.out.print(f"[green]{escape(v.ref)}[/green]: {made}", markup=True)
    if result.schema_changes.any and v.version > 1:
        render.out.print(f"schema: {result.schema_changes.describe()}")
    if result.report is not None:
        render.out.print(f"contract: {result.report.summary()}")
    if v.quarantined_rows:
        render.out.print(
            f"[yellow]{plural(v.quarantined_rows, 'row')} quarantined[/yellow]; "
            f"see them with: gp data quarantine {escape(v.dataset)}",
            markup=True,
        )
    for warning in result.warnings:
        render.err.print(f"[yellow]warning:[/yellow] {escape(warning)}", markup=True)


@app.command()
def validate(
    name: str = typer.Argument(..., help="Dataset whose contract to check against."),
    file: Path = typer.Argument(..., help="The file to check."),
    contract: Path | None = typer.Option(None, help="Check against this contract instead."),
    fmt: str | None = _format_option(),
    json_: bool = JSON,
) -> None:
    """Check a file against a contract without writing anything (a dry run).

    Exits 6 if a rule fails.

    Example: gp data validate transactions next-batch.csv
    """
    report = workspace().datasets.validate(name, file, contract=contract, fmt=fmt)
    if json_:
        render.print_json(report.as_dict())
    else:
        render.out.print(report.summary())
    if not report.passed:
        raise typer.Exit(6)


@app.command("list")
def list_datasets(json_: bool = JSON) -> None:
    """List datasets with their newest version.

    Example: gp data list --json
    """
    summaries = workspace().datasets.list()
    if json_:
        render.print_json([s.as_dict() for s in summaries])
        return
    render.table(
        None,
        ["name", "version", "rows", "versions", "contract", "updated"],
        [
            (
                s.name,
                s.latest_version,
                f"{s.rows:,}",
                s.versions,
                "yes" if s.has_contract else "",
                render.when(s.updated_at),
            )
            for s in summaries
        ],
        empty="no datasets yet: add one with: gp data ingest NAME FILE "
        "(a CSV, Parquet or JSON Lines file), or try: gp quickstart",
    )


@app.command()
def show(
    ref: str = typer.Argument(..., help="NAME (newest version) or NAME@VERSION."),
    json_: bool = JSON,
) -> None:
    """Show a dataset version: rows, schema, fingerprint, source, validation.

    Example: gp data show transactions@1
    """
    service = workspace().datasets
    v = service.get(ref)
    checked = service.validation(v.ref)
    if json_:
        render.print_json({**v.as_dict(), "validation": checked})
        return
    render.fields(
        [
            ("version", v.ref),
            (
                "rows",
                f"{v.row_count:,} ({v.mode} of {v.batch_rows:,}, "
                f"{v.quarantined_rows:,} quarantined)",
            ),
            ("fingerprint", v.fingerprint),
            ("source", _source(v.source)),
            ("created", f"{render.when(v.created_at)} by {v.created_by}"),
            ("contract", v.contract_sha256[:12] if v.contract_sha256 else "none"),
            ("validation", _validation(checked)),
        ]
    )
    render.out.print()
    render.table(
        None,
        ["column", "type", "nullable"],
        [(c["name"], c["type"], "yes" if c["nullable"] else "no") for c in v.schema],
    )


def _source(source: dict[str, Any]) -> str:
    """Where a version's rows came from: a file, or a feature push (which has no path)."""
    if source.get("kind") == "feature_push":
        return (
            f"pushed to feature view {source.get('view')} ({plural(source.get('rows', 0), 'row')})"
        )
    if "path" in source:
        return f"{source['path']} ({source.get('format')}, {source.get('bytes', 0):,} bytes)"
    return str(source.get("kind", "unknown"))


def _validation(checked: dict[str, Any] | None) -> str:
    """A version's validation in one line; a push's says where its table rules stand."""
    if checked is None:
        return "not checked"
    outcome = checked["outcome"]
    later = checked.get("checked")
    if checked.get("pending"):  # a push: row rules passed, its table rules wait
        pending = ", ".join(checked["pending"])
        return f"pending: row rules passed; table rules {pending} wait for gp features materialize"
    if later is not None:  # a push whose table rules a materialisation checked
        versions = ", ".join(f"@{n}" for n in later["versions"])
        failed = [f["rule"] for f in (later.get("report") or {}).get("failures", [])]
        verdict = f"failed {', '.join(failed)}" if failed else "passed"
        return (
            f"{outcome}: row rules passed; table rules over the rows pushed with {versions}: "
            f"{verdict}"
        )
    return f"{outcome}: {checked['rows_failed']:,} of {checked['rows_checked']:,} rows failed"


@app.command()
def history(name: str = typer.Argument(..., help="Dataset name."), json_: bool = JSON) -> None:
    """List every version of a dataset, oldest first.

    Example: gp data history transactions
    """
    versions = workspace().datasets.history(name)
    if json_:
        render.print_json([v.as_dict() for v in versions])
        return
    render.table(
        None,
        ["version", "mode", "rows", "quarantined", "schema changes", "created", "by"],
        [
            (
                v.version,
                v.mode,
                f"{v.row_count:,}",
                v.quarantined_rows,
                _changes(v.schema_changes, v.version),
                render.when(v.created_at),
                v.created_by,
            )
            for v in versions
        ],
    )


def _changes(changes: dict[str, Any], version: int) -> str:
    if version == 1:
        return "(created)"
    parts = [f"+{c}" for c in changes.get("added", [])]
    parts += [f"-{c}" for c in changes.get("removed", [])]
    parts += [f"~{c['column']}" for c in changes.get("retyped", [])]
    return " ".join(parts)


@app.command()
def head(
    ref: str = typer.Argument(..., help="NAME or NAME@VERSION."),
    rows: int = typer.Option(10, "--rows", "-n", min=1, max=10_000, help="How many rows."),
    all_columns: bool = ALL_COLUMNS,
    json_: bool = JSON,
) -> None:
    """Show the first rows of a dataset version, in file order.

    File order: the oldest batch in the version first, each batch's rows as in its file.

    Example: gp data head transactions@1 -n 5
    """
    data = workspace().datasets.head(ref, rows)
    if json_:
        render.print_json(data.to_pylist())
        return
    columns = render.visible_columns(data.column_names, all_columns)
    render.table(
        None,
        columns,
        [[r[c] for c in columns] for r in data.to_pylist()],
        more=MORE,
        vertical=all_columns,
    )


@app.command()
def profile(
    ref: str = typer.Argument(..., help="NAME or NAME@VERSION."), json_: bool = JSON
) -> None:
    """Show a version's column profile (nulls, distinct, min/max/mean/std, quantiles, top values).

    A distinct count marked ~ is an estimate (HyperLogLog, a few percent off); text and
    boolean columns with at most 10,000 distinct values are counted exactly.

    Example: gp data profile transactions@1
    """
    stats = workspace().datasets.profile(ref)
    if json_:
        render.print_json(stats)
        return
    render.out.print(plural(stats["rows"], "row"))
    rows = []
    for name, c in stats["columns"].items():
        q = c.get("quantiles") or {}
        top = ", ".join(f"{t['value']} ({t['count']})" for t in c.get("top_values", [])[:3])
        rows.append(
            (
                name,
                c["type"],
                f"{c['null_fraction']:.1%}",
                _distinct(c),
                _num(c.get("min")),
                _num(c.get("max")),
                _num(c.get("mean")),
                _num(c.get("std")),
                _num(q.get("p50")),
                top,
            )
        )
    render.table(
        None,
        [
            "column",
            "type",
            "nulls",
            "distinct",
            "min",
            "max",
            "mean",
            "std",
            "median",
            "top values",
        ],
        rows,
    )


def _distinct(column: dict[str, Any]) -> str:
    """A distinct count, marked ``~`` when estimated (profiles stored before the
    ``distinct_approx`` field were all estimates)."""
    count = column.get("distinct")
    if count is None:
        return ""
    return f"~{count:,}" if column.get("distinct_approx", True) else f"{count:,}"


def _num(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@app.command()
def quarantine(
    name: str = typer.Argument(..., help="Dataset name."),
    rows: int = typer.Option(20, "--rows", "-n", min=1, help="How many rows to show."),
    all_columns: bool = ALL_COLUMNS,
    json_: bool = JSON,
) -> None:
    """Show rows the contract held back, with the rules each broke (first column).

    Example: gp data quarantine transactions
    """
    data = workspace().datasets.quarantine(name)
    shown = data.slice(0, rows).to_pylist()
    if json_:
        render.print_json(shown)
        return
    render.out.print(f"{plural(data.num_rows, 'quarantined row')}")
    if shown:
        columns = render.visible_columns(data.column_names, all_columns)
        render.table(
            None,
            ["broke", *columns],
            [[", ".join(r["_gp_rules"]), *(_quarantined(r[c], c) for c in columns)] for r in shown],
            more=MORE,
            vertical=all_columns,
        )


def _quarantined(value: Any, column: str) -> Any:
    return json.dumps(value) if column == "_gp_rules" else value
