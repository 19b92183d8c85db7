"""``gp policy``, ``gp approve`` and ``gp approvals``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from goldenpath.cli import render
from goldenpath.cli.context import workspace
from goldenpath.core.errors import InvalidInput
from goldenpath.core.yamlfile import read_text

JSON = typer.Option(False, "--json", help="Print as JSON.")
policy_app = typer.Typer(
    help=(
        "Policies (CEL) checked before actions.\n\n"
        "Example: gp policy test prod-deploys --input sample.json"
    ),
    no_args_is_help=True,
)
approvals_app = typer.Typer(
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
    )


@policy_app.command("test")
def test_policy(
    name: str = typer.Argument(..., help="The policy to evaluate."),
    input_file: Path = typer.Option(
        ..., "--input", help="JSON: action, actor, object, project, approved."
    ),
    json_: bool = JSON,
) -> None:
    """Evaluate one policy against a sample input; exits 3 when it denies.

    Example: gp policy test prod-deploys-need-approval --input sample.json
    """
    try:
        document = json.loads(read_text(input_file))
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"{input_file}:{exc.lineno}: not valid JSON: {exc.msg}") from None
    decision = workspace().policies.test(name, document)
    if json_:
        render.print_json(
            {
                "allowed": decision.allowed,
                "policy": decision.policy,
                "message": decision.message,
                "evaluated": decision.evaluated,
            }
        )
    elif decision.allowed:
        applied = "applies and allows" if decision.evaluated else "does not apply"
        render.out.print(f"[green]allow[/green]: {name} {applied}")
    else:
        render.out.print(f"[red]deny[/red]: {decision.message}")
    if not decision.allowed:
        raise typer.Exit(3)


def approve(
    request_id: str = typer.Argument(..., help="The approval request's id."),
    reject: bool = typer.Option(False, "--reject", help="Reject instead of approving."),
    reason: str | None = typer.Option(None, help="Why (kept in the audit trail)."),
    json_: bool = JSON,
) -> None:
    """Sign off (or reject) an action a policy is holding; needs the approver role.

    Example: gp approve 01JC9W... --reason "reviewed the model card"
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
    )
