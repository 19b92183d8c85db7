"""``gp up``: the project folder carried to a served, checked endpoint (project/up.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from goldenpath.cli import render

if TYPE_CHECKING:
    from goldenpath.project.up import UpEvent, UpResult
    from goldenpath.training.pipeline import StepEvent

STEP_WIDTH = 12


def up(
    project_dir: Path = typer.Argument(
        Path("."), help="The project folder (with gp.yaml: data, features, training, deploy)."
    ),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Ingest, apply features, train, register, promote, materialise, deploy and check one
    prediction: the whole path, skipping what has not changed since the last gp up.

    A later gp up with a new model starts it as a canary (deploy.canary percent).

    Example: gp up && gp deployments stop fraud-api    # needs: a project whose data is recent
    """
    from goldenpath.cli.train import local_workspace

    ws = local_workspace()
    result = ws.up(
        project_dir,
        on_step=None if json_ else show_step,
        on_train_step=None if json_ else show_training_step,
    )
    if json_:
        render.print_json(result.as_dict())
        return
    print_up(result)


def _line(step: str, detail: str) -> None:
    render.out.print(f"{step:<{STEP_WIDTH}} {detail}", markup=False, highlight=False)


def show_step(event: UpEvent) -> None:
    _line(event.step, f"{event.detail} ({event.seconds:.1f}s)")


def show_training_step(event: StepEvent) -> None:
    _line(f"  {event.step.replace('_', ' ')}", event.detail)


def print_up(result: UpResult) -> None:
    """What gp up did and what to run next, in the same words for gp up and gp quickstart."""
    from goldenpath.cli.deploy import curl_line

    info = result.deployment
    if not result.changed:
        render.out.print(
            f"up to date in {result.seconds:.1f}s: nothing that feeds the model changed"
            + (f"; follow it with: gp deployments status {info.name}" if info else ""),
            markup=False,
        )
        return
    if info is None:  # pragma: no cover - a changed result always deployed
        return
    render.out.print(f"\n[bold]a live prediction[/bold]  {curl_line(info)}", markup=True)
    render.out.print(
        f"  {json.dumps(result.prediction, sort_keys=True)}  (request id {result.request_id})",
        markup=False,
        highlight=False,
    )
    if result.canary:
        render.out.print(
            f"{info.name}: {info.traffic}; follow it with: gp deployments status {info.name}; "
            f"then gp deployments promote {info.name} (or rollback)",
            markup=False,
        )
