"""``ws.features.materialize``, ``.online`` and ``.push``: the online half, wired to the registry.

The views come from the APPLIED registry definitions (the server has no project code), so what
is served is exactly what was applied. On-demand features need their code: the SDK or CLI
process passes ``definitions=features.py``, and each function's source hash is checked against
the applied version before it runs (as for training sets); over HTTP they are refused.

Permissions (``feature.materialize``, ``feature.push``, ``feature.read_online``) are checked
on each view's project before anything is read or written. Every materialisation that wrote
and every push records, in the transaction that records the view's online state, one lineage
edge per dataset version read (``dataset_version`` -> ``feature_view_version``, relation
``materialized_into_online`` or ``pushed_into_online``) and one audit event
(``feature.materialize`` / ``feature.push``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, select

from goldenpath.core.actor import Actor
from goldenpath.core.errors import Conflict, InvalidInput, NotFound
from goldenpath.core.limits import Limits
from goldenpath.data.service import DatasetService
from goldenpath.features import registry
from goldenpath.features.definitions import (
    OnDemandFeatureView,
    parse_feature_ref,
    view_from_content,
)
from goldenpath.features.freshness import ViewFreshness, view_freshness
from goldenpath.features.materialize import MaterializeResult, ViewMaterialization
from goldenpath.features.online.base import OnlineStore
from goldenpath.features.online_service import EntityRows, OnlineFeatures, OnlineResult, PushResult
from goldenpath.features.project import Definitions, load_definitions
from goldenpath.governance import audit
from goldenpath.governance.access import AccessControl
from goldenpath.lineage.edges import record_edge
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import dataset_versions, datasets, feature_versions, projects
from goldenpath.store.tables import feature_definitions as defs

MATERIALIZED = "materialized_into_online"
PUSHED = "pushed_into_online"
_CACHE_MAX = 32

# The current version hash, project and removal of named views and services: one prepared
# query, so a repeated lookup checks that what it planned with is still current cheaply.
_CURRENT = (
    select(
        defs.c.namespace,
        defs.c.name,
        feature_versions.c.version_hash,
        projects.c.name.label("project"),
        defs.c.removed_at,
    )
    .join(
        feature_versions,
        (feature_versions.c.definition_id == defs.c.id)
        & (feature_versions.c.version == defs.c.current_version),
    )
    .join(projects, projects.c.id == defs.c.project_id)
    .where(defs.c.name.in_(bindparam("names", expanding=True)))
)

Stamp = dict[tuple[str, str], tuple[str, str, bool]]


@dataclass(frozen=True)
class _Lookup:
    """A resolved lookup: its refs, the registry versions it was built from, its reader, the
    projects whose ``feature.read_online`` it needs, and the metadata database's change token
    when those versions were read (``None``: unknown, check)."""

    refs: tuple[str, ...]
    names: tuple[str, ...]
    stamp: Stamp
    online: OnlineFeatures
    projects: tuple[str, ...]
    token: tuple[int, int] | None


def _stamp(conn: Connection, names: Sequence[str]) -> Stamp:
    rows = conn.execute(_CURRENT, {"names": list(names)})
    return {
        (r.namespace, r.name): (r.version_hash, r.project, r.removed_at is None)
        for r in rows
        if r.namespace in ("view", "service")
    }


class OnlineWiring:
    """The registry-backed online features of one workspace, acting as one principal."""

    def __init__(
        self,
        meta: MetadataStore,
        actor: Actor,
        access: AccessControl,
        datasets_: DatasetService,
        open_store: Callable[[], OnlineStore],
        limits: Limits,
    ) -> None:
        self._meta = meta
        self._actor = actor
        self._access = access
        self._datasets = datasets_
        self._open_store = open_store
        self._limits = limits
        self._store: OnlineStore | None = None
        # Lookups reuse an OnlineFeatures (its plans) while the registry versions it was built
        # from are current: the key holds every version hash and the on-demand code's path.
        self._cache: dict[tuple[Any, ...], OnlineFeatures] = {}
        self._code: dict[tuple[str, int], Definitions] = {}
        self._lookups: dict[tuple[Any, ...], _Lookup] = {}

    @property
    def store(self) -> OnlineStore:
        if self._store is None:
            self._store = self._open_store()
        return self._store

    # -- materialise ---------------------------------------------------------------------------

    def materialize(
        self,
        views: Sequence[str] | None,
        *,
        full: bool,
        start: datetime | None,
        end: datetime | None,
    ) -> MaterializeResult:
        with self._meta.connect() as conn:
            if views is None:
                names = [
                    r.name
                    for r in registry.catalog_rows(conn)
                    if r.kind == "feature_view" and r.removed_at is None
                ]
                allowed = self._access.projects_with("feature.materialize")
                every = [registry.version_row(conn, "view", n) for n in names]
                rows = [r for r in every if allowed is None or r.project in allowed]
                if every and not rows:  # may materialise none of them: say so, not a no-op
                    self._access.require("feature.materialize", every[0].project)
            else:
                rows = [registry.version_row(conn, "view", n) for n in dict.fromkeys(views)]
        for row in rows:
            self._access.require("feature.materialize", row.project)
            if row.kind != "feature_view":
                raise InvalidInput(
                    f"{row.name!r} is an on-demand view: it is computed at lookup, not "
                    "materialised",
                    hint="materialise the batch views it reads",
                )
        online = self._features(rows, {}, recorder=self._recorder(rows, MATERIALIZED))
        return online.materialize([r.name for r in rows], full=full, start=start, end=end)

    # -- read ----------------------------------------------------------------------------------

    def online(
        self,
        entity_rows: EntityRows,
        features: Sequence[str] | None,
        service: str | None,
        at: datetime | None,
        definitions: Path | Definitions | None,
        *,
        keys_as_text: bool = False,
    ) -> OnlineResult:
        if (features is None) == (service is None):
            raise InvalidInput("name the features (view:feature ...) or a feature service")
        key = (None if features is None else tuple(features), service, _code_key(definitions))
        known = self._lookups.get(key)
        if known is not None:  # the fast path
            known = self._still_current(key, known)
            if known is not None:
                for project in known.projects:  # the grants this Workspace read (as ever)
                    self._access.require("feature.read_online", project)
                return known.online.online(
                    entity_rows, known.refs, at=at, keys_as_text=keys_as_text
                )
        token = self._meta.change_token()  # before the reads it vouches for
        with self._meta.connect() as conn:
            if service is not None:
                service_row = registry.version_row(conn, "service", service)
                self._access.require("feature.read_online", service_row.project)
                refs = tuple(service_row.content["features"])
            else:
                refs = tuple(features or ())
            if not refs:
                raise InvalidInput("name at least one feature", hint="for example: user_tx:amount")
            names = [parse_feature_ref(r)[0] for r in refs]
            rows = _with_inputs(conn, names)
            looked_up = tuple(sorted({*rows, *([service] if service is not None else [])}))
            stamp = _stamp(conn, looked_up)
        for row in rows.values():
            self._access.require("feature.read_online", row.project)
        on_demand = {n: r for n, r in rows.items() if r.kind == "on_demand"}
        code = self._on_demand_code(on_demand, definitions)
        batch = [r for r in rows.values() if r.kind == "feature_view"]
        online = self._features(batch, code)
        result = online.online(entity_rows, refs, at=at, keys_as_text=keys_as_text)
        if len(self._lookups) >= _CACHE_MAX:
            self._lookups.clear()
        projects = tuple(sorted({project for _, project, _ in stamp.values()}))
        self._lookups[key] = _Lookup(refs, looked_up, stamp, online, projects, token)
        return result

    def reader(
        self, features: Sequence[str], definitions: Path | Definitions | None
    ) -> PinnedReader:
        """A lookup of ``features`` pinned to the registry versions current now: versions are
        checked once, here. For a serving process, which holds one model's features for its
        lifetime and must not pay that check per request (~17 us). The permission is asked
        on every lookup, of the grants this Workspace holds in memory (a set lookup; an
        inference server re-reads them every ``limits.deployment_grants_reload_seconds``)."""
        self.online([], features, None, None, definitions)  # checks, plans and caches
        key = (tuple(features), None, _code_key(definitions))
        known = self._lookups[key]
        return PinnedReader(known.online, known.refs, self._access, known.projects)

    def _still_current(self, key: tuple[Any, ...], known: _Lookup) -> _Lookup | None:
        """``known`` if the registry versions it was built from are still current, else None.

        Nothing committed to the metadata database since they were read (its change token is
        unchanged: a microsecond on SQLite) means nothing changed; otherwise one query compares
        the versions, projects and removals of the views and service it names."""
        token = self._meta.change_token()
        if token is not None and token == known.token:
            return known
        with self._meta.connect() as conn:
            current = _stamp(conn, known.names)
        if current != known.stamp:
            return None
        known = replace(known, token=token)
        self._lookups[key] = known
        return known

    def _on_demand_code(
        self,
        rows: Mapping[str, registry.VersionRow],
        definitions: Path | Definitions | None,
    ) -> dict[str, OnDemandFeatureView]:
        if not rows:
            return {}
        if definitions is None:
            names = ", ".join(sorted(rows))
            raise InvalidInput(
                f"on-demand view(s) {names} run project code, which this process does not have",
                hint="pass definitions=Path('features.py') in the SDK (--file in the CLI); "
                "the server never runs project code",
            )
        loaded = definitions if isinstance(definitions, Definitions) else self._load(definitions)
        code = {}
        for name, row in rows.items():
            found = loaded.on_demand.get(name)
            if found is None or found.source_hash != row.content["source_hash"]:
                raise Conflict(
                    f"on-demand view {name!r} in the definitions given is not the applied "
                    f"version {row.ref}: its function differs",
                    hint="apply first: gp features apply",
                )
            code[name] = found
        return code

    def freshness(self, features: Sequence[str]) -> list[ViewFreshness]:
        if not features:
            return []
        with self._meta.connect() as conn:
            rows = _with_inputs(conn, [parse_feature_ref(r)[0] for r in features])
        for row in rows.values():
            self._access.require("feature.read_online", row.project)
        wanted: dict[str, list[str]] = {}
        asked = [*features]
        for row in rows.values():
            if row.kind == "on_demand":
                asked += list(row.content["inputs"])
        for ref in asked:
            view = parse_feature_ref(ref)[0]
            if rows[view].kind == "feature_view" and ref not in wanted.get(view, []):
                wanted.setdefault(view, []).append(ref)
        batch = [rows[name] for name in wanted]
        online = self._features(batch, {})
        return [
            view_freshness(
                online,
                self.store,
                online.view_definition(name),
                refs,
                sample_max=self._limits.freshness_entities_max,
                chunk=self._limits.online_entities_max,
            )
            for name, refs in wanted.items()
        ]

    # -- push ----------------------------------------------------------------------------------

    def push(self, view: str, rows: EntityRows) -> PushResult:
        with self._meta.connect() as conn:
            row = registry.version_row(conn, "view", view)
        self._access.require("feature.push", row.project)
        if row.kind != "feature_view":
            raise InvalidInput(
                f"{view!r} is an on-demand view: rows are pushed to the batch views it reads"
            )
        online = self._features([row], {}, recorder=self._recorder([row], PUSHED))
        return online.push(view, rows)

    # -- helpers -------------------------------------------------------------------------------

    def _load(self, path: Path) -> Definitions:
        """features.py, imported once per modification (its functions are then reused)."""
        path = Path(path)
        try:
            key = (str(path.resolve()), path.stat().st_mtime_ns)
        except OSError:
            return load_definitions(path)  # raises NotFound with the path
        loaded = self._code.get(key)
        if loaded is None:
            loaded = load_definitions(path)
            self._code = {key: loaded}
        return loaded

    def _features(
        self,
        rows: Iterable[registry.VersionRow],
        code: Mapping[str, OnDemandFeatureView],
        *,
        recorder: Any = None,
    ) -> OnlineFeatures:
        rows = list(rows)

        def definitions_of() -> Definitions:
            views = {
                r.name: view_from_content(
                    r.content, description=r.description, owner=r.owner, tags=r.tags
                )
                for r in rows
            }
            return Definitions({}, views, dict(code), {})

        if recorder is not None:  # a write: built afresh, its recorder knows these versions
            return OnlineFeatures(
                definitions_of(),
                self._datasets,
                self.store,
                self._meta,
                self._actor,
                self._limits,
                recorder=recorder,
            )
        key = (
            tuple(sorted((r.name, r.version_hash) for r in rows)),
            tuple(sorted((n, c.source_hash, id(c)) for n, c in code.items())),
        )
        cached = self._cache.get(key)
        if cached is None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            cached = OnlineFeatures(
                definitions_of(), self._datasets, self.store, self._meta, self._actor, self._limits
            )
            self._cache[key] = cached
        return cached

    def _recorder(
        self, rows: Sequence[registry.VersionRow], relation: str
    ) -> Callable[[Connection, ViewMaterialization], None]:
        by_name = {r.name: r for r in rows}
        identity = self.store.identity
        action = "feature.push" if relation == PUSHED else "feature.materialize"

        def record(conn: Connection, done: ViewMaterialization) -> None:
            row = by_name[done.view]
            window = {
                "event_time_min": _iso(done.event_start),
                "event_time_max": _iso(done.event_end),
            }
            read = []
            for dataset, numbers in done.dataset_versions.items():
                for number, version_id in _version_ids(conn, dataset, numbers):
                    read.append(f"{dataset}@{number}")
                    record_edge(
                        conn,
                        "dataset_version",
                        version_id,
                        "feature_view_version",
                        row.id,
                        relation,
                        {
                            "dataset": f"{dataset}@{number}",
                            "view": row.ref,
                            "online_store": identity,
                            "mode": done.mode,
                            "rows_read": done.rows_read,
                            "entities_written": done.entities_written,
                            **window,
                        },
                    )
            audit.record(
                conn,
                self._actor,
                action,
                "feature_view",
                row.ref,
                {
                    "online_store": identity,
                    "mode": done.mode,
                    "dataset_versions": read,
                    "rows_read": done.rows_read,
                    "entities_written": done.entities_written,
                    **window,
                },
            )

        return record


class PinnedReader:
    """What :meth:`OnlineWiring.reader` returns: call it for a blocking lookup, or await
    :meth:`read_async` on an event loop (a network store's reads are awaited, see
    ``OnlineFeatures.online_async``)."""

    __slots__ = ("_access", "_online", "_projects", "_refs")

    def __init__(
        self,
        online: OnlineFeatures,
        refs: tuple[str, ...],
        access: AccessControl,
        projects: Iterable[str],
    ) -> None:
        self._access = access
        self._projects = tuple(projects)
        self._online = online
        self._refs = refs

    def __call__(self, entity_rows: EntityRows) -> OnlineResult:
        self._allowed()
        return self._online.online(entity_rows, self._refs)

    async def read_async(self, entity_rows: EntityRows) -> OnlineResult:
        self._allowed()
        return await self._online.online_async(entity_rows, self._refs)

    def _allowed(self) -> None:
        for project in self._projects:
            self._access.require("feature.read_online", project)


def _with_inputs(conn: Connection, names: Iterable[str]) -> dict[str, registry.VersionRow]:
    """The current version of each named view, and of the views on-demand ones read."""
    rows: dict[str, registry.VersionRow] = {}
    pending = list(dict.fromkeys(names))
    while pending:
        name = pending.pop()
        if name in rows:
            continue
        row = registry.version_row(conn, "view", name)
        rows[name] = row
        if row.kind == "on_demand":
            pending += [parse_feature_ref(r)[0] for r in row.content["inputs"]]
    return rows


def _code_key(definitions: Path | Definitions | None) -> Any:
    """What identifies the on-demand code a lookup runs: the object, or the file's version."""
    if definitions is None or isinstance(definitions, Definitions):
        return None if definitions is None else id(definitions)
    path = Path(definitions)
    try:
        return (str(path), path.stat().st_mtime_ns)
    except OSError:
        return (str(path), None)


def _version_ids(conn: Connection, dataset: str, numbers: Sequence[int]) -> list[tuple[int, str]]:
    if not numbers:
        return []
    found = conn.execute(
        select(dataset_versions.c.version, dataset_versions.c.id)
        .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
        .where((datasets.c.name == dataset) & dataset_versions.c.version.in_(list(numbers)))
        .order_by(dataset_versions.c.version)
    ).all()
    if len(found) != len(set(numbers)):
        raise NotFound(f"dataset {dataset!r}: a version read is not recorded")
    return [(int(v), str(i)) for v, i in found]


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
