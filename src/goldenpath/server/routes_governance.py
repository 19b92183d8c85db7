"""Audit, access, principal, token and project routes: thin shells over the services.

As in ``routes_data``: metadata look-ups are ``async def`` (on the event loop); writes,
policy evaluation and whole-trail work (verify, export) run in the thread pool.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from goldenpath.governance.policies import Decision as PolicyDecision
from goldenpath.server import schemas
from goldenpath.server.auth import workspace
from goldenpath.server.json_body import StrictRoute
from goldenpath.server.problems import ERROR_RESPONSES
from goldenpath.server.schemas import answer, content
from goldenpath.workspace import Workspace

router = APIRouter(responses=ERROR_RESPONSES, route_class=StrictRoute)


WS = Annotated[Workspace, Depends(workspace)]
Name = Annotated[str, Field(min_length=1, max_length=63)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewProject(_Body):
    name: Name
    team: Name = "default"


class NewPrincipal(_Body):
    name: Name
    kind: Literal["user", "service", "agent"] = "user"
    owner: Name | None = None
    allowed_actions: list[str] | None = None
    expires_in: str | None = Field(default=None, max_length=16)


class NewToken(_Body):
    principal: Name | None = None
    # Default 30 days, at most limits.token_lifetime_max_days, and never past the caller's
    # own token when the new token is the caller's (it is then a child of that token).
    expires_in: str | None = Field(default=None, max_length=16)
    scopes: list[str] | None = None


class AnchorBody(_Body):
    anchor: dict[str, Any]


class RotateKey(_Body):
    old_key_lost: bool = False


class GrantBody(_Body):
    role: Name
    principal: Name
    project: Name | None = None
    team: Name | None = None


@router.get(
    "/status", tags=["meta"], response_model=None, responses=answer(schemas.WorkspaceStatus)
)
def status(ws: WS) -> dict[str, Any]:
    """The stack, the acting principal and object counts."""
    return ws.status().as_dict()


@router.get("/whoami", tags=["access"], response_model=None, responses=answer(schemas.WhoAmI))
async def whoami(ws: WS) -> dict[str, Any]:
    """The acting principal and its roles."""
    return ws.access.whoami()


@router.get(
    "/audit/events", tags=["audit"], response_model=None, responses=answer(list[schemas.AuditEvent])
)
async def audit_events(
    ws: WS,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 50,
    action: Annotated[str | None, Query(max_length=64)] = None,
    object_ref: Annotated[str | None, Query(alias="object", max_length=256)] = None,
    actor: Annotated[str | None, Query(max_length=128)] = None,
) -> list[dict[str, Any]]:
    """Audit events, newest first."""
    return [
        e.as_dict()
        for e in ws.audit.list(limit=limit, action=action, object_ref=object_ref, actor=actor)
    ]


@router.get(
    "/audit/verify",
    tags=["audit"],
    response_model=None,
    responses=answer(schemas.AuditVerification),
)
def audit_verify(ws: WS) -> dict[str, Any]:
    """Check the hash chain and the newest signed checkpoint."""
    return ws.audit.verify().as_dict()


@router.post(
    "/audit/verify",
    tags=["audit"],
    response_model=None,
    responses=answer(schemas.AuditVerification),
)
def audit_verify_anchored(ws: WS, body: AnchorBody) -> dict[str, Any]:
    """Check the trail, and that it still reaches and matches an exported checkpoint."""
    return ws.audit.verify(anchor=body.anchor).as_dict()


@router.post(
    "/audit/checkpoint", tags=["audit"], response_model=None, responses=answer(schemas.Checkpoint)
)
def audit_checkpoint(ws: WS) -> dict[str, Any]:
    """Sign the chain's head."""
    return ws.audit.checkpoint()


@router.get(
    "/audit/checkpoint", tags=["audit"], response_model=None, responses=answer(schemas.Checkpoint)
)
def audit_export_checkpoint(ws: WS) -> dict[str, Any]:
    """The newest checkpoint with its public key: a copy to keep elsewhere as an anchor."""
    return ws.audit.export_checkpoint()


@router.post(
    "/audit/rotate-key", tags=["audit"], response_model=None, responses=answer(schemas.KeyRotation)
)
def audit_rotate_key(ws: WS, body: RotateKey) -> dict[str, Any]:
    """Replace the signing key on purpose (the old public key is kept; audited)."""
    return ws.audit.rotate_key(old_key_lost=body.old_key_lost)


@router.get(
    "/audit/export",
    tags=["audit"],
    response_class=Response,
    responses=content("application/x-ndjson", "One audit event per line"),
)
def audit_export(ws: WS, since: datetime | None = None) -> Response:
    """Events as JSON Lines, oldest first."""
    out = io.StringIO()
    ws.audit.export(out, since=since)
    return Response(out.getvalue(), media_type="application/x-ndjson")


@router.get(
    "/projects", tags=["access"], response_model=None, responses=answer(list[schemas.Project])
)
async def projects(ws: WS) -> list[dict[str, Any]]:
    """Projects you can see."""
    return [p.as_dict() for p in ws.access.projects()]


@router.post(
    "/projects",
    tags=["access"],
    status_code=201,
    response_model=None,
    responses=answer(schemas.Project, 201, "Created"),
)
def create_project(ws: WS, body: NewProject) -> dict[str, Any]:
    """Create a project."""
    return ws.access.create_project(body.name, team=body.team).as_dict()


@router.get(
    "/principals", tags=["access"], response_model=None, responses=answer(list[schemas.Principal])
)
async def principals(ws: WS) -> list[dict[str, Any]]:
    """Every principal (admins)."""
    return [p.as_dict() for p in ws.principals.list()]


@router.post(
    "/principals",
    tags=["access"],
    status_code=201,
    response_model=None,
    responses=answer(schemas.Principal, 201, "Created"),
)
def add_principal(ws: WS, body: NewPrincipal) -> dict[str, Any]:
    """Add a user, service account or agent."""
    return ws.principals.add(
        body.name,
        kind=body.kind,
        owner=body.owner,
        allowed_actions=body.allowed_actions,
        expires_in=body.expires_in,
    ).as_dict()


@router.post(
    "/principals/{name}/disable",
    tags=["access"],
    response_model=None,
    responses=answer(schemas.Disabled),
)
def disable_principal(ws: WS, name: str) -> dict[str, str]:
    """Disable a principal; its tokens stop working."""
    ws.principals.disable(name)
    return {"disabled": name}


@router.get(
    "/tokens", tags=["access"], response_model=None, responses=answer(list[schemas.TokenInfo])
)
async def tokens(
    ws: WS,
    principal: Annotated[str | None, Query(max_length=63)] = None,
) -> list[dict[str, Any]]:
    """Token metadata (never secrets)."""
    return [t.as_dict() for t in ws.principals.tokens(principal)]


@router.post(
    "/tokens",
    tags=["access"],
    status_code=201,
    response_model=None,
    responses=answer(schemas.CreatedToken, 201, "Created"),
)
def create_token(ws: WS, body: NewToken) -> dict[str, Any]:
    """Create a token; the secret is in this response only. A token you create for yourself
    is a child of the token you call with: scopes within its scopes, expiry no later, revoked
    with it."""
    created = ws.principals.create_token(
        body.principal or ws.actor.name, expires_in=body.expires_in, scopes=body.scopes
    )
    return {**created.info.as_dict(), "token": created.secret}


@router.delete(
    "/tokens/{token_id}",
    tags=["access"],
    response_model=None,
    responses=answer(schemas.TokenRevoked),
)
def revoke_token(ws: WS, token_id: str) -> dict[str, str]:
    """Revoke a token and every token created with it."""
    ws.principals.revoke_token(token_id)
    return {"revoked": token_id}


@router.get("/grants", tags=["access"], response_model=None, responses=answer(list[schemas.Grant]))
async def grants(
    ws: WS,
    principal: Annotated[str | None, Query(max_length=63)] = None,
    project: Annotated[str | None, Query(max_length=63)] = None,
) -> list[dict[str, Any]]:
    """Role grants."""
    return [g.as_dict() for g in ws.access.list(principal=principal, project=project)]


@router.post(
    "/grants",
    tags=["access"],
    status_code=201,
    response_model=None,
    responses=answer(schemas.Grant, 201, "Created"),
)
def grant(ws: WS, body: GrantBody) -> dict[str, Any]:
    """Grant a role (workspace-wide if neither project nor team)."""
    return ws.access.grant(
        body.role, body.principal, project=body.project, team=body.team
    ).as_dict()


@router.post(
    "/grants/revoke", tags=["access"], response_model=None, responses=answer(schemas.GrantRevoked)
)
def revoke(ws: WS, body: GrantBody) -> dict[str, str]:
    """Take a role away."""
    ws.access.revoke(body.role, body.principal, project=body.project, team=body.team)
    return {"revoked": body.role, "principal": body.principal}


class Decision(_Body):
    reject: bool = False
    reason: str | None = Field(default=None, max_length=2000)


class PolicyCheck(_Body):
    action: str = Field(min_length=1, max_length=64, examples=["deployment.create"])
    object: str = Field(min_length=1, max_length=256, examples=["fraud-api@prod"])
    project: Name | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


def _decision(decision: PolicyDecision) -> dict[str, Any]:
    return {
        "allowed": decision.allowed,
        "policy": decision.policy,
        "message": decision.message,
        "evaluated": list(decision.evaluated),
    }


@router.get(
    "/policies", tags=["policy"], response_model=None, responses=answer(list[schemas.Policy])
)
def policies(ws: WS) -> list[dict[str, Any]]:
    """Every policy (all compiled)."""
    return ws.policies.list()


@router.post(
    "/policies/{name}/test",
    tags=["policy"],
    response_model=None,
    responses=answer(schemas.PolicyDecision),
)
def test_policy(ws: WS, name: str, document: dict[str, Any]) -> dict[str, Any]:
    """Evaluate one policy against a sample input."""
    return _decision(ws.policies.test(name, document))


@router.post(
    "/policy/check", tags=["policy"], response_model=None, responses=answer(schemas.PolicyDecision)
)
def check_policy(ws: WS, body: PolicyCheck) -> dict[str, Any]:
    """May I do this? For actions carried out outside goldenpath (a deploy from a CD pipeline):
    evaluated, approved and audited like goldenpath's own. 200 when allowed; 403 with the
    denying policy and, if it can be approved, the approval request when not."""
    decision = ws.policies.check(body.action, body.object, body.attributes, project=body.project)
    return _decision(decision)


@router.get(
    "/approvals",
    tags=["policy"],
    response_model=None,
    responses=answer(list[schemas.ApprovalRequest]),
)
async def approvals(
    ws: WS,
    status: Annotated[Literal["pending", "approved", "rejected", "used"] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """Approval requests you made or could approve."""
    return [a.as_dict() for a in ws.policies.approvals(status)]


@router.post(
    "/approvals/{request_id}",
    tags=["policy"],
    response_model=None,
    responses=answer(schemas.ApprovalRequest),
)
def decide(ws: WS, request_id: str, body: Decision) -> dict[str, Any]:
    """Approve (or reject) a pending request."""
    return ws.policies.approve(request_id, reject=body.reject, reason=body.reason).as_dict()
