"""``gp train`` (and ``gp runs rerun``): the project's training pipeline, one line per step."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from goldenpath.cli import render
from goldenpath.cli.context import workspace
from goldenpath.core.errors import InvalidInput

if TYPE_CHECKING:
    from goldenpath.training.pipeline import StepEvent, TrainResult
    from goldenpath.workspace import Workspace

STEP_WIDTH = 13


def local_workspace() -> Workspace:
    """Training runs the project's code (train.py, features.py), which never runs inside the
    server: it needs a local workspace."""
    ws = workspace()
    from goldenpath.workspace import Workspace

    if not isinstance(ws, Workspace):
        raise InvalidInput(
            "training runs the project's train.py, so it needs a local workspace, not GP_SERVER",
            hint="unset GP_SERVER and use --workspace (runs and models can be read over the "
            "server)",
        )
    return ws


def run_pipeline(
    call: Callable[[Callable[[StepEvent], None]], TrainResult],
    json_: bool,
    *,
    next_line: bool = True,
) -> TrainResult:
    """Run ``call`` (gp train or a rerun) printing each step as it ends, then the result; on a
    terminal (and not under --json) a live line on stderr shows the step running now.
    ``next_line``: end with what to run next (gp quickstart goes on by itself)."""
    from goldenpath.training.pipeline import STEPS

    live = None
    if not json_ and render.err.is_terminal:
        live = render.err.status(f"training: {STEPS[0].replace('_', ' ')}...")

    def show(event: StepEvent) -> None:
        if json_:
            return
        render.out.print(
            f"{event.step.replace('_', ' '):<{STEP_WIDTH}} {event.detail}",
            markup=False,
            highlight=False,
        )
        if live is not None and event.step in STEPS[:-1]:
            following = STEPS[STEPS.index(event.step) + 1]
            live.update(f"training: {following.replace('_', ' ')}...")

    if live is None:
        result = call(show)
    else:
        with live:
            result = call(show)
    if json_:
        render.print_json(result.as_dict())
        return result
    render.out.print(
        f"run {result.run_id} finished in {result.seconds:.1f}s: {result.model} registered"
        + (
            f", same fingerprint as {result.same_fingerprint_as} (the same model)"
            if result.same_fingerprint_as
            else ""
        ),
        markup=False,
        highlight=False,
    )
    if next_line:
        render.out.print(
            f"next: gp models show {result.model}    gp models promote {result.model}",
            markup=False,
            highlight=False,
        )
    return result


def train(
    project_dir: Path = typer.Argument(
        Path("."), help="The project directory (with gp.yaml and train.py)."
    ),
    param: list[str] = typer.Option(
        [],
        "--param",
        metavar="KEY=VALUE",
        help="Override a training parameter: key=value (repeatable).",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Build the training set again even if nothing changed."
    ),
    json_: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Train the project's model: contract check, training set, split, train, evaluate,
    register. The run is recorded (gp runs show), the model version registered (gp models show).

    Example: gp features apply && gp train --param C=0.5
    """
    ws = local_workspace()
    run_pipeline(
        lambda show: ws.training.train(project_dir, params=param, no_cache=no_cache, on_step=show),
        json_,
    )
