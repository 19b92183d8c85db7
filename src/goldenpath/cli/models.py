"""``gp models``: the model registry: list, show, alias, promote (gates), archive, card."""

from __future__ import annotations

from typing import Any

import typer

from goldenpath.cli import render
from goldenpath.cli.context import workspace
from goldenpath.cli.help import App
from goldenpath.core.errors import InvalidInput

app = App(
    help=(
        "Registered models: versions, aliases, promotion through the gates, model cards.\n\n"
        "Example: gp models list"
    ),
    no_args_is_help=True,
)

JSON = typer.Option(False, "--json", help="Print as JSON.")


def _models() -> Any:
    return workspace().models


@app.command("list")
def list_(json_: bool = JSON) -> None:
    """Every model you may read: newest version and aliases.

    Example: gp models list
    """
    found = _models().list()
    if json_:
        render.print_json([m.as_dict() for m in found])
        return
    render.table(
        None,
        ["name", "project", "latest", "versions", "aliases", "description"],
        [
            (
                m.name,
                m.project,
                m.latest_version,
                m.versions,
                ", ".join(f"{a}={v}" for a, v in m.aliases.items()),
                m.description,
            )
            for m in found
        ],
        empty="no models yet: gp train registers one",
    )


@app.command()
def show(
    ref: str = typer.Argument(..., help="fraud, fraud@3 or fraud@champion."), json_: bool = JSON
) -> None:
    """A model version: metrics, signature, fingerprint, lineage, parity.

    Example: gp features apply && gp train && gp models show fraud@1
    """
    version = _models().get(ref)
    if json_:
        render.print_json(version.as_dict())
        return
    metrics = _metrics_shown(version.metrics, version.lineage.get("threshold"))
    inputs = ", ".join(f"{i['name']}:{i['type']}" for i in version.signature["inputs"])
    render.fields(
        [
            ("model", version.ref),
            ("project", version.project),
            ("status", version.status),
            ("aliases", ", ".join(version.aliases) or "none"),
            ("estimator", f"{version.estimator} ({version.flavor}, {version.task})"),
            ("metrics", metrics or "none"),
            ("inputs", inputs),
            ("outputs", ", ".join(o["name"] for o in version.signature["outputs"])),
            ("fingerprint", version.fingerprint),
            (
                "parity",
                f"max |native - onnx| {version.parity['max_abs_diff']:.3g} over "
                f"{version.parity['rows']:,} rows (tolerance {version.parity['tolerance']:g})",
            ),
            ("training set", (version.lineage.get("training_set") or {}).get("ref") or "none"),
            ("run", version.run_id or "none"),
            ("created", f"{render.when(version.created_at)} by {version.created_by}"),
        ]
    )


def _metrics_shown(metrics: dict[str, float | None], threshold: float | None) -> str:
    """``roc_auc=0.81, pr_auc=0.4 | at threshold 0.5: f1=0``: the metrics of labels predicted
    at a threshold say which one (an f1 of 0 on rare fraud is the threshold's doing)."""
    from goldenpath.registry.metrics import AT_THRESHOLD

    def shown(items: list[tuple[str, float | None]]) -> str:
        return ", ".join(f"{k}={'NaN' if v is None else f'{v:.4g}'}" for k, v in items)

    free = [(k, v) for k, v in metrics.items() if k not in AT_THRESHOLD]
    fixed = [(k, v) for k, v in metrics.items() if k in AT_THRESHOLD]
    if not fixed or threshold is None:
        return shown(free + fixed)
    return (shown(free) + " | " if free else "") + f"at threshold {threshold:g}: " + shown(fixed)


@app.command()
def alias(
    ref: str = typer.Argument(..., help="The version: fraud@3 (or the model, with --delete)."),
    name: str = typer.Argument(..., help="The alias, e.g. challenger (champion: use promote)."),
    delete: bool = typer.Option(False, "--delete", help="Remove the alias instead."),
    reason: str | None = typer.Option(
        None, "--reason", help="Why (required to remove champion, which needs promote_force)."
    ),
) -> None:
    """Point an alias at a version (champion moves only through promote).

    Example: gp models alias fraud@2 challenger # needs: a registered model fraud (gp train)
    """
    models = _models()
    if delete:
        model = ref.partition("@")[0]
        move = models.delete_alias(model, name, reason=reason)
        render.out.print(f"{model}@{name} removed (was version {move.from_version})")
        return
    move = models.alias(ref, name)
    was = "" if move.from_version is None else f" (was version {move.from_version})"
    render.out.print(f"{move.model}@{name} -> version {move.to_version}{was}")


@app.command()
def promote(
    ref: str = typer.Argument(..., help="The version to promote: fraud@3."),
    alias_name: str = typer.Option("champion", "--alias", help="The alias to move."),
    force: bool = typer.Option(False, "--force", help="Override failed gates (admins)."),
    reason: str | None = typer.Option(None, "--reason", help="Why (required with --force)."),
    json_: bool = JSON,
) -> None:
    """Move champion (or --alias) to a version if its gates and the policies allow it.

    Example: gp features apply && gp train && gp models promote fraud@1
    """
    done = _models().promote(ref, alias_name, force=force, reason=reason)
    if json_:
        render.print_json(done.as_dict())
        return
    for gate in done.gates:
        mark = "pass" if gate.passed else "FAIL"
        render.out.print(f"{mark}  {gate.name}: {gate.message}")
    if not done.changed:
        render.out.print(f"{done.model}@{done.alias} is already version {done.to_version}")
        return
    was = "" if done.from_version is None else f" (was version {done.from_version})"
    forced = f"; forced: {done.reason}" if done.forced else ""
    render.out.print(f"{done.model}@{done.alias} -> version {done.to_version}{was}{forced}")


@app.command()
def archive(ref: str = typer.Argument(..., help="The version: fraud@1.")) -> None:
    """Archive a version (kept, but no alias may point at it).

    Example: gp models archive fraud@1 # needs: a registered model fraud (gp train)
    """
    version = _models().archive(ref)
    render.out.print(f"{version.ref} archived")


@app.command()
def card(
    ref: str = typer.Argument(..., help="The version: fraud@3."),
    set_: list[str] = typer.Option(
        [],
        "--set",
        metavar="FIELD=VALUE",
        help="field=value (intended_use, limitations, owners, ...); repeatable.",
    ),
    json_: bool = JSON,
) -> None:
    """Show a version's model card, or edit it with --set.

    Example: gp models card fraud@1 --set "intended_use=score card payments"
    # needs: a registered model fraud (gp train)
    """
    models = _models()
    if set_:
        fields: dict[str, str] = {}
        for pair in set_:
            key, sep, value = pair.partition("=")
            if not sep or not key.strip():
                raise InvalidInput(f"--set takes field=value, not {pair[:60]!r}")
            fields[key.strip()] = value
        shown = models.update_card(ref, fields)
    else:
        shown = models.card(ref)
    if json_:
        render.print_json(shown)
        return
    pairs: list[tuple[str, object]] = []
    for key, value in shown.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items() if v not in (None, [], ""))
        pairs.append((key, value if value not in ("", None) else "(not set)"))
    render.fields(pairs)


@app.command()
def history(name: str = typer.Argument(..., help="The model.")) -> None:
    """Every alias move of a model: who, from which version to which, when, forced or not.

    Example: gp models history fraud # needs: a registered model fraud (gp train)
    """
    moves = _models().alias_history(name)
    render.table(
        None,
        ["when", "alias", "from", "to", "by", "forced", "reason"],
        [
            (
                render.when(m.moved_at),
                m.alias,
                "" if m.from_version is None else m.from_version,
                "(removed)" if m.to_version is None else m.to_version,
                m.moved_by,
                "yes" if m.forced else "",
                m.reason,
            )
            for m in moves
        ],
        empty=f"no alias of {name} has moved yet",
    )
