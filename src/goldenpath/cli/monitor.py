"""``gp monitor NAME``: judge a window of a deployment's traffic against its reference profile."""

from __future__ import annotations

from typing import Any

import typer

from goldenpath.cli import render
from goldenpath.cli.deploy import JSON, _local


def _value(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}"


def monitor(
    name: str = typer.Argument(..., help="The deployment."),
    window: str = typer.Option(
        "1h", "--window", "-w", help="How far back to read: 30s, 15m, 1h (at most 24h)."
    ),
    json_: bool = JSON,
) -> None:
    """Drift and data quality of a deployment's traffic over the last window, per version:
    PSI, Wasserstein and KS for numbers and the score, Jensen-Shannon and unseen categories
    for text, missing, expired and out-of-contract rates, errors and latency. The figures are
    recorded (the supervisor does the same every monitor.interval).

    Example: gp monitor fraud-api --window 1h  # needs: a running deployment
    """
    report = _local().monitoring.run(name, window=window)
    if json_:
        render.print_json(report.as_dict())
        return
    capped = " (capped: limits.monitor_window_rows_max)" if report.capped else ""
    typer.echo(
        f"{report.deployment}: {report.rows} predictions from "
        f"{report.window_start:%Y-%m-%d %H:%M:%S} to {report.window_end:%H:%M:%S} UTC{capped}: "
        f"{report.verdict}"
    )
    for version in report.versions:
        typer.echo("")
        typer.echo(
            f"v{version.model_version} ({version.role or 'not serving'}): "
            f"{version.samples} samples: {version.verdict}"
        )
        rows: list[tuple[Any, ...]] = [
            (f.subject, f.metric, _value(f.value), f.verdict)
            for f in version.figures
            if f.kind != "quality"
        ]
        render.table(None, ["feature", "metric", "value", "verdict"], rows)
        quality = [(f.metric, _value(f.value)) for f in version.figures if f.kind == "quality"]
        render.table(None, ["quality", "value"], quality)
