"""``gp quickstart``: the golden path on the embedded defaults, with generated sample data."""

from __future__ import annotations

import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from shlex import quote
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from goldenpath.cli import render
from goldenpath.cli.context import state
from goldenpath.cli.data import print_ingested
from goldenpath.cli.progress import StepProgress
from goldenpath.core.errors import GoldenpathError

if TYPE_CHECKING:
    from goldenpath.workspace import Workspace

CREATED_MARKER = "created-the-workspace"  # in <workspace>/quickstart/
NEXT_ROWS = 500
ENTITY_ROWS = [(user, month) for user in (7, 42, 101, 250) for month in (3, 6, 9)]
COMMAND_WIDTH = 40
DEPLOYMENT = "fraud-api"
# Without --data-only the sample ends now: 28 days of history, then the next batch's day.
FRESH_SPAN = timedelta(days=28)
NEXT_SPAN = timedelta(days=1)


def quickstart(
    workspace_dir: Path | None = typer.Option(
        None, "--workspace", "-w", metavar="DIR", help="Workspace to use (created if missing)."
    ),
    rows: int = typer.Option(5_000, min=100, max=5_000_000, help="Sample rows to generate."),
    data_only: bool = typer.Option(
        False,
        "--data-only",
        help="Only generate and ingest the sample data, with fixed times (2026-01-01 onwards): "
        "no training, no endpoint.",
    ),
) -> None:
    """Run the golden path end to end on generated data: ingest, features, train, promote,
    materialise, deploy, one live prediction; then say what to try next.

    A workspace quickstart created is replaced on the next run (its endpoint stopped first).

    Example: gp quickstart --workspace ./gp-home && gp -w ./gp-home deployments stop fraud-api
    """
    from pyarrow import csv

    from goldenpath.templates.sample_data import SPAN, START, transactions
    from goldenpath.workspace import init_workspace

    started = time.perf_counter()
    chosen = workspace_dir if workspace_dir is not None else state.workspace
    replaced = _replace_own(chosen)
    ws, created = init_workspace(chosen)
    home = ws.stack.home
    folder = home / "quickstart"
    folder.mkdir(exist_ok=True)
    marker = folder / CREATED_MARKER
    if created:
        marker.write_text("gp quickstart created this workspace\n", encoding="utf-8")
    render.out.print(
        f"[bold]workspace[/bold] {escape(str(home))}"
        + (" (replaced)" if replaced and created else " (new)" if created else ""),
        markup=True,
    )
    # Fixed times for --data-only (the examples and tests read them); otherwise the rows end
    # now, so every feature is within its TTL (30 days) when the endpoint serves it.
    if data_only:
        first_start, first_span, next_start, next_span = START, SPAN, START + SPAN, SPAN
    else:
        now = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
        first_start, first_span = now - FRESH_SPAN - NEXT_SPAN, FRESH_SPAN
        next_start, next_span = now - NEXT_SPAN, NEXT_SPAN
    data_file = folder / "transactions.csv"
    next_file = folder / "next-batch.csv"
    contract_file = folder / "transactions.contract.yaml"
    csv.write_csv(transactions(rows, start=first_start, span=first_span), data_file)
    # The batch a new user would ingest next: new ids, later times, no contract violations.
    csv.write_csv(
        transactions(
            NEXT_ROWS, seed=8, bad_rows=0, first_id=rows, start=next_start, span=next_span
        ),
        next_file,
    )
    template = resources.files("goldenpath.templates") / "quickstart/transactions.contract.yaml"
    contract_file.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    # Feature definitions over the transactions, and entity rows to build a training set for.
    # ... and a project around them: what to train (gp.yaml) and how (train.py).
    for name in ("features.py", "gp.yaml", "train.py"):
        template = resources.files("goldenpath.templates") / f"quickstart/{name}"
        (folder / name).write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "entity-rows.csv").write_text(
        "user_id,event_timestamp\n"
        + "".join(f"{user},2026-{month:02d}-15T12:00:00+00:00\n" for user, month in ENTITY_ROWS),
        encoding="utf-8",
    )
    render.out.print(f"generated {rows:,} card transactions: {data_file}")

    if data_only:
        result = ws.datasets.ingest(
            "transactions",
            data_file,
            mode="overwrite",  # a rerun replaces the rows (the first is recorded as append)
            contract=contract_file,
            allow_breaking=True,
            progress=StepProgress("ingest"),
        )
        print_ingested(result)
        served = None
    else:
        result, served = _up(ws, folder)
    render.out.print(f"\nthe golden path took {time.perf_counter() - started:.1f}s")
    v = result.version
    render.out.print("\n[bold]try next[/bold]", markup=True)
    gp = shutil.which("gp")
    if gp is None or Path(gp).resolve() != Path(sys.argv[0]).resolve():
        # make quickstart runs .venv/bin/gp; the user's shell may not have it on PATH yet.
        render.out.print(
            f"  (first put gp on your PATH: source {Path(sys.argv[0]).parent}/activate)"
        )
    # A workspace named on the command line is not where a plain gp looks (GP_HOME or the
    # default): then every suggestion names it, so that each works as printed.
    explicit = workspace_dir is not None or state.workspace is not None
    gp_cmd = f"gp -w {quote(str(home))}" if explicit else "gp"
    data = [
        ("data head transactions", "the first rows"),
        (f"data profile {v.ref}", "column statistics"),
        ("data quarantine transactions", "the rows the contract held back, and why"),
        (f"data validate transactions {quote(str(next_file))}", "the next batch: a dry run"),
        (f"data ingest transactions {quote(str(next_file))}", "... and for real"),
        ("data history transactions", "every version, with its mode and schema changes"),
    ]
    features_file = quote(str(folder / "features.py"))
    if served is None:
        path = [
            (f"features apply --file {features_file}", "features defined once"),
            (
                f"features training-set --file {features_file} "
                f"--entities {quote(str(folder / 'entity-rows.csv'))} --service fraud "
                "--name fraud-train",
                "point-in-time correct training rows",
            ),
            (f"train {quote(str(folder))}", "train, evaluate and register the fraud model"),
            ("runs list", "the run: parameters, metrics, environment"),
            ("models show fraud@1", "the version: signature, metrics, card, lineage"),
            ("models promote fraud@1", "champion, through the gates in gp.yaml"),
            ("features materialize", "the newest values into the online store"),
            (
                "features online --entity user_id=42 --service fraud "
                f"--at {START + SPAN:%Y-%m-%dT%H:%M:%SZ}",
                "the same values, served (as of the sample's last day)",
            ),
        ]
    else:
        info, request_id = served
        path = [
            (f"predictions show {request_id}", "that prediction: features, their sources, output"),
            (f"deployments status {info.name}", "the endpoint: traffic, health, identity"),
            (f"predictions tail {info.name}", "the newest predictions"),
            ("runs list", "the run: parameters, metrics, environment"),
            (f"models show {info.traffic}", "the version: signature, metrics, card, lineage"),
            ("features online --entity user_id=42 --service fraud", "online values, now"),
        ]
    for command, why in (
        *path,
        *data,
        ("audit verify", "the hash-chained trail, checked end to end"),
        ("audit list", "who did what, when"),
        ("server --help", "all of this over HTTP (OpenAPI at /docs)"),
    ):
        render.out.print(f"  {gp_cmd} {command}".ljust(COMMAND_WIDTH + 2) + f"  # {why}")
    render.out.print("\n[bold]done?[/bold]", markup=True)
    if served is not None:
        render.out.print(
            f"  {gp_cmd} deployments stop {served[0].name}".ljust(COMMAND_WIDTH + 2)
            + "  # stops the endpoint (the next gp quickstart does too)"
        )
    if created or marker.exists():
        render.out.print(
            f"  rm -rf {quote(str(home))}".ljust(COMMAND_WIDTH + 2)
            + "  # removes this workspace, which quickstart created, and everything in it"
        )
    else:
        render.out.print(
            f"  rm -rf {quote(str(folder))}".ljust(COMMAND_WIDTH + 2)
            + "  # removes the sample files; this workspace existed before quickstart, so "
            "it and the transactions dataset stay"
        )


def _up(ws: Workspace, folder: Path) -> tuple[Any, tuple[Any, str]]:
    """The rest of the path is gp up on the project quickstart wrote (ws.up: ingest, features,
    train, promote, materialise, deploy, one prediction). Returns the ingest and the
    deployment with the prediction's request id."""
    from goldenpath.cli.up import print_up, show_step, show_training_step

    def show(event: Any) -> None:
        if event.ingested is not None:
            print_ingested(event.ingested)
        else:
            show_step(event)

    done = ws.up(
        folder,
        on_step=show,
        on_train_step=show_training_step,
        ingest_options={"allow_breaking": True, "progress": StepProgress("ingest")},
    )
    print_up(done)
    if done.deployment is None or done.request_id is None:
        raise GoldenpathError("gp up ended without a deployment", hint="run it again with --debug")
    return done.ingested[0], (done.deployment, done.request_id)


def _replace_own(chosen: Path | str | None) -> bool:
    """Remove the workspace at ``chosen`` (or GP_HOME, or the default) if gp quickstart made
    it (its marker is there) and it keeps everything in its folder (SQLite metadata, local
    storage), its endpoints stopped first; True if one was removed. Any other workspace is
    used as it is."""
    from goldenpath.core.config import CONFIG_FILE, resolve_home
    from goldenpath.workspace import open_workspace

    home, _ = resolve_home(chosen)
    if not (home / "quickstart" / CREATED_MARKER).is_file() or not (home / CONFIG_FILE).is_file():
        return False
    with open_workspace(home) as old:
        metadata = str(old.stack.metadata)
        if not metadata.startswith("sqlite") or str(home) not in metadata:
            return False
        for deployment in old.deployments.list():
            if deployment.status != "stopped":
                old.deployments.stop(deployment.name)
    # Everything goes but the sample folder itself, emptied: a shell whose working directory
    # it is (the "try next" commands run there) keeps a directory that exists.
    for entry in home.iterdir():
        if entry.name == "quickstart" and entry.is_dir() and not entry.is_symlink():
            for inner in entry.iterdir():
                _remove(inner)
        else:
            _remove(entry)
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()
