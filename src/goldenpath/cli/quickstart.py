"""``gp quickstart``: the golden path on the embedded defaults, with generated sample data."""

from __future__ import annotations

import shutil
import sys
import time
from importlib import resources
from pathlib import Path

import typer
from rich.markup import escape

from goldenpath.cli import render
from goldenpath.cli.context import state
from goldenpath.cli.progress import StepProgress
from goldenpath.core.humanize import plural


def quickstart(
    workspace_dir: Path | None = typer.Option(
        None, "--workspace", "-w", help="Workspace to use (created if missing)."
    ),
    rows: int = typer.Option(5_000, min=100, max=5_000_000, help="Sample rows to generate."),
) -> None:
    """Run the golden path end to end on generated data, then say what to try next.

    Example: gp quickstart --workspace ./gp-home
    """
    from pyarrow import csv

    from goldenpath.templates.sample_data import transactions
    from goldenpath.workspace import init_workspace

    started = time.perf_counter()
    ws, _ = init_workspace(workspace_dir if workspace_dir is not None else state.workspace)
    render.out.print(f"[bold]workspace[/bold] {escape(str(ws.stack.home))}", markup=True)
    folder = ws.stack.home / "quickstart"
    folder.mkdir(exist_ok=True)
    data_file = folder / "transactions.csv"
    contract_file = folder / "transactions.contract.yaml"
    csv.write_csv(transactions(rows), data_file)
    template = resources.files("goldenpath.templates") / "quickstart/transactions.contract.yaml"
    contract_file.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
    render.out.print(f"generated {rows:,} card transactions: {data_file}")

    result = ws.datasets.ingest(
        "transactions",
        data_file,
        mode="overwrite",
        contract=contract_file,
        allow_breaking=True,
        progress=StepProgress("ingest"),
    )
    v = result.version
    if result.unchanged:  # a rerun: the same generated rows are already the newest version
        render.out.print(f"{v.ref}: unchanged, these rows are already in it")
    render.out.print(
        f"[green]{v.ref}[/green]: {plural(v.row_count, 'row')} accepted, "
        f"{v.quarantined_rows:,} quarantined by the contract "
        f"({time.perf_counter() - started:.1f}s)",
        markup=True,
    )
    render.out.print("\n[bold]try next[/bold]", markup=True)
    gp = shutil.which("gp")
    if gp is None or Path(gp).resolve() != Path(sys.argv[0]).resolve():
        # make quickstart runs .venv/bin/gp; the user's shell may not have it on PATH yet.
        render.out.print(
            f"  (first put gp on your PATH: source {Path(sys.argv[0]).parent}/activate)"
        )
    for command in (
        f"gp data show {v.ref}",
        "gp data quarantine transactions        # the rows the contract held back, and why",
        f"gp data profile {v.ref}",
        f"gp data validate transactions {data_file}",
        "gp audit list",
        "gp audit verify                        # the hash-chained trail, checked end to end",
        "gp server                              # the same over HTTP (OpenAPI at /docs)",
    ):
        render.out.print(f"  {command}")
