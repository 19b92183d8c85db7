"""``gp quickstart``: the golden path on the embedded defaults, with generated sample data."""

from __future__ import annotations

import shutil
import sys
import time
from importlib import resources
from pathlib import Path
from shlex import quote

import typer
from rich.markup import escape

from goldenpath.cli import render
from goldenpath.cli.context import state
from goldenpath.cli.data import print_ingested
from goldenpath.cli.progress import StepProgress

CREATED_MARKER = "created-the-workspace"  # in <workspace>/quickstart/
NEXT_ROWS = 500
ENTITY_ROWS = [(user, month) for user in (7, 42, 101, 250) for month in (3, 6, 9)]
COMMAND_WIDTH = 40


def quickstart(
    workspace_dir: Path | None = typer.Option(
        None, "--workspace", "-w", metavar="DIR", help="Workspace to use (created if missing)."
    ),
    rows: int = typer.Option(5_000, min=100, max=5_000_000, help="Sample rows to generate."),
) -> None:
    """Run the golden path end to end on generated data, then say what to try next.

    Example: gp quickstart --workspace ./gp-home
    """
    from pyarrow import csv

    from goldenpath.templates.sample_data import SPAN, START, transactions
    from goldenpath.workspace import init_workspace

    started = time.perf_counter()
    ws, created = init_workspace(workspace_dir if workspace_dir is not None else state.workspace)
    home = ws.stack.home
    folder = home / "quickstart"
    folder.mkdir(exist_ok=True)
    marker = folder / CREATED_MARKER
    if created:
        marker.write_text("gp quickstart created this workspace\n", encoding="utf-8")
    render.out.print(
        f"[bold]workspace[/bold] {escape(str(home))}" + (" (new)" if created else ""),
        markup=True,
    )
    data_file = folder / "transactions.csv"
    next_file = folder / "next-batch.csv"
    contract_file = folder / "transactions.contract.yaml"
    csv.write_csv(transactions(rows), data_file)
    # The batch a new user would ingest next: new ids, later times, no contract violations.
    csv.write_csv(
        transactions(NEXT_ROWS, seed=8, bad_rows=0, first_id=rows, start=START + SPAN),
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

    result = ws.datasets.ingest(
        "transactions",
        data_file,
        mode="overwrite",  # a rerun replaces the rows (the first version is recorded as append)
        contract=contract_file,
        allow_breaking=True,
        progress=StepProgress("ingest"),
    )
    print_ingested(result)
    render.out.print(f"the golden path took {time.perf_counter() - started:.1f}s")
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
    for command, why in (
        ("data head transactions", "the first rows"),
        (f"data profile {v.ref}", "column statistics"),
        ("data quarantine transactions", "the rows the contract held back, and why"),
        (f"data validate transactions {quote(str(next_file))}", "the next batch: a dry run"),
        (f"data ingest transactions {quote(str(next_file))}", "... and for real"),
        ("data history transactions", "every version, with its mode and schema changes"),
        (f"features apply --file {quote(str(folder / 'features.py'))}", "features defined once"),
        (
            f"features training-set --file {quote(str(folder / 'features.py'))} "
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
        ("audit verify", "the hash-chained trail, checked end to end"),
        ("audit list", "who did what, when"),
        ("server --help", "all of this over HTTP (OpenAPI at /docs)"),
    ):
        render.out.print(f"  {gp_cmd} {command}".ljust(COMMAND_WIDTH + 2) + f"  # {why}")
    render.out.print("\n[bold]done?[/bold]", markup=True)
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
