"""Authorization: what the acting principal may do, checked by every service call.

:class:`AccessControl` turns the principal's grants into permission sets once (per SDK session
or server request), so a check is two or three set lookups. Agents are further limited to
their ``allowed_actions`` and tokens to their scopes: the effective permission is the
intersection of all three.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Self

from sqlalchemy import Connection, bindparam, select

from goldenpath.core.actor import Actor
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from goldenpath.core.ids import new_id
from goldenpath.core.names import validate_name
from goldenpath.governance import audit
from goldenpath.governance.principals import (
    BearerToken,
    Enforcer,
    Identity,
    Principal,
    principal_by_id,
    principal_by_name,
)
from goldenpath.governance.roles import DELEGABLE, ROLES, WORKSPACE_PERMISSIONS
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import grants, principals, projects


@dataclass(frozen=True)
class Grant:
    """A role held by a principal on a scope."""

    principal: str
    role: str
    scope_kind: str
    scope_name: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})


@dataclass(frozen=True)
class Project:
    """A project and the team it belongs to."""

    name: str
    team: str
    created_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "created_at": self.created_at.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return cls(**{**data, "created_at": datetime.fromisoformat(data["created_at"])})


# Built once: a statement built per call costs more than running it.
_GRANTS_OF = select(grants.c.role, grants.c.scope_kind, grants.c.scope_name).where(
    grants.c.principal_id == bindparam("principal_id")
)
_TEAMS = select(projects.c.name, projects.c.team)


class AccessControl:
    """The acting principal's effective permissions."""

    _teams: dict[str, str] | None

    def __init__(
        self,
        store: MetadataStore,
        principal: Principal,
        scopes: frozenset[str] | None = None,
        grants: Iterable[Sequence[str]] | None = None,
        token: BearerToken | None = None,
    ) -> None:
        """``grants`` (role, scope kind, scope name) if already read; else they are read now.
        ``token``: the bearer token acting, if any (what a token it creates may not exceed)."""
        self._store = store
        self.principal = principal
        self.token = token
        self._scopes = scopes
        if grants is None:
            self.reload()
        else:
            self._apply(grants)

    @classmethod
    def of(cls, store: MetadataStore, identity: Identity) -> Self:
        """The permissions of an authenticated token (its grants were read with it)."""
        return cls(store, identity.principal, identity.scopes, identity.grants, identity.token)

    def reload(self) -> None:
        """Re-read the principal (disabled meanwhile?), its grants and projects (after a grant
        changes; a long-lived process, such as an inference server, every so often)."""
        with self._store.connect() as conn:
            current = principal_by_id(conn, self.principal.id)
            if current is not None:
                self.principal = current
            held = conn.execute(_GRANTS_OF, {"principal_id": self.principal.id}).all()
            self._apply([tuple(row) for row in held])
            if self._team:  # only team grants need to know which team each project is in
                self._teams = dict(conn.execute(_TEAMS).all())

    def _apply(self, held: Iterable[Sequence[str]]) -> None:
        self._teams = None  # which team each project is in: read when first needed
        self._workspace: set[str] = set()
        self._team: dict[str, set[str]] = {}
        self._project: dict[str, set[str]] = {}
        for role, kind, name in held:
            permissions = ROLES.get(role, frozenset())
            if kind == "workspace":
                self._workspace |= permissions
            elif kind == "team":
                self._team.setdefault(name, set()).update(permissions - WORKSPACE_PERMISSIONS)
            else:
                self._project.setdefault(name, set()).update(permissions - WORKSPACE_PERMISSIONS)

    def _project_teams(self) -> dict[str, str]:
        if self._teams is None:
            with self._store.connect() as conn:
                self._teams = dict(conn.execute(_TEAMS).all())
        return self._teams

    def allowed(self, permission: str, project: str | None = None) -> bool:
        """Whether the principal may use ``permission`` (on ``project``, if given)."""
        if not self.principal.usable(utcnow()):
            return False
        if (
            self.principal.allowed_actions is not None
            and permission not in self.principal.allowed_actions
        ):
            return False
        if self._scopes is not None and permission not in self._scopes:
            return False
        if permission in self._workspace:
            return True
        if project is None:
            return False
        if permission in self._project.get(project, ()):
            return True
        return bool(self._team) and permission in self._team.get(
            self._project_teams().get(project, ""), ()
        )

    def require(self, permission: str, project: str | None = None) -> None:
        """Raise :class:`PermissionDenied` unless :meth:`allowed`."""
        if self.allowed(permission, project):
            return
        where = f" on project {project!r}" if project else " on this workspace"
        raise PermissionDenied(
            f"{self.principal.name!r} may not {permission}{where}",
            hint="ask an admin or the project's maintainer for a role: "
            f"gp access grant ROLE {self.principal.name}"
            + (f" --project {project}" if project else ""),
        )

    def projects_with(self, permission: str) -> set[str] | None:
        """Projects where ``permission`` is allowed; ``None`` means every project."""
        if self.allowed(permission):
            return None
        candidates = self._project_teams() if self._team else self._project
        return {p for p in candidates if self.allowed(permission, p)}

    def team_of(self, project: str) -> str | None:
        return self._project_teams().get(project)


def insert_grant(
    conn: Connection,
    actor: Actor,
    principal: Principal,
    role: str,
    scope_kind: str,
    scope_name: str,
) -> None:
    exists = conn.execute(
        select(grants.c.id).where(
            (grants.c.principal_id == principal.id)
            & (grants.c.role == role)
            & (grants.c.scope_kind == scope_kind)
            & (grants.c.scope_name == scope_name)
        )
    ).first()
    if exists is not None:
        return
    conn.execute(
        grants.insert().values(
            id=new_id(),
            principal_id=principal.id,
            role=role,
            scope_kind=scope_kind,
            scope_name=scope_name,
            created_at=utcnow(),
            created_by=actor.name,
        )
    )
    audit.record(
        conn,
        actor,
        "access.grant",
        "principal",
        principal.name,
        {"role": role, "scope": f"{scope_kind}:{scope_name}"},
    )


class AccessService:
    """Granting and revoking roles, and projects (``ws.access``)."""

    def __init__(
        self,
        store: MetadataStore,
        actor: Actor,
        access: AccessControl,
        policies: Enforcer | None = None,
    ) -> None:
        self._store = store
        self._actor = actor
        self._access = access
        self._policies = policies

    def whoami(self) -> dict[str, Any]:
        """The acting principal and its grants."""
        return {
            "principal": self._access.principal.as_dict(),
            "grants": [g.as_dict() for g in self._grants(self._access.principal.name)],
        }

    def _scope(self, project: str | None, team: str | None) -> tuple[str, str]:
        if project and team:
            raise InvalidInput("give --project or --team, not both")
        if project:
            validate_name(project, kind="project name")
            if self._access.team_of(project) is None:
                raise NotFound(
                    f"no project named {project!r}", hint="see them with: gp projects list"
                )
            return "project", project
        if team:
            return "team", validate_name(team, kind="team name")
        return "workspace", "*"

    def _require_grant_right(self, role: str, kind: str, name: str) -> None:
        if role not in ROLES:
            raise InvalidInput(f"unknown role {role!r}", hint=f"roles: {', '.join(ROLES)}")
        if self._access.allowed("principal.manage"):
            return  # a workspace admin may grant anything
        if role not in DELEGABLE or kind != "project":
            raise PermissionDenied(f"only a workspace admin may grant {role!r} on {kind} {name}")
        self._access.require("access.grant", name)

    def grant(
        self, role: str, principal: str, *, project: str | None = None, team: str | None = None
    ) -> Grant:
        """Give ``principal`` a role on a project, a team, or (neither) the workspace."""
        kind, name = self._scope(project, team)
        self._require_grant_right(role, kind, name)
        if self._policies is not None:
            self._policies.enforce(
                "access.grant",
                f"{kind}:{name}",
                {"role": role, "principal": principal, "scope_kind": kind, "scope_name": name},
                project=name if kind == "project" else None,
            )
        with self._store.begin() as conn:
            target = principal_by_name(conn, principal)
            if target is None:
                raise NotFound(
                    f"no principal named {principal!r}", hint="add one with: gp principals add NAME"
                )
            insert_grant(conn, self._actor, target, role, kind, name)
        self._access.reload()
        return next(
            g
            for g in self._grants(principal)
            if (g.role, g.scope_kind, g.scope_name) == (role, kind, name)
        )

    def revoke(
        self, role: str, principal: str, *, project: str | None = None, team: str | None = None
    ) -> None:
        """Take a role away."""
        kind, name = self._scope(project, team)
        self._require_grant_right(role, kind, name)
        with self._store.begin() as conn:
            target = principal_by_name(conn, principal)
            if target is None:
                raise NotFound(f"no principal named {principal!r}")
            result = conn.execute(
                grants.delete().where(
                    (grants.c.principal_id == target.id)
                    & (grants.c.role == role)
                    & (grants.c.scope_kind == kind)
                    & (grants.c.scope_name == name)
                )
            )
            if result.rowcount == 0:
                raise NotFound(f"{principal!r} has no {role!r} role on {kind} {name}")
            audit.record(
                conn,
                self._actor,
                "access.revoke",
                "principal",
                principal,
                {"role": role, "scope": f"{kind}:{name}"},
            )
        self._access.reload()

    def list(
        self, *, principal: str | None = None, project: str | None = None
    ) -> builtins.list[Grant]:
        """Grants, filtered by principal and/or project."""
        if project:
            self._access.require("access.read", project)
        elif principal != self._access.principal.name:
            self._access.require("principal.manage")
        found = self._grants(principal)
        if project:
            team = self._access.team_of(project)
            found = [
                g
                for g in found
                if (g.scope_kind, g.scope_name)
                in {("project", project), ("team", team), ("workspace", "*")}
            ]
        return found

    def _grants(self, principal: str | None) -> builtins.list[Grant]:
        query = (
            select(
                principals.c.name,
                grants.c.role,
                grants.c.scope_kind,
                grants.c.scope_name,
                grants.c.created_at,
            )
            .join(principals, principals.c.id == grants.c.principal_id)
            .order_by(principals.c.name, grants.c.scope_kind, grants.c.scope_name)
        )
        if principal:
            query = query.where(principals.c.name == principal)
        with self._store.connect() as conn:
            return [Grant(*row) for row in conn.execute(query).all()]

    def create_project(self, name: str, *, team: str = "default") -> Project:
        """Create a project in ``team``."""
        self._access.require("project.create")
        validate_name(name, kind="project name")
        validate_name(team, kind="team name")
        with self._store.begin() as conn:
            if conn.execute(select(projects.c.id).where(projects.c.name == name)).first():
                raise Conflict(f"a project named {name!r} already exists")
            now = utcnow()
            conn.execute(
                projects.insert().values(
                    id=new_id(), name=name, team=team, created_at=now, created_by=self._actor.name
                )
            )
            audit.record(conn, self._actor, "project.create", "project", name, {"team": team})
        self._access.reload()
        return Project(name, team, now)

    def projects(self) -> builtins.list[Project]:
        """Projects the principal can see."""
        visible = self._access.projects_with("project.read")
        with self._store.connect() as conn:
            rows = conn.execute(
                select(projects.c.name, projects.c.team, projects.c.created_at).order_by(
                    projects.c.name
                )
            ).all()
        return [Project(*r) for r in rows if visible is None or r[0] in visible]
