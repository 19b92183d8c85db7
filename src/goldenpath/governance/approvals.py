"""Enforcing policies before actions, and the approvals that can unblock them.

``PolicyService.enforce`` is what a capability calls before acting. When an approvable policy
denies, it opens (or reuses) a pending approval request and refuses with its id; once a
principal holding ``approver`` on the project signs it off (never the requester: separation of
duties), the same action passes once and the approval is marked used.
"""

from __future__ import annotations

import builtins
import json
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from goldenpath.core.actor import Actor
from goldenpath.core.atomic import write_atomically
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied, PolicyDenied
from goldenpath.core.ids import new_id
from goldenpath.core.limits import Limits
from goldenpath.core.names import validate_name
from goldenpath.core.redact import redact_value
from goldenpath.governance import audit
from goldenpath.governance.access import AccessControl
from goldenpath.governance.policies import (
    Decision,
    Hold,
    Policy,
    evaluate,
    find,
    load_policies,
    sample_policy,
)
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import approval_requests

_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_-]*){1,3}")
_OBJECT_REF = re.compile(r"[!-~]{1,256}")  # printable ASCII, no spaces


def _canonical(attributes: Any) -> str:
    """Attributes as stored and compared: through JSON, secrets redacted, keys sorted."""
    return json.dumps(redact_value(json.loads(json.dumps(attributes, default=str))), sort_keys=True)


@dataclass(frozen=True)
class ApprovalRequest:
    """An action a policy holds until an approver signs it off."""

    id: str
    policy: str
    action: str
    object_ref: str
    project: str | None
    attributes: dict[str, Any]
    requested_by: str
    status: str
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["decided_at"] = self.decided_at.isoformat() if self.decided_at else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ApprovalRequest:
        decided = data["decided_at"]
        return cls(
            **{
                **data,
                "created_at": datetime.fromisoformat(data["created_at"]),
                "decided_at": datetime.fromisoformat(decided) if decided else None,
            }
        )


class _Undo(Exception):
    """Rolls back :meth:`PolicyService._spend`'s transaction."""


class PolicyService:
    """Policies and approvals (``ws.policies``)."""

    def __init__(
        self,
        store: MetadataStore,
        directory: Path,
        actor: Actor,
        access: AccessControl,
        limits: Limits | None = None,
    ) -> None:
        self._store = store
        self.directory = directory
        self._actor = actor
        self._access = access
        self._limits = limits or Limits()

    def _require_read(self) -> None:
        if self._access.projects_with("policy.read") == set():
            raise PermissionDenied(
                f"{self._actor.name!r} may not read policies",
                hint="any role on a project includes policy.read",
            )

    def list(self) -> builtins.list[dict[str, Any]]:
        """Every policy (compiling them all: a broken one is an error here)."""
        self._require_read()
        return [{**p.spec.model_dump(), "file": p.source} for p in load_policies(self.directory)]

    def new(self, name: str) -> Path:
        """Write a sample policy named ``name`` to ``policies/NAME.yaml``, to edit (needs
        ``policy.manage``; audited). It applies at once: it asks for an approval before
        restricted data is ingested."""
        validate_name(name, kind="policy name")
        self._access.require("policy.manage")
        path = self.directory / f"{name}.yaml"
        if path.exists() or any(p.spec.name == name for p in load_policies(self.directory)):
            raise Conflict(
                f"a policy named {name!r} or a file {path} exists already",
                hint="edit it, or pick another name; see them with: gp policy list",
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomically(path, sample_policy(name).encode(), mode=0o644)
        with self._store.begin() as conn:
            audit.record(conn, self._actor, "policy.create", "policy", name, {"file": str(path)})
        return path

    def test(self, name: str, document: dict[str, Any]) -> Decision:
        """Evaluate one policy against a sample input (``action``, ``actor``, ``object``,
        ``project``, ``approved``), without recording anything."""
        self._require_read()
        policy = find(load_policies(self.directory), name)
        if not isinstance(document, dict):
            raise InvalidInput("the input must be a JSON object")
        actor = document.get("actor") or {}
        action = document.get("action") or policy.spec.actions[0]
        return evaluate(
            [policy],
            str(action),
            Actor(str(actor.get("name", "someone")), str(actor.get("kind", "user"))),
            dict(document.get("object") or {}),
            project=document.get("project"),
            approved=bool(document.get("approved", False)),
            limits=self._limits,
        )

    def check(
        self,
        action: str,
        object_ref: str,
        attributes: dict[str, Any] | None = None,
        *,
        project: str | None = None,
    ) -> Decision:
        """Ask whether the acting principal may do ``action`` on ``object_ref``, for actions
        carried out outside goldenpath (a deploy from a CD pipeline, say). Evaluated, approved
        and recorded exactly as goldenpath's own actions are: raises :class:`PolicyDenied`
        (with the approval request to sign off, if the policy allows one) or returns the
        allowing decision. Needs any role on ``project`` (``policy.read``)."""
        if not isinstance(action, str) or not _ACTION.fullmatch(action):
            raise InvalidInput(
                f"invalid action {action!r}",
                hint="an action is dotted lower-case words, e.g. deployment.create",
            )
        if not isinstance(object_ref, str) or not _OBJECT_REF.fullmatch(object_ref):
            raise InvalidInput(
                f"invalid object {object_ref!r}",
                hint="1 to 256 printable characters without spaces, e.g. fraud-api@prod",
            )
        attributes = {} if attributes is None else attributes
        if not isinstance(attributes, dict):
            raise InvalidInput("the attributes must be a JSON object")
        most = self._limits.policy_input_bytes_max
        if len(json.dumps(attributes, default=str).encode()) > most:
            raise InvalidInput(
                f"the attributes are larger than {most:,} bytes of JSON",
                hint="send only what the policies need (limits.policy_input_bytes_max)",
            )
        if project is not None:
            validate_name(project, kind="project name")
        self._access.require("policy.read", project)
        if project is not None and self._access.team_of(project) is None:
            raise NotFound(f"no project named {project!r}", hint="see them with: gp projects list")
        decision = self.enforce(action, object_ref, attributes, project=project)
        with self._store.begin() as conn:
            audit.record(
                conn,
                self._actor,
                "policy.allow",
                "policy",
                ",".join(decision.evaluated) or "(none applies)",
                {"action": action, "object": object_ref, "project": project},
            )
        return decision

    def enforce(
        self,
        action: str,
        object_ref: str,
        attributes: dict[str, Any],
        *,
        project: str | None,
        holds: Sequence[Hold] = (),
    ) -> Decision:
        """Raise :class:`PolicyDenied` unless every policy that applies allows the action;
        return the allowing decision. ``holds`` (from :meth:`hold`): actions allowed earlier
        that this one completes; their approvals are spent here, with this action's own, in
        one transaction (all or none).

        Policies are evaluated with no transaction open (a slow one must not hold SQLite's
        write lock and stall every other writer); the write transaction that follows only
        records the outcome, and re-checks the one thing that can change meanwhile: that an
        approval relied on is still unused (if another request used one first, nothing is
        spent and that action is evaluated again without it)."""
        decision, approval = self._allow(action, object_ref, attributes, project)
        pending = [h for h in holds if h.approval is not None]
        if approval is not None:
            pending.append(Hold(action, object_ref, attributes, project, approval))
        while pending:
            lost = self._spend(pending)
            if not lost:
                break
            # Another request used one of these approvals first: each such action is asked
            # again (another approved request may serve it, or its policy denies).
            again = [
                self.hold(h.action, h.object_ref, h.attributes, project=h.project) for h in lost
            ]
            pending = [h for h in pending if h not in lost] + [
                h for h in again if h.approval is not None
            ]
        return decision

    def hold(
        self, action: str, object_ref: str, attributes: dict[str, Any], *, project: str | None
    ) -> Hold:
        """Check ``action`` exactly as :meth:`enforce` does (a denial raises, opening an
        approval request) but spend nothing: pass the hold to the ``enforce`` of the action
        that completes the change."""
        _, approval = self._allow(action, object_ref, attributes, project)
        return Hold(action, object_ref, dict(attributes), project, approval)

    def _allow(
        self, action: str, object_ref: str, attributes: dict[str, Any], project: str | None
    ) -> tuple[Decision, str | None]:
        """The allowing decision and the approved request it relies on (None if none was
        needed), spending nothing; a denial opens (or reuses) a request and raises."""
        policies = [p for p in load_policies(self.directory) if p.applies_to(action)]
        if not policies:
            return Decision(True, message="no policy applies"), None
        with self._store.connect() as conn:
            approval = self._request(conn, "approved", action, object_ref, attributes, project)
        decision = self._evaluate(policies, action, attributes, project, approval is not None)
        if decision.allowed:
            return decision, approval if decision.evaluated else None
        raise self._deny(decision, action, object_ref, attributes, project)

    def _spend(self, pending: Sequence[Hold]) -> builtins.list[Hold]:
        """Mark every approval of ``pending`` used, in one transaction; if one was used by
        another request meanwhile, none is, and those lost are returned."""
        lost: builtins.list[Hold] = []
        try:
            with self._store.begin() as conn:
                for held in pending:
                    used = held.approval is None or self._use(
                        conn, held.approval, held.action, held.object_ref
                    )
                    if not used:
                        lost.append(held)
                if lost:
                    raise _Undo
        except _Undo:
            pass
        return lost

    def _deny(
        self,
        decision: Decision,
        action: str,
        object_ref: str,
        attributes: dict[str, Any],
        project: str | None,
    ) -> PolicyDenied:
        """Record a denial (opening or reusing an approval request if the policy allows one)
        and return the error to raise."""
        with self._store.begin() as conn:
            request_id = None
            if decision.approvable:
                request_id = self._open_request(
                    conn, decision, action, object_ref, attributes, project
                )
            audit.record(
                conn,
                self._actor,
                "policy.deny",
                "policy",
                decision.policy or "",
                {"action": action, "object": object_ref, "request": request_id},
            )
        hint = (
            f"an approver signs it off with: gp approve {request_id}"
            if request_id
            else "see the policy with: gp policy list"
        )
        return PolicyDenied(
            f"policy {decision.policy!r} denies {action} on {object_ref}: {decision.message}",
            hint=hint,
            policy=decision.policy or "",
            request_id=request_id,
        )

    def _evaluate(
        self,
        policies: builtins.list[Policy],
        action: str,
        attributes: dict[str, Any],
        project: str | None,
        approved: bool,
    ) -> Decision:
        return evaluate(
            policies,
            action,
            self._actor,
            attributes,
            project=project,
            approved=approved,
            limits=self._limits,
        )

    def _use(self, conn: Connection, approval: str, action: str, object_ref: str) -> bool:
        """Mark an approval used, if it still is approved (the conditional update is the
        re-check: of two requests relying on one approval, exactly one uses it)."""
        result = conn.execute(
            approval_requests.update()
            .where(
                (approval_requests.c.id == approval) & (approval_requests.c.status == "approved")
            )
            .values(status="used")
        )
        if result.rowcount != 1:
            return False
        audit.record(
            conn,
            self._actor,
            "approval.use",
            "approval",
            approval,
            {"action": action, "object": object_ref},
        )
        return True

    def _request(
        self,
        conn: Connection,
        status: str,
        action: str,
        object_ref: str,
        attributes: dict[str, Any],
        project: str | None,
    ) -> str | None:
        """The acting principal's own request in ``status`` for exactly this action: the same
        object, project and attributes. What was approved is what may happen (not another
        model under the same name), and only for its requester: an approver cannot sign off
        someone's request and then carry the action out under it."""
        rows = conn.execute(
            select(
                approval_requests.c.id, approval_requests.c.project, approval_requests.c.attributes
            )
            .where(
                (approval_requests.c.action == action)
                & (approval_requests.c.object_ref == object_ref)
                & (approval_requests.c.requested_by == self._actor.name)
                & (approval_requests.c.status == status)
            )
            .order_by(approval_requests.c.created_at)
        ).all()
        wanted = _canonical(attributes)
        for row in rows:
            if row.project == project and _canonical(row.attributes) == wanted:
                return str(row.id)
        return None

    def _open_request(
        self,
        conn: Connection,
        decision: Decision,
        action: str,
        object_ref: str,
        attributes: dict[str, Any],
        project: str | None,
    ) -> str:
        pending = self._request(conn, "pending", action, object_ref, attributes, project)
        if pending is not None:
            return pending
        request_id = new_id()
        conn.execute(
            approval_requests.insert().values(
                id=request_id,
                policy=decision.policy,
                action=action,
                object_ref=object_ref,
                project=project,
                attributes=json.loads(_canonical(attributes)),
                requested_by=self._actor.name,
                status="pending",
                decided_by=None,
                decided_at=None,
                reason=None,
                created_at=utcnow(),
            )
        )
        audit.record(
            conn,
            self._actor,
            "approval.request",
            "approval",
            request_id,
            {"policy": decision.policy, "action": action, "object": object_ref},
        )
        return request_id

    def approve(
        self, request_id: str, *, reject: bool = False, reason: str | None = None
    ) -> ApprovalRequest:
        """Sign off (or reject) a pending request; needs ``approver`` on its project."""
        with self._store.begin() as conn:
            row = (
                conn.execute(select(approval_requests).where(approval_requests.c.id == request_id))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound(
                    f"no approval request {request_id!r}", hint="see them with: gp approvals list"
                )
            self._access.require("approval.approve", row["project"])
            if row["requested_by"] == self._actor.name:
                raise PermissionDenied(
                    "you cannot approve your own request", hint="another approver must sign it off"
                )
            if row["status"] != "pending":
                raise Conflict(f"request {request_id} is already {row['status']}")
            status = "rejected" if reject else "approved"
            conn.execute(
                approval_requests.update()
                .where(approval_requests.c.id == request_id)
                .values(
                    status=status, decided_by=self._actor.name, decided_at=utcnow(), reason=reason
                )
            )
            audit.record(
                conn,
                self._actor,
                f"approval.{'reject' if reject else 'approve'}",
                "approval",
                request_id,
                {"reason": reason, "action": row["action"], "object": row["object_ref"]},
            )
        return self.get(request_id)

    def get(self, request_id: str) -> ApprovalRequest:
        with self._store.connect() as conn:
            row = (
                conn.execute(select(approval_requests).where(approval_requests.c.id == request_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"no approval request {request_id!r}")
        return ApprovalRequest(**dict(row))

    def approvals(self, status: str | None = None) -> builtins.list[ApprovalRequest]:
        """Requests you made, or that you could approve."""
        query = select(approval_requests).order_by(approval_requests.c.created_at.desc())
        if status:
            query = query.where(approval_requests.c.status == status)
        with self._store.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            ApprovalRequest(**dict(r))
            for r in rows
            if r["requested_by"] == self._actor.name
            or self._access.allowed("approval.approve", r["project"])
        ]
