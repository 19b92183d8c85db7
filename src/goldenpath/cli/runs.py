"""``gp runs``: search, show and compare training runs (local, or over the server at
GP_SERVER)."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import typer

from goldenpath.cli import render
from goldenpath.cli.context import workspace
from goldenpath.cli.help import App
from goldenpath.core.errors import InvalidInput

if TYPE_CHECKING:
    from goldenpath.training.runs import RunInfo

app = App(
    help=(
        "Training runs: search them by metrics and parameters, show one, compare two.\n\n"
        'Example: gp runs list --filter "metrics.roc_auc > 0.8" --order-by "metrics.roc_auc '
        'desc"'
    ),
    no_args_is_help=True,
)

JSON = typer.Option(False, "--json", help="Print as JSON.")
# Metrics shown in every listing when runs have them.
COMMON_METRICS = ("roc_auc", "pr_auc", "f1", "log_loss", "rmse", "mae", "r2", "accuracy")
COMMON_SHOWN = 3
_KEY_IN_TEXT = re.compile(r"\b(metrics?|params?|parameters?|tags?)\.(`[^`]+`|[A-Za-z0-9_\-./:]+)")
_KINDS = {"metric": "metrics", "param": "params", "parameter": "params", "tag": "tags"}


def _runs() -> Any:
    return workspace().runs


def _named(texts: list[str]) -> list[tuple[str, str]]:
    """The metrics.K / params.K / tags.K a filter or order-by names, in order, once each."""
    found: list[tuple[str, str]] = []
    for text in texts:
        for kind, key in _KEY_IN_TEXT.findall(text or ""):
            pair = (
                _KINDS.get(kind.rstrip("s"), kind if kind.endswith("s") else kind + "s"),
                key.strip("`"),
            )
            if pair not in found:
                found.append(pair)
    return found


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.2f}s"
    if seconds < 3600:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def format_metric(value: float | None) -> str:
    from goldenpath.training.runs import format_metric

    return format_metric(value)


def _cell(run: RunInfo, kind: str, key: str) -> str:
    if kind == "metrics":
        return format_metric(run.metrics[key]) if key in run.metrics else ""
    return (run.params if kind == "params" else run.tags).get(key, "")


@app.command("list")
def list_(
    filter_: str | None = typer.Option(
        None, "--filter", "-f", help="e.g. \"metrics.roc_auc > 0.8 and params.model = 'lgbm'\"."
    ),
    order_by: list[str] = typer.Option(
        [], "--order-by", "-o", metavar="ORDER", help="e.g. 'metrics.roc_auc desc' (repeatable)."
    ),
    limit: int = typer.Option(100, "--limit", "-n", help="At most this many runs."),
    experiment: str | None = typer.Option(None, "--experiment", "-e", help="Only this one."),
    status: str | None = typer.Option(None, "--status", help="running, finished or failed."),
    quiet: bool = typer.Option(
        False, "--quiet", "-q", help="Only the full run ids, one per line (for scripts)."
    ),
    json_: bool = JSON,
) -> None:
    """The project's runs, newest first: filter and order by metrics, params, tags.

    A clause is metrics.KEY, params.KEY, tags.KEY, status, experiment, name or source, then
    one of = != < <= > >=, then a number or a 'quoted string'; clauses join with and.

    Example: gp runs list --filter "metrics.roc_auc > 0.8" --order-by "metrics.roc_auc desc"
    """
    found = _runs().list(
        filter_, order_by=order_by or None, limit=limit, experiment=experiment, status=status
    )
    if json_:
        render.print_json([r.as_dict() for r in found])
        return
    if quiet:
        for r in found:
            render.out.print(r.id)
        return
    named = _named([filter_ or "", *order_by])
    common = [
        ("metrics", m)
        for m in COMMON_METRICS
        if ("metrics", m) not in named and any(m in r.metrics for r in found)
    ][:COMMON_SHOWN]
    extra = [*named, *common]
    render.table(
        None,
        ["id", "name", "status", "started", "duration", *(f"{k}.{key}" for k, key in extra)],
        [
            (
                r.short_id or r.id[:8],
                r.name,
                r.status,
                r.started_at.strftime("%Y-%m-%d %H:%M"),
                _duration(r.duration_s),
                *(_cell(r, kind, key) for kind, key in extra),
            )
            for r in found
        ],
        empty=(
            "no runs match"
            if filter_ or experiment or status
            else "no runs yet: log one from Python with "
            "`with ws.runs.start() as run: run.log_metric(...)` (docs/runs.md), or run gp train"
        ),
    )


@app.command()
def show(
    run: str = typer.Argument(..., help="A run id, or its first 6+ characters."),
    traceback: bool = typer.Option(False, "--traceback", help="The full traceback of a failure."),
    json_: bool = JSON,
) -> None:
    """Everything about a run: params, metrics, tags, environment, inputs, artifacts; for a
    failed run the step and why (--traceback for all of it).

    Example: gp runs show 01JD8X  # needs: a run id from gp runs list
    """
    info = _runs().get(run)
    if json_:
        render.print_json(info.as_dict())
        return
    env = info.environment or {}
    summary = ", ".join(f"{k} {env[k]}" for k in ("python", "platform", "goldenpath") if env.get(k))
    git = env.get("git")
    if isinstance(git, dict) and git.get("commit"):
        summary += f", git {str(git['commit'])[:12]}" + (" (dirty)" if git.get("dirty") else "")
    if isinstance(env.get("packages"), dict):
        summary += f", {len(env['packages'])} packages"
    pairs: list[tuple[str, object]] = [
        ("id", info.id),
        ("name", info.name),
        ("project", info.project),
        ("experiment", info.experiment),
        ("status", info.status),
        ("source", info.source),
        ("started", render.when(info.started_at)),
        ("ended", render.when(info.ended_at) if info.ended_at else ""),
        ("duration", _duration(info.duration_s)),
        ("cpu", _duration(info.cpu_s)),
        ("seed", "" if info.seed is None else info.seed),
        ("created by", info.created_by),
        ("environment", summary or "not recorded"),
    ]
    if info.rerun_of:
        pairs.append(("rerun of", info.rerun_of))
    if info.error:
        first = (info.error.get("message") or "").splitlines()
        pairs.append(("failed in", f"{info.error['step']}: {first[0] if first else ''}"))
    render.fields(pairs)
    _pairs_table("params", info.params)
    _pairs_table("metrics", {k: format_metric(v) for k, v in info.metrics.items()})
    _pairs_table("tags", info.tags)
    if info.inputs:
        render.table(
            "inputs", ["kind", "ref", "id"], [(i["kind"], i["ref"], i["id"]) for i in info.inputs]
        )
    if info.artifacts:
        render.table(
            "artifacts",
            ["name", "size", "sha256"],
            [(a["name"], a["size"], a["digest"][:16]) for a in info.artifacts],
        )
    if info.error and info.error.get("traceback"):
        if traceback:
            render.out.print(info.error["traceback"].rstrip())
        else:
            render.out.print("(see the traceback with --traceback)")


def _pairs_table(title: str, values: dict[str, Any]) -> None:
    if values:
        render.table(title, ["key", "value"], sorted(values.items()))


@app.command()
def compare(
    a: str = typer.Argument(..., help="A run id (or 6+ characters of it)."),
    b: str = typer.Argument(..., help="Another run."),
    diff_only: bool = typer.Option(False, "--diff-only", help="Only the rows that differ."),
    json_: bool = JSON,
) -> None:
    """Two runs' params and metrics side by side; differing rows are marked with *.

    Example: gp runs compare 01JD8X 01JD8Y  # needs: two run ids from gp runs list
    """
    result = _runs().compare(a, b)
    if json_:
        render.print_json(result.as_dict())
        return
    rows: list[tuple[str, ...]] = []
    sections = (
        ("", result.attributes, False),
        ("params.", result.params, False),
        ("metrics.", result.metrics, True),
    )
    for prefix, entries, metric in sections:
        for row in entries:
            if diff_only and not row["differs"]:
                continue
            left = _side(row["a"], metric, row["key"], result.a)
            right = _side(row["b"], metric, row["key"], result.b)
            rows.append(("*" if row["differs"] else "", f"{prefix}{row['key']}", left, right))
    render.table(
        None,
        ["", "key", result.a.short_id or result.a.id[:8], result.b.short_id or result.b.id[:8]],
        rows,
        empty="the two runs have the same params and metrics",
    )


def _side(value: Any, metric: bool, key: str, run: RunInfo) -> str:
    if metric:
        return format_metric(value) if key in run.metrics else ""
    if key == "duration_s" or key == "cpu_s":
        return _duration(value)
    return "" if value is None else str(value)


@app.command()
def rerun(
    run: str = typer.Argument(..., help="A run made by gp train (its id or a unique prefix)."),
    json_: bool = JSON,
) -> None:
    """Train again with a gp train run's training-set version, configuration, parameters,
    seed and train.py source: the new model's fingerprint equals the original's.

    Example: gp runs rerun 01KB3XYZ  # needs: a run made by gp train
    """
    from goldenpath.cli.train import local_workspace, run_pipeline

    ws = local_workspace()
    run_pipeline(lambda show: ws.training.rerun(run, on_step=show), json_)


@app.command()
def logs(
    run: str = typer.Argument(..., help="A run made by gp train (its id or a unique prefix)."),
    follow: bool = typer.Option(
        False, "--follow", "-f", help="Keep printing as the training writes, until it ends."
    ),
) -> None:
    """The output of a gp train run's training process (its train.log): what train.py printed
    and any traceback. While the run is running, --follow prints each new line.

    Example: gp runs logs 01KB3XYZ  # needs: a run made by gp train
    """
    runs = _runs()
    if not hasattr(runs, "train_log"):
        raise InvalidInput(
            "a run's train.log is read from a local workspace, not over GP_SERVER (yet)",
            hint="unset GP_SERVER and use --workspace",
        )
    if not follow:
        typer.echo(runs.train_log(run), nl=False)
        return
    for part in runs.follow_train_log(run):
        typer.echo(part, nl=False)
