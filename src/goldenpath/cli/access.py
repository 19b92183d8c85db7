"""``gp principals``, ``gp tokens``, ``gp access`` and ``gp projects``."""

from __future__ import annotations

import typer

from goldenpath.cli import render
from goldenpath.cli.context import workspace
from goldenpath.cli.help import App
from goldenpath.governance import Kind

JSON = typer.Option(False, "--json", help="Print as JSON.")

principals_app = App(
    help=("Users, service accounts and AI agents.\n\nExample: gp principals list"),
    no_args_is_help=True,
)
tokens_app = App(
    help=("Bearer tokens (shown once, stored hashed).\n\nExample: gp tokens create --expires 30d"),
    no_args_is_help=True,
)
access_app = App(
    help=(
        "Roles on projects, teams and the workspace (deny by default).\n\nExample: gp access list"
    ),
    no_args_is_help=True,
)
projects_app = App(
    help=("Projects, grouped into teams.\n\nExample: gp projects list"),
    no_args_is_help=True,
)


@principals_app.command("add")
def add_principal(
    name: str = typer.Argument(..., help="Principal name, e.g. alice or fraud-pipeline."),
    kind: Kind = typer.Option("user", help="user, service or agent."),
    owner: str | None = typer.Option(None, help="Agents: the principal answerable for it."),
    allow: list[str] | None = typer.Option(
        None, "--allow", metavar="PERMISSION", help="Agents: a permission it may use (repeat)."
    ),
    expires: str | None = typer.Option(None, help="Expiry, e.g. 30d (agents: at most 90d)."),
    json_: bool = JSON,
) -> None:
    """Add a principal.

    Example: gp principals add bob
    && gp principals add bot --kind agent --owner bob --allow dataset.read --expires 30d
    """
    principal = workspace().principals.add(
        name,
        kind=kind,
        owner=owner,
        allowed_actions=allow,
        expires_in=expires,
    )
    if json_:
        render.print_json(principal.as_dict())
        return
    render.out.print(
        f"added {principal.kind} {principal.name}; give it a role with: "
        f"gp access grant viewer {principal.name} --project PROJECT"
    )


@principals_app.command("list")
def list_principals(json_: bool = JSON) -> None:
    """List principals.

    Example: gp principals list --json
    """
    found = workspace().principals.list()
    if json_:
        render.print_json([p.as_dict() for p in found])
        return
    render.table(
        None,
        ["name", "kind", "owner", "allowed", "expires", "disabled"],
        [
            (
                p.name,
                p.kind,
                p.owner,
                ",".join(p.allowed_actions or []),
                render.when(p.expires_at) if p.expires_at else "",
                "yes" if p.disabled_at else "",
            )
            for p in found
        ],
        empty="no principals you can see: add one with: gp principals add NAME",
    )


@principals_app.command("disable")
def disable_principal(name: str = typer.Argument(..., help="Principal to disable.")) -> None:
    """Disable a principal; its tokens stop working at once.

    Example: gp principals add old-pipeline --kind service && gp principals disable old-pipeline
    """
    workspace().principals.disable(name)
    render.out.print(f"disabled {name}")


@tokens_app.command("create")
def create_token(
    principal: str | None = typer.Option(None, help="Whose token (default: yourself)."),
    expires: str | None = typer.Option(
        None,
        help="Lifetime, e.g. 12h, 30d (default 30d; at most limits.token_lifetime_max_days, "
        "and no later than the token you call with).",
    ),
    scope: list[str] | None = typer.Option(
        None, "--scope", metavar="PERMISSION", help="Limit to this permission (repeat)."
    ),
    json_: bool = JSON,
) -> None:
    """Create a bearer token; the secret is printed once and stored only as a hash.

    Called with a token (GP_TOKEN) for yourself, the new token is that token's child: its
    scopes must be within the caller's (default: the same), it expires no later, and revoking
    the caller's token revokes it.

    Example: gp principals add fraud-pipeline --kind service
    && gp tokens create --principal fraud-pipeline --expires 30d --scope dataset.read
    """
    ws = workspace()
    created = ws.principals.create_token(
        principal or ws.actor.name, expires_in=expires, scopes=scope
    )
    if json_:
        render.print_json({**created.info.as_dict(), "token": created.secret})
        return
    render.out.print(created.secret)
    render.err.print(
        f"token {created.info.id} for {created.info.principal}, expires "
        f"{render.when(created.info.expires_at)}. It is shown only now."
    )


@tokens_app.command("revoke")
def revoke_token(token_id: str = typer.Argument(..., help="The token's id.")) -> None:
    """Revoke a token and every token created with it.

    Example: gp tokens revoke ID  # needs: a token ID from gp tokens list
    """
    workspace().principals.revoke_token(token_id)
    render.out.print(f"revoked {token_id}")


@tokens_app.command("list")
def list_tokens(
    principal: str | None = typer.Option(None, help="Whose tokens (default: yours)."),
    json_: bool = JSON,
) -> None:
    """List tokens (ids and expiry, never secrets).

    Example: gp tokens list
    """
    found = workspace().principals.tokens(principal)
    if json_:
        render.print_json([t.as_dict() for t in found])
        return
    render.table(
        None,
        ["id", "principal", "scopes", "expires", "revoked", "parent"],
        [
            (
                t.id,
                t.principal,
                "(all)" if t.scopes is None else ",".join(t.scopes) or "(none)",
                render.when(t.expires_at),
                render.when(t.revoked_at) if t.revoked_at else "",
                t.parent or "",
            )
            for t in found
        ],
        empty="no tokens: create one with: gp tokens create (the secret is shown once)",
    )


@access_app.command("grant")
def grant(
    role: str = typer.Argument(..., help="viewer, contributor, maintainer, approver or admin."),
    principal: str = typer.Argument(..., help="Who gets it."),
    project: str | None = typer.Option(None, "--project", help="On this project."),
    team: str | None = typer.Option(None, "--team", help="On every project of this team."),
    json_: bool = JSON,
) -> None:
    """Grant a role (on the whole workspace if neither --project nor --team is given).

    Example: gp principals add bob && gp access grant contributor bob --project default
    """
    given = workspace().access.grant(role, principal, project=project, team=team)
    if json_:
        render.print_json(given.as_dict())
        return
    render.out.print(f"{principal} is now {role} on {given.scope_kind} {given.scope_name}")


@access_app.command("revoke")
def revoke(
    role: str = typer.Argument(..., help="The role to take away."),
    principal: str = typer.Argument(..., help="From whom."),
    project: str | None = typer.Option(None, "--project", help="On this project."),
    team: str | None = typer.Option(None, "--team", help="On this team."),
) -> None:
    """Revoke a role.

    Example: gp principals add bob && gp access grant viewer bob --project default
    && gp access revoke viewer bob --project default
    """
    workspace().access.revoke(role, principal, project=project, team=team)
    render.out.print(f"revoked {role} from {principal}")


@access_app.command("list")
def list_grants(
    principal: str | None = typer.Option(None, help="Only this principal's grants."),
    project: str | None = typer.Option(None, "--project", help="Grants that apply here."),
    json_: bool = JSON,
) -> None:
    """List role grants.

    Example: gp access list --project default
    """
    found = workspace().access.list(principal=principal, project=project)
    if json_:
        render.print_json([g.as_dict() for g in found])
        return
    render.table(
        None,
        ["principal", "role", "scope"],
        [(g.principal, g.role, f"{g.scope_kind}:{g.scope_name}") for g in found],
        empty="no grants match: give a role with: gp access grant ROLE PRINCIPAL --project NAME",
    )


@access_app.command("whoami")
def whoami(json_: bool = JSON) -> None:
    """Show who you are acting as, and your roles.

    Example: gp access whoami
    """
    info = workspace().access.whoami()
    if json_:
        render.print_json(info)
        return
    p = info["principal"]
    render.out.print(f"{p['name']} ({p['kind']})")
    for g in info["grants"]:
        render.out.print(f"  {g['role']} on {g['scope_kind']}:{g['scope_name']}")


@projects_app.command("create")
def create_project(
    name: str = typer.Argument(..., help="Project name."),
    team: str = typer.Option("default", help="The team it belongs to."),
    json_: bool = JSON,
) -> None:
    """Create a project.

    Example: gp projects create fraud --team risk
    """
    project = workspace().access.create_project(name, team=team)
    if json_:
        render.print_json(project.as_dict())
        return
    render.out.print(f"created project {project.name} in team {project.team}")


@projects_app.command("list")
def list_projects(json_: bool = JSON) -> None:
    """List the projects you can see.

    Example: gp projects list
    """
    found = workspace().access.projects()
    if json_:
        render.print_json([p.as_dict() for p in found])
        return
    render.table(
        None,
        ["project", "team", "created"],
        [(p.name, p.team, render.when(p.created_at)) for p in found],
        empty="no projects you can see: create one with: gp projects create NAME, "
        "or ask an admin for a role on one",
    )
