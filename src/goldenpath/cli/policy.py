"""``gp policy``, ``gp approve`` and ``gp approvals``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.markup import escape

from goldenpath.cli import render
from goldenpath.cli.context import workspace
from goldenpath.cli.help import App
from goldenpath.core.errors import InvalidInput

if TYPE_CHECKING:
    pass

JSON = typer.Option(False, "--json", help="Print as JSON.")
policy_app = App(
    help=("Policies (CEL) checked before actions.\n\nExample: gp policy list"),
    no_args_is_help=True,
)
approvals_app = App(
    help=("Approval requests opened by policies.\n\nExample: gp approvals list --status pending"),
    no_args_is_help=True,
)


@policy_app.command("list")
def list_policies(json_: bool = JSON) -> None:
    """List the workspace's policies (and check that they all compile).

    Example: gp policy list
    """
    found = workspace().policies.list()
    if json_:
        render.print_json(found)
        return
    render.table(
        None,
        ["policy", "actions", "when", "allow", "approval", "file"],
        [
            (
                p["name"],
                ",".join(p["actions"]),
                p["when"] or "",
                p["allow"],
                "yes" if p["approval"] else "",
                p["file"],
            )
            for p in found
        ],
        empty="no policies yet: write a sample one to edit with: gp policy new NAME "
        "(policies are YAML files in the workspace's policies/ folder; see docs/governance.md)",
    )


@policy_app.command("new")
def new_policy(
    name: str = typer.Argument(..., help="The policy's name, e.g. restricted-data."),
) -> None:
    """Write a sample policy to the workspace's policies/ folder, to edit (admins; audited).

    The sample applies at once: restricted data needs an approver's sign-off to be ingested.

    Example: gp policy new restricted-data
    """
    ws = workspace()
    from goldenpath.workspace import Workspace

    if not isinstance(ws, Workspace):
        raise InvalidInput(
            "gp policy new writes a file into the workspace's folder, which a server does not "
            "share",
            hint="run it on the workspace's machine, without GP_SERVER",
        )
    path = ws.policies.new(name)
    render.out.print(f"wrote {path}")
    render.out.print(
        f"edit it, then try it: gp policy test {name} --attr classification=restricted"
    )


@policy_app.command("test")
def test_policy(
    name: str = typer.Argument(..., help="The policy to evaluate."),
    input_file: Path | None = typer.Option(
        None, "--input", help="JSON: action, actor, object, project, approved."
    ),
    pairs: list[str] = typer.Option(
        [],
        "--attr",
        metavar="KEY=VALUE",
        help="Repeatable: the object's attributes (over --input's); dotted keys "
        "nest, the value is read as JSON when it parses.",
    ),
    approved: bool = typer.Option(False, "--approved", help="As if an approver signed off."),
    json_: bool = JSON,
) -> None:
    """Evaluate one policy against a sample input; exits 3 when it denies. Records nothing.

    Example: gp policy new restricted-data
    && gp policy test restricted-data --attr classification=restricted --approved
    """
    document: dict[str, Any] = {}
    if input_file is not None:
        from goldenpath.core.yamlfile import read_text

        try:
            document = json.loads(read_text(input_file))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{input_file}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        if not isinstance(document, dict):
            raise InvalidInput(f"{input_file}: the input must be a JSON object")
    if pairs:
        given = document.get("object")
        document["object"] = {
            **(given if isinstance(given, dict) else {}),
            **_attributes(None, pairs),
        }
    if approved:
        document["approved"] = True
    decision = workspace().policies.test(name, document)
    if json_:
        render.print_json(asdict(decision))
    elif decision.allowed:
        applied = "applies and allows" if decision.evaluated else "does not apply"
        render.out.print(f"[green]allow[/green]: {escape(name)} {applied}", markup=True)
    else:
        render.out.print(f"[red]deny[/red]: {escape(decision.message)}", markup=True)
    if not decision.allowed:
        raise typer.Exit(3)


@policy_app.command("check")
def check_policy(
    action: str = typer.Argument(..., metavar="ACTION", help="The action, e.g. deployment.create."),
    object_ref: str = typer.Argument(
        ..., metavar="OBJECT", help="What it acts on, e.g. fraud-api@prod."
    ),
    attributes_file: Path | None = typer.Option(
        None, "--attributes", help="A JSON object: the object's attributes."
    ),
    pairs: list[str] = typer.Option(
        [],
        "--attr",
        metavar="KEY=VALUE",
        help="Repeatable; dotted keys nest (model.metrics.roc_auc=0.91); "
        "the value is read as JSON when it parses, else as text.",
    ),
    json_: bool = JSON,
) -> None:
    """Ask the policies whether you may do an action goldenpath does not carry out itself
    (a deploy from a CD pipeline, say); recorded in the audit trail. Exits 0 when allowed,
    3 when denied (with the approval request to sign off, if the policy allows one).

    Example: gp policy check deployment.create fraud-api@prod --attr environment=prod
    --attr model.metrics.roc_auc=0.91
    """
    attributes = _attributes(attributes_file, pairs)
    ws = workspace()
    decision = ws.policies.check(action, object_ref, attributes, project=ws.project)
    if json_:
        render.print_json(asdict(decision))
        return
    which = ", ".join(decision.evaluated) or "none apply"
    render.out.print(
        f"[green]allow[/green]: {escape(action)} on {escape(object_ref)} (policies: {which})",
        markup=True,
    )


def _attributes(path: Path | None, pairs: list[str]) -> dict[str, Any]:
    """The object's attributes: the JSON file's object, then each KEY=VALUE over it."""
    attributes: dict[str, Any] = {}
    if path is not None:
        from goldenpath.core.yamlfile import read_text

        try:
            loaded = json.loads(read_text(path))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None
        if not isinstance(loaded, dict):
            raise InvalidInput(f"{path}: the attributes must be a JSON object")
        attributes = loaded
    for pair in pairs:
        key, sep, text = pair.partition("=")
        parts = key.split(".")
        if not sep or not all(parts):
            raise InvalidInput(
                f"invalid --attr {pair!r}", hint="use KEY=VALUE, e.g. --attr environment=prod"
            )
        try:
            value: Any = json.loads(text)
        except json.JSONDecodeError:
            value = text
        target = attributes
        for part in parts[:-1]:
            nested = target.setdefault(part, {})
            if not isinstance(nested, dict):
                raise InvalidInput(f"--attr {pair!r}: {part!r} is already a value, not an object")
            target = nested
        target[parts[-1]] = value
    return attributes


def approve(
    request_id: str = typer.Argument(..., help="The approval request's id."),
    reject: bool = typer.Option(False, "--reject", help="Reject instead of approving."),
    reason: str | None = typer.Option(None, help="Why (kept in the audit trail)."),
    json_: bool = JSON,
) -> None:
    """Sign off (or reject) an action a policy is holding; needs the approver role.

    Example: gp approve ID --reason "checked the numbers"  # needs: an ID from gp approvals list
    """
    decided = workspace().policies.approve(request_id, reject=reject, reason=reason)
    if json_:
        render.print_json(decided.as_dict())
        return
    render.out.print(
        f"{decided.status} {decided.action} on {decided.object_ref} "
        f"(requested by {decided.requested_by})"
    )


@approvals_app.command("list")
def list_approvals(
    status: str | None = typer.Option(None, help="pending, approved, rejected or used."),
    json_: bool = JSON,
) -> None:
    """List approval requests you made or could approve.

    Example: gp approvals list --status pending
    """
    found = workspace().policies.approvals(status)
    if json_:
        render.print_json([a.as_dict() for a in found])
        return
    render.table(
        None,
        ["id", "status", "policy", "action", "object", "requested by", "decided by"],
        [
            (a.id, a.status, a.policy, a.action, a.object_ref, a.requested_by, a.decided_by or "")
            for a in found
        ],
        empty=f"no {status + ' ' if status else ''}approval requests: a policy with "
        "approval: true opens one when it denies an action (see: gp policy list)",
    )
