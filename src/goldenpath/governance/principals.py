"""Principals (users, service accounts, AI agents) and their bearer tokens.

A token is ``gp_`` + 256 random bits (url-safe base64), shown once; only its sha256 is stored.
Because the secret is uniformly random, a plain hash is as strong as a slow KDF here, and keeps
authentication to one indexed lookup.

Tokens only narrow. A token that creates a token for its own principal is that token's parent:
the child's scopes are a subset of the parent's, it expires no later than the parent, and
revoking the parent revokes it (and its children, in the same transaction). A token that an
admin (``token.manage``) issues to another principal, or that the trusted OS user creates in
embedded use, has no parent. Every token lives at most ``limits.token_lifetime_max_days``.
"""

from __future__ import annotations

import builtins
import hashlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import Connection, bindparam, select

from goldenpath.core.actor import Actor
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from goldenpath.core.ids import new_id
from goldenpath.core.limits import Limits
from goldenpath.core.names import validate_name
from goldenpath.governance import Kind, audit
from goldenpath.governance.roles import PERMISSIONS
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import grants, principals, tokens

if TYPE_CHECKING:
    from goldenpath.governance.policies import Hold

TOKEN_PATTERN = re.compile(r"gp_[A-Za-z0-9_-]{43}")
_DURATION = re.compile(r"^(\d+)([mhdw])$")
_MAX_AGENT_LIFETIME = timedelta(days=90)
_DEFAULT_TOKEN_LIFETIME = timedelta(days=30)


def parse_lifetime(text: str) -> timedelta:
    """``30m``, ``12h``, ``30d``, ``2w`` as a timedelta (at most ten years)."""
    match = _DURATION.match(text.strip())
    if not match or int(match.group(1)) == 0:
        raise InvalidInput(f"invalid duration {text!r}", hint="use e.g. 30m, 12h, 30d or 2w")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
    lifetime = timedelta(**{unit: int(match.group(1))})
    if lifetime > timedelta(days=3650):
        raise InvalidInput(f"duration {text!r} is longer than ten years")
    return lifetime


def _when(value: str | None) -> Any:
    return datetime.fromisoformat(value) if value else None


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def check_permissions(names: builtins.list[str] | None, what: str) -> builtins.list[str] | None:
    if names is None:
        return None
    unknown = sorted(set(names) - PERMISSIONS)
    if unknown:
        raise InvalidInput(
            f"unknown {what}: {', '.join(unknown)}",
            hint=f"permissions are: {', '.join(sorted(PERMISSIONS))}",
        )
    return sorted(set(names))


@dataclass(frozen=True)
class Principal:
    """Someone or something that acts: a user, a service account or an AI agent."""

    id: str
    name: str
    kind: str
    owner: str | None
    allowed_actions: list[str] | None
    expires_at: datetime | None
    disabled_at: datetime | None
    created_at: datetime

    def usable(self, now: datetime) -> bool:
        return self.disabled_at is None and (self.expires_at is None or self.expires_at > now)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("expires_at", "disabled_at", "created_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Principal:
        return cls(
            **{**data, **{k: _when(data[k]) for k in ("expires_at", "disabled_at", "created_at")}}
        )


@dataclass(frozen=True)
class TokenInfo:
    """A token's metadata (never its secret)."""

    id: str
    principal: str
    scopes: list[str] | None
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime
    parent: str | None = None  # the token it was created with; revoked with it

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for key in ("expires_at", "revoked_at", "created_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenInfo:
        return cls(
            **{**data, **{k: _when(data[k]) for k in ("expires_at", "revoked_at", "created_at")}}
        )


@dataclass(frozen=True)
class CreatedToken:
    """A new token: ``secret`` is shown this once and stored nowhere."""

    info: TokenInfo
    secret: str


def principal_by_name(conn: Connection, name: str) -> Principal | None:
    row = conn.execute(select(principals).where(principals.c.name == name)).mappings().first()
    return None if row is None else _principal(row)


def principal_by_id(conn: Connection, principal_id: str) -> Principal | None:
    row = conn.execute(select(principals).where(principals.c.id == principal_id)).mappings().first()
    return None if row is None else _principal(row)


def _principal(row: Any) -> Principal:
    return Principal(
        row["id"],
        row["name"],
        row["kind"],
        row["owner"],
        row["allowed_actions"],
        row["expires_at"],
        row["disabled_at"],
        row["created_at"],
    )


def insert_principal(
    conn: Connection,
    actor: Actor,
    name: str,
    kind: Kind,
    *,
    owner: str | None = None,
    allowed_actions: builtins.list[str] | None = None,
    expires_at: datetime | None = None,
) -> Principal:
    """Create a principal on ``conn`` (audited); raise :class:`Conflict` if the name is taken."""
    if principal_by_name(conn, name) is not None:
        raise Conflict(
            f"a principal named {name!r} already exists", hint="see them with: gp principals list"
        )
    row = {
        "id": new_id(),
        "name": name,
        "kind": kind,
        "owner": owner,
        "allowed_actions": allowed_actions,
        "expires_at": expires_at,
        "disabled_at": None,
        "created_at": utcnow(),
        "created_by": actor.name,
    }
    conn.execute(principals.insert().values(**row))
    audit.record(
        conn,
        actor,
        "principal.create",
        "principal",
        name,
        {
            "kind": kind,
            "owner": owner,
            "allowed_actions": allowed_actions,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return _principal(row)


@dataclass(frozen=True)
class BearerToken:
    """The token a caller authenticated with: what a token it creates may not exceed."""

    id: str
    scopes: frozenset[str] | None
    expires_at: datetime


@dataclass(frozen=True)
class Identity:
    """Who a bearer token speaks for: the principal, the token's scopes, the roles it holds."""

    principal: Principal
    scopes: frozenset[str] | None
    grants: tuple[tuple[str, str, str], ...]  # (role, scope kind, scope name)
    token: BearerToken | None = None


# Token, principal and grants in one indexed query, built once (a statement built per call
# costs more than running it).
_BY_TOKEN = (
    select(
        tokens.c.id.label("token_id"),
        tokens.c.scopes,
        tokens.c.expires_at.label("token_expires_at"),
        tokens.c.revoked_at,
        principals,
        grants.c.role,
        grants.c.scope_kind,
        grants.c.scope_name,
    )
    .join(principals, principals.c.id == tokens.c.principal_id)
    .outerjoin(grants, grants.c.principal_id == principals.c.id)
    .where(tokens.c.token_hash == bindparam("token_hash"))
)


def authenticate(store: MetadataStore, secret: str, conn: Connection | None = None) -> Identity:
    """The identity behind a bearer token; raise :class:`Unauthenticated` unless it is valid
    now (the token neither revoked nor expired, its principal neither disabled nor expired)."""
    if not TOKEN_PATTERN.fullmatch(secret or ""):
        raise Unauthenticated("invalid token", hint="create one with: gp tokens create")
    now = utcnow()
    params = {"token_hash": token_hash(secret)}
    if conn is not None:
        rows = conn.execute(_BY_TOKEN, params).mappings().all()
    else:
        with store.connect() as fresh:
            rows = fresh.execute(_BY_TOKEN, params).mappings().all()
    if not rows:
        raise Unauthenticated("invalid token", hint="create one with: gp tokens create")
    row = rows[0]
    if row["revoked_at"] is not None:
        raise Unauthenticated("this token was revoked", hint="create a new one")
    if row["token_expires_at"] <= now:
        raise Unauthenticated("this token has expired", hint="create a new one")
    principal = _principal(row)
    if not principal.usable(now):
        raise Unauthenticated(f"principal {principal.name!r} is disabled or expired")
    scopes = row["scopes"]
    held = tuple(
        (r["role"], r["scope_kind"], r["scope_name"]) for r in rows if r["role"] is not None
    )
    scope_set = frozenset(scopes) if scopes is not None else None
    bearer = BearerToken(row["token_id"], scope_set, row["token_expires_at"])
    return Identity(principal, scope_set, held, bearer)


class Caller(Protocol):
    """What token management needs of the caller's permissions (``AccessControl``)."""

    principal: Principal
    token: BearerToken | None

    def require(self, permission: str, project: str | None = None) -> None: ...


class Enforcer(Protocol):
    """Policy enforcement as the services need it (``PolicyService``): ``enforce`` before an
    action; ``hold`` checks one that another action's ``enforce(..., holds=)`` completes."""

    def enforce(
        self,
        action: str,
        object_ref: str,
        attributes: dict[str, Any],
        *,
        project: str | None,
        holds: Sequence[Hold] = (),
    ) -> object: ...

    def hold(
        self, action: str, object_ref: str, attributes: dict[str, Any], *, project: str | None
    ) -> Hold: ...


def narrowed_scopes(
    requested: builtins.list[str] | None, parent: frozenset[str] | None
) -> builtins.list[str] | None:
    """The scopes of a token created with a token whose scopes are ``parent``: what was asked
    for (the parent's own scopes if nothing was), refused unless within the parent's."""
    if parent is None:
        return requested
    if requested is None:
        return sorted(parent)
    beyond = sorted(set(requested) - parent)
    if beyond:
        raise PermissionDenied(
            f"this token may not create a token with scope(s) it does not have: "
            f"{', '.join(beyond)}",
            hint=f"its scopes are: {', '.join(sorted(parent)) or '(none)'}; ask an admin "
            "for a broader token",
        )
    return requested


def revoke_descendants(conn: Connection, token_id: str, now: datetime) -> builtins.list[str]:
    """Revoke every token created (directly or not) with ``token_id``; return their ids.

    Each level's rows are updated before their children are read: on PostgreSQL the update
    waits for a concurrent ``create_token`` holding the parent row, so its child is seen."""
    revoked: builtins.list[str] = []
    frontier = [token_id]
    seen = {token_id}
    while frontier:
        children = [
            (row.id, row.revoked_at)
            for row in conn.execute(
                select(tokens.c.id, tokens.c.revoked_at).where(tokens.c.parent_id.in_(frontier))
            )
            if row.id not in seen
        ]
        fresh = [child for child, revoked_at in children if revoked_at is None]
        if fresh:
            conn.execute(tokens.update().where(tokens.c.id.in_(fresh)).values(revoked_at=now))
            revoked.extend(fresh)
        frontier = [child for child, _ in children]
        seen.update(frontier)
    return revoked


class PrincipalService:
    """Managing principals and tokens (``ws.principals``)."""

    def __init__(
        self,
        store: MetadataStore,
        actor: Actor,
        access: Caller,
        limits: Limits | None = None,
        policies: Enforcer | None = None,
    ) -> None:
        self._store = store
        self._actor = actor
        self._access = access
        self._limits = limits or Limits()
        self._policies = policies

    def add(
        self,
        name: str,
        *,
        kind: Kind = "user",
        owner: str | None = None,
        allowed_actions: builtins.list[str] | None = None,
        expires_in: str | None = None,
    ) -> Principal:
        """Add a principal. Agents need an owner, allowed actions and an expiry (<= 90 days)."""
        self._access.require("principal.manage")
        validate_name(name, kind="principal name")
        if kind not in ("user", "service", "agent"):
            raise InvalidInput(
                f"unknown principal kind {kind!r}", hint="use user, service or agent"
            )
        allowed = check_permissions(allowed_actions, "allowed action(s)")
        lifetime = parse_lifetime(expires_in) if expires_in else None
        if kind == "agent":
            if not owner or not allowed or lifetime is None:
                raise InvalidInput(
                    "an agent needs --owner, --allow ACTION (one or more) and --expires",
                    hint="e.g. gp principals add triage-bot --kind "
                    "agent --owner alice --allow dataset.read --expires 30d",
                )
            if lifetime > _MAX_AGENT_LIFETIME:
                raise InvalidInput("an agent may live at most 90 days", hint="use --expires 90d")
        with self._store.begin() as conn:
            if owner is not None and principal_by_name(conn, owner) is None:
                raise NotFound(f"no principal named {owner!r} to own {name!r}")
            return insert_principal(
                conn,
                self._actor,
                name,
                kind,
                owner=owner,
                allowed_actions=allowed,
                expires_at=utcnow() + lifetime if lifetime else None,
            )

    def list(self) -> builtins.list[Principal]:
        self._access.require("principal.manage")
        with self._store.connect() as conn:
            rows = conn.execute(select(principals).order_by(principals.c.name)).mappings()
            return [_principal(r) for r in rows]

    def disable(self, name: str) -> None:
        """Disable a principal: its tokens stop working at once."""
        self._access.require("principal.manage")
        with self._store.begin() as conn:
            if principal_by_name(conn, name) is None:
                raise NotFound(f"no principal named {name!r}")
            conn.execute(
                principals.update().where(principals.c.name == name).values(disabled_at=utcnow())
            )
            audit.record(conn, self._actor, "principal.disable", "principal", name)

    def _lifetime(self, expires_in: str | None) -> timedelta:
        longest = timedelta(days=self._limits.token_lifetime_max_days)
        if not expires_in:
            return min(_DEFAULT_TOKEN_LIFETIME, longest)
        lifetime = parse_lifetime(expires_in)
        if lifetime > longest:
            days = self._limits.token_lifetime_max_days
            raise InvalidInput(
                f"a token may live at most {days} days; {expires_in!r} is longer",
                hint=f"use --expires {days}d or less (an operator sets the limit: "
                "limits.token_lifetime_max_days in config.yaml, or "
                "GP_LIMIT_TOKEN_LIFETIME_MAX_DAYS)",
            )
        return lifetime

    def create_token(
        self,
        principal: str,
        *,
        expires_in: str | None = None,
        scopes: builtins.list[str] | None = None,
    ) -> CreatedToken:
        """A new bearer token for ``principal`` (yourself, or anyone with token.manage).

        ``expires_in`` defaults to 30 days (at most ``limits.token_lifetime_max_days``).
        Created with a token for yourself, the new token is its child: its ``scopes`` must be
        within the parent's (default: the parent's), it expires no later than the parent
        (an explicit longer ``expires_in`` is refused; the default is shortened), and
        revoking the parent revokes it. A token for another principal has no parent."""
        own = principal == self._access.principal.name
        if not own:
            self._access.require("token.manage")
        lifetime = self._lifetime(expires_in)
        scope_list = check_permissions(scopes, "scope(s)")
        parent = self._access.token if own else None
        if parent is not None:
            scope_list = narrowed_scopes(scope_list, parent.scopes)
        now = utcnow()
        expires_at = now + lifetime
        if parent is not None and expires_at > parent.expires_at:
            if expires_in:
                raise PermissionDenied(
                    f"this token expires at {parent.expires_at.isoformat(timespec='seconds')}; "
                    f"a token it creates cannot live longer ({expires_in!r} asked)",
                    hint="ask for a shorter --expires, or an admin for a longer-lived token",
                )
            expires_at = parent.expires_at
        if self._policies is not None:
            # Outside the write transaction: a policy must never run under the write lock.
            self._policies.enforce(
                "token.create",
                principal,
                {
                    "principal": principal,
                    "scopes": scope_list,
                    "expires_in_seconds": int((expires_at - now).total_seconds()),
                    "derived": parent is not None,
                },
                project=None,
            )
        secret = "gp_" + secrets.token_urlsafe(32)
        with self._store.begin() as conn:
            owner = principal_by_name(conn, principal)
            if owner is None:
                raise NotFound(
                    f"no principal named {principal!r}", hint="add one with: gp principals add NAME"
                )
            if parent is not None:
                self._lock_live_parent(conn, parent, now)
            if owner.expires_at is not None:
                expires_at = min(expires_at, owner.expires_at)
            token_id = new_id()
            conn.execute(
                tokens.insert().values(
                    id=token_id,
                    principal_id=owner.id,
                    token_hash=token_hash(secret),
                    scopes=scope_list,
                    expires_at=expires_at,
                    revoked_at=None,
                    created_at=now,
                    created_by=self._actor.name,
                    parent_id=parent.id if parent else None,
                )
            )
            audit.record(
                conn,
                self._actor,
                "token.create",
                "token",
                token_id,
                {
                    "principal": principal,
                    "scopes": scope_list,
                    "expires_at": expires_at.isoformat(),
                    "parent": parent.id if parent else None,
                },
            )
        info = TokenInfo(
            token_id, principal, scope_list, expires_at, None, now, parent.id if parent else None
        )
        return CreatedToken(info, secret)

    @staticmethod
    def _lock_live_parent(conn: Connection, parent: BearerToken, now: datetime) -> None:
        """Refuse unless the parent is still live, holding its row until commit (PostgreSQL:
        a concurrent revoke waits for this child and then revokes it too; SQLite's write lock
        already serialises the two)."""
        row = conn.execute(
            select(tokens.c.revoked_at, tokens.c.expires_at)
            .where(tokens.c.id == parent.id)
            .with_for_update()
        ).first()
        if row is None or row.revoked_at is not None:
            raise Unauthenticated("this token was revoked", hint="create a new one")
        if row.expires_at <= now:
            raise Unauthenticated("this token has expired", hint="create a new one")

    def revoke_token(self, token_id: str) -> None:
        """Revoke a token (your own, or anyone's with token.manage), and every token that was
        created with it, in one transaction."""
        with self._store.begin() as conn:
            row = conn.execute(
                select(tokens.c.revoked_at, principals.c.name)
                .join(principals, principals.c.id == tokens.c.principal_id)
                .where(tokens.c.id == token_id)
            ).first()
            if row is None:
                raise NotFound(f"no token {token_id!r}", hint="see them with: gp tokens list")
            if row.name != self._access.principal.name:
                self._access.require("token.manage")
            now = utcnow()
            if row.revoked_at is None:
                conn.execute(tokens.update().where(tokens.c.id == token_id).values(revoked_at=now))
            # Also when the token was already revoked: a retry completes a cascade.
            cascade = revoke_descendants(conn, token_id, now)
            if row.revoked_at is None or cascade:
                audit.record(
                    conn,
                    self._actor,
                    "token.revoke",
                    "token",
                    token_id,
                    {"principal": row.name, "descendants": cascade},
                )

    def tokens(self, principal: str | None = None) -> builtins.list[TokenInfo]:
        """Tokens of ``principal`` (default: yourself); others' need token.manage."""
        name = principal or self._access.principal.name
        if name != self._access.principal.name:
            self._access.require("token.manage")
        with self._store.connect() as conn:
            rows = conn.execute(
                select(tokens, principals.c.name)
                .join(principals, principals.c.id == tokens.c.principal_id)
                .where(principals.c.name == name)
                .order_by(tokens.c.created_at)
            ).mappings()
            return [
                TokenInfo(
                    r["id"],
                    r["name"],
                    r["scopes"],
                    r["expires_at"],
                    r["revoked_at"],
                    r["created_at"],
                    r["parent_id"],
                )
                for r in rows
            ]
