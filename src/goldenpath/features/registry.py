"""The feature registry: which definition versions exist, which is current, who uses which.

Versions are immutable and identified by their content hash. ``apply`` makes a changed
definition's new version *current* (what new training sets and models get); a user that pinned
an older version (a training set records the view versions it read) keeps reading exactly that
version. So a changed expression or type never silently changes what a pinned user receives,
and the only change refused is one that would take away what a user reads: removing a view,
a service, or a feature of a view, while a user reads it (the users are named). See
docs/features.md, "Versions and users".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from goldenpath.core.actor import Actor
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import Conflict, NotFound
from goldenpath.core.ids import new_id
from goldenpath.features.definitions import (
    Entity,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
)
from goldenpath.features.project import Definitions
from goldenpath.governance import audit
from goldenpath.store.tables import feature_definitions as defs
from goldenpath.store.tables import feature_users, feature_versions, projects

Item = Entity | FeatureView | OnDemandFeatureView | FeatureService

KINDS = {
    Entity: "entity",
    FeatureView: "feature_view",
    OnDemandFeatureView: "on_demand",
    FeatureService: "feature_service",
}
NAMESPACE = {
    "entity": "entity",
    "feature_view": "view",
    "on_demand": "view",
    "feature_service": "service",
}


def kind_of(item: Item) -> str:
    return KINDS[type(item)]


def _metadata(item: Item) -> dict[str, Any]:
    return {"description": item.description, "owner": item.owner, "tags": dict(item.tags)}


def _outputs(content: dict[str, Any]) -> set[str]:
    """The feature names a version offers (what users read)."""
    kind = content.get("kind")
    if kind == "feature_view":
        return {f["name"] for f in content["features"]} | {
            a["name"] for a in content["aggregations"]
        }
    if kind == "on_demand":
        return {f["name"] for f in content["outputs"]}
    if kind == "feature_service":
        return set(content["features"])
    return set()


@dataclass(frozen=True)
class User:
    """Something that reads a definition version: a training set now, a model later."""

    kind: str
    id: str
    version: int
    features: list[str]

    def __str__(self) -> str:
        return f"{self.kind} {self.id} (v{self.version})"


@dataclass(frozen=True)
class Change:
    """One definition in a plan: new, changed (a new version), metadata (edited in place),
    unchanged or removed."""

    kind: str
    name: str
    status: str
    version: int | None
    previous: int | None = None
    details: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    """The difference between a ``features.py`` and the registry."""

    project: str
    changes: list[Change]

    @property
    def pending(self) -> list[Change]:
        return [c for c in self.changes if c.status != "unchanged"]

    def as_dict(self) -> dict[str, Any]:
        return {"project": self.project, "changes": [c.as_dict() for c in self.changes]}


def _current(conn: Connection) -> dict[tuple[str, str], Any]:
    rows = conn.execute(
        select(
            defs.c.id,
            defs.c.kind,
            defs.c.namespace,
            defs.c.name,
            defs.c.current_version,
            defs.c.description,
            defs.c.owner,
            defs.c.tags,
            defs.c.removed_at,
            projects.c.name.label("project"),
            feature_versions.c.version_hash,
            feature_versions.c.content,
        )
        .join(projects, projects.c.id == defs.c.project_id)
        .join(
            feature_versions,
            (feature_versions.c.definition_id == defs.c.id)
            & (feature_versions.c.version == defs.c.current_version),
        )
    ).all()
    return {(r.namespace, r.name): r for r in rows}


def users_of(conn: Connection, definition_id: str) -> list[User]:
    """Every user of every version of a definition."""
    rows = conn.execute(
        select(
            feature_users.c.user_kind,
            feature_users.c.user_id,
            feature_users.c.features,
            feature_versions.c.version,
        )
        .join(feature_versions, feature_versions.c.id == feature_users.c.version_id)
        .where(feature_versions.c.definition_id == definition_id)
        .order_by(feature_users.c.created_at)
    ).all()
    return [User(r.user_kind, r.user_id, r.version, list(r.features)) for r in rows]


def _describe(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    details: list[str] = []
    if old.get("kind") == "feature_view":
        before = {f["name"]: f for f in (*old["features"], *old["aggregations"])}
        after = {f["name"]: f for f in (*new["features"], *new["aggregations"])}
        details += [f"feature {n}: added" for n in sorted(set(after) - set(before))]
        details += [f"feature {n}: removed" for n in sorted(set(before) - set(after))]
        for name in sorted(set(before) & set(after)):
            changed = [k for k in after[name] if before[name].get(k) != after[name][k]]
            if changed:
                details.append(f"feature {name}: {', '.join(changed)} changed")
        keys = ("source", "timestamp", "created_timestamp", "ttl_seconds", "timezone", "entities")
        details += [f"{k} changed" for k in keys if old.get(k) != new.get(k)]
    else:
        details += [f"{k} changed" for k in new if k != "kind" and old.get(k) != new.get(k)]
    return details


def plan(conn: Connection, definitions: Definitions, project: str) -> Plan:
    """Compare ``definitions`` with the registry's current versions (nothing written)."""
    current = _current(conn)
    items: list[Item] = [
        *definitions.entities.values(),
        *definitions.views.values(),
        *definitions.on_demand.values(),
        *definitions.services.values(),
    ]
    changes: list[Change] = []
    seen: set[tuple[str, str]] = set()
    for item in items:
        kind = kind_of(item)
        key = (NAMESPACE[kind], item.name)
        seen.add(key)
        row = current.get(key)
        if row is None:
            changes.append(Change(kind, item.name, "new", 1))
            continue
        if row.project != project:
            raise Conflict(
                f"{kind.replace('_', ' ')} {item.name!r} is defined in project "
                f"{row.project!r}, not {project!r}",
                hint=f"apply it from project {row.project!r} (--project), or rename it",
            )
        if row.kind != kind:
            raise Conflict(
                f"{item.name!r} is a {row.kind.replace('_', ' ')} in the registry, "
                f"not a {kind.replace('_', ' ')}",
                hint="a view cannot change kind: give the new one another name",
            )
        version = _version_with_hash(conn, row.id, item.version_hash)
        if item.version_hash != row.version_hash:
            latest = _latest_version(conn, row.id)
            target = version if version is not None else latest + 1
            details = _describe(dict(row.content), item.content())
            if row.removed_at is not None:
                details.insert(0, "defined again")
            changes.append(Change(kind, item.name, "changed", target, row.current_version, details))
        elif row.removed_at is not None:
            changes.append(
                Change(kind, item.name, "changed", row.current_version, None, ["defined again"])
            )
        elif _metadata(item) != {
            "description": row.description,
            "owner": row.owner,
            "tags": dict(row.tags),
        }:
            changes.append(
                Change(kind, item.name, "metadata", row.current_version, None, ["metadata"])
            )
        else:
            changes.append(Change(kind, item.name, "unchanged", row.current_version))
    for key, row in sorted(current.items()):
        if key not in seen and row.project == project and row.removed_at is None:
            changes.append(Change(row.kind, row.name, "removed", None, row.current_version))
    return Plan(project, changes)


def check_breaking(conn: Connection, the_plan: Plan, definitions: Definitions) -> None:
    """Refuse a plan that takes away what a user reads, naming the users."""
    current = _current(conn)
    for change in the_plan.changes:
        row = current.get((NAMESPACE[change.kind], change.name))
        if row is None or change.status not in ("removed", "changed"):
            continue
        taken: set[str] = set()
        if change.status == "removed":
            taken = _outputs(dict(row.content)) or {"*"}
        else:
            new = _item(definitions, change.kind, change.name).content()
            for version_content in _all_contents(conn, row.id):
                taken |= _outputs(version_content)
            taken -= _outputs(new)
        if not taken:
            continue
        affected = [u for u in users_of(conn, row.id) if not u.features or taken & set(u.features)]
        if change.kind == "entity":
            affected = []
        if affected:
            what = (
                f"removing {change.kind.replace('_', ' ')} {change.name!r}"
                if change.status == "removed"
                else f"removing {', '.join(sorted(taken))} from {change.name!r}"
            )
            named = "; ".join(str(u) for u in affected[:10])
            more = f" and {len(affected) - 10} more" if len(affected) > 10 else ""
            raise Conflict(
                f"{what} would break its users: {named}{more}",
                hint="keep what they read (a changed expression or type is a new version; "
                "pinned users keep theirs), or retire the users first",
            )


def _item(definitions: Definitions, kind: str, name: str) -> Item:
    index: Mapping[str, Item] = {  # type: ignore[assignment]
        "entity": definitions.entities,
        "feature_view": definitions.views,
        "on_demand": definitions.on_demand,
        "feature_service": definitions.services,
    }[kind]
    return index[name]


def _all_contents(conn: Connection, definition_id: str) -> Iterable[dict[str, Any]]:
    # Only versions somebody uses matter; reading all is simpler and versions are few.
    return [
        dict(c)
        for (c,) in conn.execute(
            select(feature_versions.c.content).where(
                feature_versions.c.definition_id == definition_id
            )
        ).all()
    ]


def _version_with_hash(conn: Connection, definition_id: str, version_hash: str) -> int | None:
    found = conn.execute(
        select(feature_versions.c.version).where(
            (feature_versions.c.definition_id == definition_id)
            & (feature_versions.c.version_hash == version_hash)
        )
    ).scalar()
    return None if found is None else int(found)


def _latest_version(conn: Connection, definition_id: str) -> int:
    return int(
        conn.execute(
            select(feature_versions.c.version)
            .where(feature_versions.c.definition_id == definition_id)
            .order_by(feature_versions.c.version.desc())
            .limit(1)
        ).scalar_one()
    )


def apply_plan(
    conn: Connection, the_plan: Plan, definitions: Definitions, project_id: str, actor: Actor
) -> None:
    """Record ``the_plan`` on ``conn`` (one transaction, audited per definition)."""
    now = utcnow()
    current = _current(conn)
    for change in the_plan.pending:
        key = (NAMESPACE[change.kind], change.name)
        row = current.get(key)
        if change.status == "removed":
            assert row is not None
            conn.execute(defs.update().where(defs.c.id == row.id).values(removed_at=now))
            audit.record(conn, actor, "feature.remove", change.kind, change.name, {})
            continue
        item = _item(definitions, change.kind, change.name)
        assert change.version is not None
        if row is None:
            definition_id = new_id()
            conn.execute(
                defs.insert().values(
                    id=definition_id,
                    project_id=project_id,
                    kind=change.kind,
                    namespace=key[0],
                    name=change.name,
                    current_version=change.version,
                    created_at=now,
                    created_by=actor.name,
                    updated_at=now,
                    **_metadata(item),
                )
            )
        else:
            definition_id = row.id
            conn.execute(
                defs.update()
                .where(defs.c.id == definition_id)
                .values(
                    current_version=change.version,
                    updated_at=now,
                    removed_at=None,
                    **_metadata(item),
                )
            )
        if change.status in ("new", "changed") and (
            _version_with_hash(conn, definition_id, item.version_hash) is None
        ):
            conn.execute(
                feature_versions.insert().values(
                    id=new_id(),
                    definition_id=definition_id,
                    version=change.version,
                    version_hash=item.version_hash,
                    content=item.content(),
                    created_at=now,
                    created_by=actor.name,
                )
            )
        audit.record(
            conn,
            actor,
            "feature.apply",
            change.kind,
            f"{change.name}@{change.version}",
            {"status": change.status, "hash": item.version_hash, "details": change.details},
        )


@dataclass(frozen=True)
class VersionRow:
    """A stored definition version, with its definition's metadata."""

    id: str
    definition_id: str
    kind: str
    name: str
    project: str
    version: int
    current_version: int
    version_hash: str
    content: dict[str, Any]
    description: str
    owner: str
    tags: dict[str, str]
    created_at: datetime
    removed: bool

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"


def version_row(
    conn: Connection, namespace: str, name: str, version: int | None = None
) -> VersionRow:
    """A definition's version (default: current); :class:`NotFound` if there is none."""
    query = (
        select(
            feature_versions.c.id,
            feature_versions.c.definition_id,
            defs.c.kind,
            defs.c.name,
            projects.c.name.label("project"),
            feature_versions.c.version,
            defs.c.current_version,
            feature_versions.c.version_hash,
            feature_versions.c.content,
            defs.c.description,
            defs.c.owner,
            defs.c.tags,
            feature_versions.c.created_at,
            defs.c.removed_at,
        )
        .join(defs, defs.c.id == feature_versions.c.definition_id)
        .join(projects, projects.c.id == defs.c.project_id)
        .where((defs.c.namespace == namespace) & (defs.c.name == name))
    )
    if version is None:
        query = query.where(feature_versions.c.version == defs.c.current_version)
    else:
        query = query.where(feature_versions.c.version == version)
    row = conn.execute(query).first()
    if row is None:
        what = {"view": "feature view", "service": "feature service"}.get(namespace, namespace)
        suffix = f" version {version}" if version is not None else ""
        raise NotFound(
            f"unknown {what} {name!r}{suffix}",
            hint="see the catalog with: gp features list (apply definitions with: "
            "gp features apply)",
        )
    return VersionRow(
        row.id,
        row.definition_id,
        row.kind,
        row.name,
        row.project,
        row.version,
        row.current_version,
        row.version_hash,
        dict(row.content),
        row.description,
        row.owner,
        dict(row.tags),
        row.created_at,
        row.removed_at is not None,
    )


def record_user(
    conn: Connection, version_id: str, user_kind: str, user_id: str, features: list[str]
) -> None:
    """Record that ``user_kind``/``user_id`` reads ``features`` of a definition version."""
    conn.execute(
        feature_users.insert().values(
            id=new_id(),
            version_id=version_id,
            user_kind=user_kind,
            user_id=user_id,
            features=sorted(features),
            created_at=utcnow(),
        )
    )


def catalog_rows(conn: Connection) -> list[Any]:
    """Every definition (current version), removed ones included, ordered by kind and name."""
    rows = _current(conn).values()
    return sorted(rows, key=lambda r: (r.namespace, r.name))


def versions_of(conn: Connection, definition_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        select(
            feature_versions.c.version,
            feature_versions.c.version_hash,
            feature_versions.c.created_at,
            feature_versions.c.created_by,
        )
        .where(feature_versions.c.definition_id == definition_id)
        .order_by(feature_versions.c.version)
    ).all()
    return [
        {
            "version": r.version,
            "hash": r.version_hash,
            "created_at": r.created_at.isoformat(),
            "created_by": r.created_by,
        }
        for r in rows
    ]
