"""The feature store service (``ws.features``): what the CLI, the server and the SDK call.

Plan and apply definitions from a project's ``features.py``, browse the catalog, and build
point-in-time training sets (stored as versioned Delta tables, with lineage and users).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
from sqlalchemy import select

from goldenpath.core.actor import Actor
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import Conflict, InvalidInput, NotFound
from goldenpath.core.ids import new_id
from goldenpath.core.limits import Limits
from goldenpath.core.names import parse_ref, validate_name
from goldenpath.features import registry
from goldenpath.features.definitions import (
    FeatureView,
    OnDemandFeatureView,
    parse_feature_ref,
    view_from_content,
)
from goldenpath.features.offline import SEQ, OfflineEngine, ViewInput
from goldenpath.features.offline.duckdb import DuckDBEngine
from goldenpath.features.project import Definitions, load_definitions
from goldenpath.features.timestamps import entity_timestamps
from goldenpath.features.training_sets import (
    TrainingSet,
    TrainingSetFiles,
    TrainingSetInfo,
    fingerprint,
)
from goldenpath.governance import audit
from goldenpath.governance.access import AccessControl
from goldenpath.governance.principals import Enforcer
from goldenpath.lineage.edges import record_edge
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import projects, training_sets

if TYPE_CHECKING:
    import pandas as pd

    from goldenpath.data.service import DatasetService
    from goldenpath.features.freshness import ViewFreshness
    from goldenpath.features.materialize import MaterializeResult
    from goldenpath.features.online.base import OnlineStore
    from goldenpath.features.online_service import EntityRows, OnlineResult, PushResult
    from goldenpath.features.online_wiring import OnlineWiring, PinnedReader

DEFAULT_FILE = Path("features.py")
ENTITY_TIMESTAMP = "event_timestamp"


@dataclass(frozen=True)
class CatalogEntry:
    """A definition in the catalog (``gp features list`` / ``show``)."""

    kind: str
    name: str
    project: str
    version: int
    description: str
    owner: str
    tags: dict[str, str]
    content: dict[str, Any]
    removed: bool
    versions: list[dict[str, Any]] | None = None
    users: list[dict[str, Any]] | None = None
    freshness: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in self.__dict__.items() if v is not None or k == "freshness"}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CatalogEntry:
        """The inverse of :meth:`as_dict` (what the remote SDK receives)."""
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in fields})


def _family(kind: pa.DataType) -> str:
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind):
        return "float"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "string"
    if pa.types.is_boolean(kind):
        return "bool"
    if pa.types.is_timestamp(kind):
        return "timestamp"
    return str(kind)


class FeatureStore:
    """Feature definitions, the catalog and training sets, acting as one principal."""

    def __init__(
        self,
        store: MetadataStore,
        storage_root: Path,
        actor: Actor,
        access: AccessControl,
        project: str,
        datasets: DatasetService,
        policies: Enforcer | None = None,
        *,
        limits: Limits | None = None,
        engine: OfflineEngine | None = None,
        online_store: Callable[[], OnlineStore] | None = None,
    ) -> None:
        """``online_store`` opens the workspace's online store (``stack.online``) when an
        online method is first called."""
        self._store = store
        self._root = storage_root
        self._actor = actor
        self._access = access
        self._project = project
        self._datasets = datasets
        self._policies = policies
        self._limits = limits or Limits()
        self._engine: OfflineEngine = engine or DuckDBEngine()
        self._open_online = online_store
        self._wiring: OnlineWiring | None = None

    # -- definitions -------------------------------------------------------------------------

    def plan(self, file: Path | Definitions = DEFAULT_FILE) -> registry.Plan:
        """What ``apply`` would change: new, changed (new version), metadata, unchanged,
        removed. Expressions are compiled over each source's schema; nothing is written."""
        self._access.require("feature.read", self._project)
        definitions = self._definitions(file)
        self._check_sources(definitions)
        with self._store.connect() as conn:
            the_plan = registry.plan(conn, definitions, self._project)
            registry.check_breaking(conn, the_plan, definitions)
        return the_plan

    def apply(self, file: Path | Definitions = DEFAULT_FILE) -> registry.Plan:
        """Record the plan: new definition versions by content hash, metadata in place.

        Needs ``feature.apply`` on the project and every policy on ``feature.apply`` to allow
        it; refused (naming the users) if it would take away a feature someone reads."""
        self._access.require("feature.apply", self._project)
        definitions = self._definitions(file)
        self._check_sources(definitions)
        with self._store.connect() as conn:
            the_plan = registry.plan(conn, definitions, self._project)
            registry.check_breaking(conn, the_plan, definitions)
        if not the_plan.pending:
            return the_plan
        if self._policies is not None:
            self._policies.enforce(
                "feature.apply",
                self._project,
                {
                    "project": self._project,
                    "changes": [
                        {"kind": c.kind, "name": c.name, "status": c.status}
                        for c in the_plan.pending
                    ],
                    "removed": [c.name for c in the_plan.pending if c.status == "removed"],
                },
                project=self._project,
            )
        with self._store.begin() as conn:
            project_id = self._project_id(conn)
            # Again inside the write transaction: a user recorded since the plan counts.
            again = registry.plan(conn, definitions, self._project)
            registry.check_breaking(conn, again, definitions)
            registry.apply_plan(conn, again, definitions, project_id, self._actor)
        return again

    def _definitions(self, file: Path | Definitions) -> Definitions:
        return file if isinstance(file, Definitions) else load_definitions(Path(file))

    def _check_sources(self, definitions: Definitions) -> None:
        for view in definitions.views.values():
            self._engine.check_view(view, self._source_schema(view))

    def _source_schema(self, view: FeatureView) -> pa.Schema:
        if isinstance(view.source, str):
            return self._datasets.scan(view.source).schema
        tables = {name: self._datasets.scan(name) for name in view.source.datasets}
        return self._engine.source_schema(view, tables)

    def _project_id(self, conn: Any) -> str:
        found = conn.execute(select(projects.c.id).where(projects.c.name == self._project)).scalar()
        if found is None:
            raise NotFound(
                f"no project named {self._project!r}", hint="see them with: gp projects list"
            )
        return str(found)

    # -- catalog -----------------------------------------------------------------------------

    def list(self) -> builtins.list[CatalogEntry]:
        """Every applied definition in the projects the caller may read."""
        with self._store.connect() as conn:
            rows = registry.catalog_rows(conn)
        visible = self._access.projects_with("feature.read")
        return [
            self._entry(r)
            for r in rows
            if r.removed_at is None and (visible is None or r.project in visible)
        ]

    def show(self, name: str) -> CatalogEntry:
        """A view, service or entity by name (in that order): metadata, content, versions,
        users and (for a view over a dataset) freshness."""
        validate_name(name, kind="feature definition name")
        with self._store.connect() as conn:
            for namespace in ("view", "service", "entity"):
                try:
                    row = registry.version_row(conn, namespace, name)
                except NotFound:
                    continue
                self._access.require("feature.read", row.project)
                versions = registry.versions_of(conn, row.definition_id)
                users = [u.__dict__ for u in registry.users_of(conn, row.definition_id)]
                break
            else:
                raise NotFound(
                    f"no feature view, service or entity named {name!r}",
                    hint="see the catalog with: gp features list",
                )
        freshness = self._freshness(row.content) if row.kind == "feature_view" else None
        return CatalogEntry(
            row.kind,
            row.name,
            row.project,
            row.version,
            row.description,
            row.owner,
            row.tags,
            row.content,
            row.removed,
            versions,
            users,
            freshness,
        )

    def view(self, name: str, version: int | None = None) -> FeatureView:
        """An applied feature view (current, or a pinned ``version``) rebuilt from the
        registry, without project code."""
        with self._store.connect() as conn:
            row = registry.version_row(conn, "view", name, version)
        self._access.require("feature.read", row.project)
        if row.kind != "feature_view":
            raise InvalidInput(f"{name!r} is an on-demand view: its code lives in features.py")
        return view_from_content(
            row.content, description=row.description, owner=row.owner, tags=row.tags
        )

    def _entry(self, row: Any) -> CatalogEntry:
        return CatalogEntry(
            row.kind,
            row.name,
            row.project,
            row.current_version,
            row.description,
            row.owner,
            dict(row.tags),
            dict(row.content),
            row.removed_at is not None,
        )

    def _freshness(self, content: Mapping[str, Any]) -> dict[str, Any] | None:
        source = content["source"]
        if not isinstance(source, str):
            return None
        try:
            version = self._datasets.get(source)
            column = self._datasets.scan(source).to_table(columns=[content["timestamp"]])
        except (NotFound, KeyError, pa.ArrowException):
            return None
        newest = pa.compute.max(column.column(0)).as_py() if column.num_rows else None
        return {
            "dataset_version": version.ref,
            "newest_event_time": None if newest is None else str(newest),
            "read_at": utcnow().isoformat(),
        }

    # -- online ------------------------------------------------------------------------------

    def _online(self) -> OnlineWiring:
        if self._wiring is None:
            from goldenpath.features.online_wiring import OnlineWiring

            if self._open_online is None:
                raise InvalidInput("this feature store has no online store configured")
            self._wiring = OnlineWiring(
                self._store,
                self._actor,
                self._access,
                self._datasets,
                self._open_online,
                self._limits,
            )
        return self._wiring

    def materialize(
        self,
        views: Sequence[str] | None = None,
        *,
        full: bool = False,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> MaterializeResult:
        """Write the applied views' latest values into the online store (docs/features.md,
        "Materialise"): incremental by default, ``full`` rebuilds, ``start``/``end``
        (timezone-aware) backfill event times in ``[start, end)``. ``views``: default every
        applied batch view you may materialise. Needs ``feature.materialize``; audited, and
        each dataset version read is a lineage edge to the view version."""
        return self._online().materialize(
            None if views is None else list(views), full=full, start=start, end=end
        )

    def online(
        self,
        entity_rows: EntityRows,
        features: Sequence[str] | None = None,
        *,
        service: str | None = None,
        at: datetime | None = None,
        definitions: Path | Definitions | None = None,
        keys_as_text: bool = False,
    ) -> OnlineResult:
        """Online values (with status and age) of ``features`` (``view:feature``) or a
        ``service`` for each entity row (mappings with the join keys, or a table), at ``at``
        (default now). On-demand features run here from ``definitions`` (features.py), whose
        function must be the applied version's. ``keys_as_text``: the rows' values are text
        (a command line's ``key=value``), each read as the type its definition gives it (a
        join key as its source column: ``007`` stays text for a text key); a value that does
        not read so is an InvalidInput. Needs ``feature.read_online``."""
        return self._online().online(
            entity_rows, features, service, at, definitions, keys_as_text=keys_as_text
        )

    def online_reader(
        self, features: Sequence[str], *, definitions: Path | Definitions | None = None
    ) -> PinnedReader:
        """``rows -> OnlineResult`` for ``features`` at now, with permissions and registry
        versions checked once, when it is made (the inference server's lookup: a model
        serves the feature versions it was deployed with); ``await reader.read_async(rows)``
        on an event loop never blocks it on a network store. Needs ``feature.read_online``."""
        return self._online().reader(list(features), definitions)

    def freshness(self, features: Sequence[str]) -> builtins.list[ViewFreshness]:
        """How fresh the online values of ``features`` (``view:feature``; an on-demand
        feature counts as the batch features it reads) are now, one :class:`ViewFreshness`
        per batch view: a sample of its stored entities (``limits.freshness_entities_max``)
        looked up as serving would. What ``ws.deployments.deploy`` checks. Needs
        ``feature.read_online``."""
        return self._online().freshness(list(features))

    def push(self, view: str, rows: EntityRows) -> PushResult:
        """Append ``rows`` to the view's source dataset (contract-checked, all or nothing),
        then write them online. Needs ``feature.push`` (and ``dataset.write``); audited,
        with a lineage edge from the new dataset version."""
        return self._online().push(view, rows)

    # -- training sets -----------------------------------------------------------------------

    def training_set(
        self,
        entity_rows: pa.Table | pd.DataFrame | Path,
        features: Sequence[str] | None = None,
        *,
        service: str | None = None,
        name: str | None = None,
        timestamp_column: str = ENTITY_TIMESTAMP,
        definitions: Path | Definitions = DEFAULT_FILE,
    ) -> TrainingSet:
        """Point-in-time features for each entity row (docs/features.md, "The rules").

        ``entity_rows``: join keys, ``timestamp_column`` (zone-aware) and any request fields;
        a pandas DataFrame, an Arrow table, or a CSV/Parquet path. ``features``:
        ``view:feature`` references, or ``service``: a feature service's name. ``name``:
        store the result as the next version of that training set (else nothing is stored).
        On-demand features run here, from ``definitions``, whose function source must be the
        applied version's."""
        if (features is None) == (service is None):
            raise InvalidInput("name the features (view:feature ...) or a feature service")
        self._access.require("feature.read", self._project)
        if name is not None:
            validate_name(name, kind="training set name")
        entities = self._entity_table(entity_rows, timestamp_column)
        with self._store.connect() as conn:
            service_row = None
            if service is not None:
                service_row = registry.version_row(conn, "service", service)
                self._access.require("feature.read", service_row.project)
                refs = list(service_row.content["features"])
            else:
                refs = list(features or [])
            if not refs:
                raise InvalidInput("no features asked for")
            wanted = [parse_feature_ref(r) for r in refs]
            rows = {
                v: registry.version_row(conn, "view", v)
                for v in dict.fromkeys(x for x, _ in wanted)
            }
        for view_name, feature in wanted:
            offered = sorted(registry._outputs(rows[view_name].content))
            if feature not in offered:
                raise NotFound(
                    f"unknown feature '{view_name}:{feature}'",
                    hint=f"{view_name} offers: {', '.join(offered)}",
                )
        plan = self._build_plan(rows, wanted, definitions)
        names = [f for _, f in wanted]
        clash = sorted(
            {n for n in names if names.count(n) > 1} | (set(names) & set(entities.column_names))
        )
        if clash:
            raise InvalidInput(
                f"feature name(s) {', '.join(clash)} appear twice (in two views, or as an "
                "entity-rows column)",
                hint="ask for one of them, or rename the entity-rows column",
            )
        result, spec = self._compute(entities, timestamp_column, plan)
        table = result.select([*entities.column_names, *names])
        if name is None:
            return TrainingSet(table, None)
        return TrainingSet(
            table, self._store_training_set(name, table, entities, spec, rows, service_row, refs)
        )

    def _entity_table(
        self, rows: pa.Table | pd.DataFrame | Path, timestamp_column: str
    ) -> pa.Table:
        if isinstance(rows, (str, Path)):
            from goldenpath.data.formats import read_table

            table, _ = read_table(Path(rows), limits=self._limits)
        elif isinstance(rows, pa.Table):
            table = rows
        else:
            table = pa.Table.from_pandas(rows, preserve_index=False)
        if timestamp_column not in table.column_names:
            raise InvalidInput(
                f"entity rows have no {timestamp_column!r} column",
                hint="each entity row needs the instant its features are wanted for",
            )
        index = table.column_names.index(timestamp_column)
        stamps = entity_timestamps(table.column(index), timestamp_column)
        return table.set_column(index, timestamp_column, stamps)

    def _build_plan(
        self,
        rows: Mapping[str, registry.VersionRow],
        wanted: Sequence[tuple[str, str]],
        definitions: Path | Definitions,
    ) -> dict[str, Any]:
        """Which batch features to compute (including on-demand inputs), and the on-demand
        views to run, in dependency order."""
        batch: dict[str, set[str]] = {}
        on_demand: dict[str, OnDemandFeatureView] = {}
        loaded: Definitions | None = None
        with self._store.connect() as conn:
            pending = list(wanted)
            while pending:
                view_name, feature = pending.pop()
                row = rows.get(view_name) or registry.version_row(conn, "view", view_name)
                rows = {**rows, view_name: row}
                if row.kind == "feature_view":
                    batch.setdefault(view_name, set()).add(feature)
                    continue
                if view_name in on_demand:
                    continue
                if loaded is None:
                    loaded = self._definitions(definitions)
                code = loaded.on_demand.get(view_name)
                if code is None or code.source_hash != row.content["source_hash"]:
                    raise Conflict(
                        f"on-demand view {view_name!r} in {definitions} is not the applied "
                        f"version {row.ref}: its function differs",
                        hint="apply first: gp features apply",
                    )
                on_demand[view_name] = code
                pending += [parse_feature_ref(r) for r in code.inputs]
        order: list[str] = []

        def visit(name: str) -> None:
            if name in order:
                return
            for ref in on_demand[name].inputs:
                upstream = ref.partition(":")[0]
                if upstream in on_demand:
                    visit(upstream)
            order.append(name)

        for name in on_demand:
            visit(name)
        return {"rows": rows, "batch": batch, "on_demand": [on_demand[n] for n in order]}

    def _compute(
        self, entities: pa.Table, timestamp_column: str, plan: dict[str, Any]
    ) -> tuple[pa.Table, dict[str, Any]]:
        rows: dict[str, registry.VersionRow] = plan["rows"]
        inputs: list[ViewInput] = []
        datasets_read: dict[str, dict[str, Any]] = {}
        for view_name, features in plan["batch"].items():
            row = rows[view_name]
            view = view_from_content(row.content)
            self._check_keys(entities, view)
            if isinstance(view.source, str):
                version = self._datasets.get(view.source)
                datasets_read[view_name] = {version.ref: version.id}
                source: Any = self._ordered_source(version.ref)
            else:
                versions = {n: self._datasets.get(n) for n in view.source.datasets}
                datasets_read[view_name] = {v.ref: v.id for v in versions.values()}
                source = {n: self._datasets.scan(v.ref) for n, v in versions.items()}
            inputs.append(ViewInput(view, sorted(features), source))
        for code in plan["on_demand"]:
            missing = [f.name for f in code.request if f.name not in entities.column_names]
            if missing:
                raise InvalidInput(
                    f"on-demand view {code.name!r} needs request field(s) {', '.join(missing)} "
                    "in the entity rows"
                )
        result = self._engine.point_in_time(entities, timestamp_column, inputs)
        table = result.table
        for code in plan["on_demand"]:
            table = _run_on_demand(table, code)
        spec = {
            "views": {
                item.view.name: {
                    "version": rows[item.view.name].version,
                    "hash": rows[item.view.name].version_hash,
                    "features": list(item.features),
                    "datasets": datasets_read[item.view.name],
                    "event_time_min": None if low is None else low.isoformat(),
                    "event_time_max": None if high is None else high.isoformat(),
                }
                for item, (low, high) in zip(inputs, result.read_ranges, strict=True)
            },
            "on_demand": {
                code.name: {
                    "version": rows[code.name].version,
                    "hash": rows[code.name].version_hash,
                    "source_hash": code.source_hash,
                }
                for code in plan["on_demand"]
            },
        }
        return table, spec

    def _ordered_source(self, ref: str) -> pa.RecordBatchReader:
        batches = self._datasets.batches_in_write_order(ref)
        schema = self._datasets.scan(ref).schema.append(pa.field(SEQ, pa.int64()))

        def numbered() -> Any:
            position = 0
            for _, batch in batches:
                seq = pa.array(np.arange(position, position + batch.num_rows, dtype=np.int64))
                position += batch.num_rows
                yield pa.RecordBatch.from_arrays([*batch.columns, seq], schema=schema)

        return pa.RecordBatchReader.from_batches(schema, numbered())

    def _check_keys(self, entities: pa.Table, view: FeatureView) -> None:
        source = self._source_schema(view)
        for key in view.join_keys:
            if key not in entities.column_names:
                raise InvalidInput(
                    f"entity rows have no {key!r} column (a join key of feature view "
                    f"{view.name!r})",
                    hint=f"add the column {key!r} to the entity rows",
                )
            expected = source.field(key).type
            given = entities.schema.field(key).type
            if _family(given) != _family(expected) and not pa.types.is_null(given):
                raise InvalidInput(
                    f"entity rows: join key {key!r} is {given}, but feature view "
                    f"{view.name!r} has it as {expected}",
                    hint=f"give {key!r} as {expected}",
                )

    def _store_training_set(
        self,
        name: str,
        table: pa.Table,
        entities: pa.Table,
        spec: dict[str, Any],
        rows: Mapping[str, registry.VersionRow],
        service_row: registry.VersionRow | None,
        refs: Sequence[str],
    ) -> TrainingSetInfo:
        files = TrainingSetFiles(self._root, name)
        with files.lock():
            with self._store.connect() as conn:
                last = conn.execute(
                    select(training_sets.c.version, training_sets.c.delta_version, projects.c.name)
                    .join(projects, projects.c.id == training_sets.c.project_id)
                    .where(training_sets.c.name == name)
                    .order_by(training_sets.c.version.desc())
                    .limit(1)
                ).first()
            if last is not None and last.name != self._project:
                raise Conflict(
                    f"training set {name!r} is in project {last.name!r}, not {self._project!r}",
                    hint="choose another name",
                )
            recorded = None if last is None else int(last.delta_version)
            number = 1 if last is None else int(last.version) + 1
            delta_version = files.write(table, recorded)
            info = TrainingSetInfo(
                name=name,
                version=number,
                id=new_id(),
                project=self._project,
                row_count=table.num_rows,
                fingerprint=fingerprint(table),
                entity_fingerprint=fingerprint(entities),
                schema=[{"name": f.name, "type": str(f.type)} for f in table.schema],
                spec={
                    "features": list(refs),
                    "service": service_row.ref if service_row else None,
                    **spec,
                },
                created_at=utcnow(),
                created_by=self._actor.name,
            )
            try:
                self._record(info, delta_version, rows, service_row)
            except BaseException:
                files.undo(recorded)
                raise
        return info

    def _record(
        self,
        info: TrainingSetInfo,
        delta_version: int,
        rows: Mapping[str, registry.VersionRow],
        service_row: registry.VersionRow | None,
    ) -> None:
        with self._store.begin() as conn:
            conn.execute(
                training_sets.insert().values(
                    id=info.id,
                    project_id=self._project_id(conn),
                    name=info.name,
                    version=info.version,
                    delta_version=delta_version,
                    row_count=info.row_count,
                    schema=info.schema,
                    fingerprint=info.fingerprint,
                    entity_fingerprint=info.entity_fingerprint,
                    spec=info.spec,
                    created_at=info.created_at,
                    created_by=info.created_by,
                )
            )
            for view_name, used in {**info.spec["views"], **info.spec["on_demand"]}.items():
                row = rows[view_name]
                features = used.get("features") or sorted(registry._outputs(row.content))
                registry.record_user(conn, row.id, "training_set", info.ref, features)
                window = {
                    "event_time_min": used.get("event_time_min"),
                    "event_time_max": used.get("event_time_max"),
                }
                for dataset_ref, dataset_version_id in used.get("datasets", {}).items():
                    record_edge(
                        conn,
                        "dataset_version",
                        dataset_version_id,
                        "feature_view_version",
                        row.id,
                        "read_by",
                        {
                            "dataset": dataset_ref,
                            "view": row.ref,
                            "training_set": info.ref,
                            **window,
                        },
                    )
                record_edge(
                    conn,
                    "feature_view_version",
                    row.id,
                    "training_set",
                    info.id,
                    "input_of",
                    {"view": row.ref, "training_set": info.ref, "features": features, **window},
                )
            if service_row is not None:
                registry.record_user(
                    conn,
                    service_row.id,
                    "training_set",
                    info.ref,
                    list(service_row.content["features"]),
                )
            audit.record(
                conn,
                self._actor,
                "training_set.create",
                "training_set",
                info.ref,
                {
                    "rows": info.row_count,
                    "fingerprint": info.fingerprint,
                    "features": info.spec["features"],
                },
            )

    def training_sets(self, name: str | None = None) -> builtins.list[TrainingSetInfo]:
        """Stored training sets (every version; of ``name`` only if given), newest last."""
        query = (
            select(training_sets, projects.c.name.label("project"))
            .join(projects, projects.c.id == training_sets.c.project_id)
            .order_by(training_sets.c.name, training_sets.c.version)
        )
        if name is not None:
            query = query.where(
                training_sets.c.name == validate_name(name, kind="training set name")
            )
        visible = self._access.projects_with("feature.read")
        if visible is not None:
            query = query.where(projects.c.name.in_(sorted(visible)))
        with self._store.connect() as conn:
            found = conn.execute(query).mappings().all()
        return [_info(r) for r in found]

    def get_training_set(self, ref: str) -> TrainingSetInfo:
        """A stored training set version: ``name`` (newest) or ``name@N``."""
        parsed = parse_ref(ref, kind="training set name")
        found = self.training_sets(parsed.name)
        if parsed.version is not None:
            found = [i for i in found if i.version == parsed.version]
        if not found:
            raise NotFound(
                f"no training set {ref!r}", hint="list them with: gp features training-sets"
            )
        return found[-1]

    def versions_read_by(self, ref: str) -> builtins.list[dict[str, Any]]:
        """The definition versions a stored training set read (views, on-demand views, the
        feature service): ``{"id", "ref", "kind", "features"}`` each, for whoever builds on
        the training set (a model) to record itself as their user."""
        info = self.get_training_set(ref)
        spec = info.spec
        found: builtins.list[dict[str, Any]] = []
        with self._store.connect() as conn:
            for view_name, used in {**spec["views"], **spec["on_demand"]}.items():
                row = registry.version_row(conn, "view", view_name, int(used["version"]))
                features = used.get("features") or sorted(registry._outputs(row.content))
                found.append({"id": row.id, "ref": row.ref, "kind": row.kind, "features": features})
            if spec.get("service"):
                parsed = parse_ref(spec["service"], kind="feature service name")
                row = registry.version_row(conn, "service", parsed.name, parsed.version)
                found.append(
                    {
                        "id": row.id,
                        "ref": row.ref,
                        "kind": row.kind,
                        "features": list(row.content["features"]),
                    }
                )
        return found

    def read_training_set(self, ref: str) -> pa.Table:
        """A stored training set version's rows, exactly as built."""
        info = self.get_training_set(ref)
        with self._store.connect() as conn:
            delta_version = conn.execute(
                select(training_sets.c.delta_version).where(training_sets.c.id == info.id)
            ).scalar_one()
        return TrainingSetFiles(self._root, info.name).read(int(delta_version))


def _info(r: Any) -> TrainingSetInfo:
    return TrainingSetInfo(
        name=r["name"],
        version=r["version"],
        id=r["id"],
        project=r["project"],
        row_count=r["row_count"],
        fingerprint=r["fingerprint"],
        entity_fingerprint=r["entity_fingerprint"],
        schema=list(r["schema"]),
        spec=dict(r["spec"]),
        created_at=r["created_at"],
        created_by=r["created_by"],
    )


_ARROW_TYPES = {
    "int64": pa.int64(),
    "float64": pa.float64(),
    "string": pa.string(),
    "bool": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}


def _run_on_demand(table: pa.Table, code: OnDemandFeatureView) -> pa.Table:
    """Run an on-demand view's function once per row, over request fields and its inputs
    (by feature name), and append its outputs (typed as declared)."""
    inputs = [parse_feature_ref(r)[1] for r in code.inputs] + [f.name for f in code.request]
    columns = {n: table.column(n).to_pylist() for n in dict.fromkeys(inputs)}
    outputs: dict[str, list[Any]] = {f.name: [] for f in code.outputs}
    for index in range(table.num_rows):
        answer = code.function({n: values[index] for n, values in columns.items()})
        for f in code.outputs:
            outputs[f.name].append(answer.get(f.name, f.default))
    for f in code.outputs:
        try:
            array = pa.array(outputs[f.name], _ARROW_TYPES[f.dtype])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise InvalidInput(
                f"on-demand view {code.name!r}, feature {f.name!r}: returned values that are "
                f"not {f.dtype}: {error}"
            ) from None
        table = table.append_column(f.name, array)
    return table
