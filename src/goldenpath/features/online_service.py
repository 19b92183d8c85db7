"""Online features: materialise views into the online store, look values up, push rows.

The lead exposes :class:`OnlineFeatures` as ``ws.features.materialize``, ``.online`` and
``.push`` (after the permission checks of ``ws.features``). The rules are in
docs/features.md; in short: row-level values are the latest source row with event time
<= T (ties by created time, dataset version, row position), live while ``T - event <= ttl``;
windowed aggregations are computed at read time over the events in ``(T - w, T]`` kept in the
store, so they stay exact as time passes and as rows are pushed.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Union, cast

import pyarrow as pa

from goldenpath.core import faults
from goldenpath.core.actor import Actor
from goldenpath.core.errors import Conflict, InvalidInput, NotFound
from goldenpath.core.limits import Limits
from goldenpath.data.service import DatasetService
from goldenpath.features.definitions import (
    Aggregation,
    FeatureService,
    FeatureView,
    OnDemandFeatureView,
    SqlSource,
    parse_feature_ref,
)
from goldenpath.features.materialize import (
    MaterializeResult,
    Recorder,
    ViewMaterialization,
    evaluate,
    key_types,
    layout_of,
    materialize_view,
    record_state,
    tag_batch,
)
from goldenpath.features.online.base import (
    AsyncReads,
    OnlineStore,
    StoredEvent,
    ViewLayout,
    encode_key,
)
from goldenpath.features.online_inputs import (
    count_rows,
    micros,
    push_table,
    to_entity_rows,
    typed_from_text,
)
from goldenpath.features.online_values import aggregate, decode, event_time, run_on_demand
from goldenpath.features.project import Definitions
from goldenpath.store.engine import MetadataStore

if TYPE_CHECKING:
    import pandas as pd

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Origin = tuple[str | None, tuple[int, ...], int]
"""Where an online value came from: see :attr:`OnlineResult.origins`."""

EntityRows = Union[Sequence[Mapping[str, Any]], pa.Table, "pd.DataFrame"]
PushRows = EntityRows


@dataclass(frozen=True)
class OnlineResult:
    """Online values for a list of entity rows, column by column.

    ``values[feature][i]`` is feature ``feature``'s value for ``entity_rows[i]``;
    ``statuses[feature][i]`` is ``present`` (a count over a window without events too: a
    known 0), ``missing`` (no row at or before ``at``, a null key, or for another aggregation
    no event in its window) or ``expired`` (the newest row is older than the view's TTL: the
    value is the feature's default); ``ages[feature][i]`` is the seconds from the value's
    event time (an aggregation: its newest event in the window) to ``at``, None without one.
    Features are named without their view.

    ``origins[feature][i]`` says where the value came from (the lineage a prediction log
    keeps): ``(dataset, versions, event_us)``, the view's source dataset, the dataset
    versions of the rows it was computed from (one for a row-level value; each distinct one
    of the events in the window for an aggregation) and the event time in microseconds of
    that row (of the newest event in the window); ``dataset`` is None and ``versions`` empty
    for a view over a SQL query (its rows are the query's output, see
    ``goldenpath.lineage``). None without a value read from the store (missing, an on-demand
    output, a read over HTTP).
    """

    at: datetime
    entity_rows: list[dict[str, Any]]
    values: dict[str, list[Any]]
    statuses: dict[str, list[str]]
    ages: dict[str, list[float | None]]
    origins: dict[str, list[Origin | None]] = field(default_factory=dict)

    def to_rows(self) -> list[dict[str, Any]]:
        """One dict per entity row: its keys and every feature's value."""
        rows = [dict(row) for row in self.entity_rows]
        for name, column in self.values.items():
            for row, value in zip(rows, column, strict=True):
                row[name] = value
        return rows

    def as_dict(self) -> dict[str, Any]:
        def plain(value: Any) -> Any:
            return value.isoformat() if isinstance(value, datetime) else value

        return {
            "at": self.at.isoformat(),
            "rows": [{k: plain(v) for k, v in row.items()} for row in self.to_rows()],
            "statuses": self.statuses,
            "ages": self.ages,
        }


@dataclass(frozen=True)
class PushResult:
    """What a push wrote: the new dataset version (the offline log) and the online rows."""

    view: str
    rows: int
    dataset_version: str
    online: ViewMaterialization
    # The contract's table rules the push did not apply: checked over the pushed rows by the
    # next materialisation (pending), or never applied to pushes (not_applied: table.rows).
    pending_rules: list[str] = field(default_factory=list)
    not_applied_rules: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "view": self.view,
            "rows": self.rows,
            "dataset_version": self.dataset_version,
            "online": self.online.as_dict(),
            "pending_rules": list(self.pending_rules),
            "not_applied_rules": list(self.not_applied_rules),
        }


@dataclass(frozen=True)
class _FieldRead:
    name: str
    index: int
    dtype: str
    default: Any


@dataclass(frozen=True)
class _ViewPlan:
    view: FeatureView
    layout: ViewLayout
    fields: tuple[_FieldRead, ...]
    aggregations: tuple[tuple[Aggregation, int | None], ...]
    window_us: int
    ttl_us: int | None

    @property
    def dataset(self) -> str | None:
        """The source dataset whose versions the stored rows carry (None: a SQL query)."""
        source = self.view.source
        return source if isinstance(source, str) else None


@dataclass(frozen=True)
class _Plan:
    views: tuple[_ViewPlan, ...]
    on_demand: tuple[tuple[OnDemandFeatureView, tuple[str, ...]], ...]
    hidden: tuple[str, ...]  # inputs of on-demand features that were not asked for


class OnlineFeatures:
    """Materialise, read and push online features for one workspace and set of definitions."""

    def __init__(
        self,
        definitions: Definitions,
        datasets: DatasetService,
        store: OnlineStore,
        meta: MetadataStore,
        actor: Actor,
        limits: Limits | None = None,
        recorder: Recorder | None = None,
    ) -> None:
        """``definitions``: the views (from the registry or ``features.py``); ``datasets``: the
        acting principal's dataset service (its access checks apply to every read and push);
        ``store``: from :func:`goldenpath.features.online.open_online_store`; ``meta``: the
        metadata database (materialisation state); ``recorder``: called with what each
        materialisation or push wrote, in the transaction recording its state (``ws.features``
        records lineage edges and the audit event there)."""
        self._definitions = definitions
        self._datasets = datasets
        self._store = store
        self._meta = meta
        self._actor = actor
        self._limits = limits or Limits()
        self._recorder = recorder
        self._plans: dict[tuple[str, ...], _Plan] = {}

    # -- materialise ---------------------------------------------------------------------------

    def materialize(
        self,
        views: Sequence[str] | None = None,
        *,
        full: bool = False,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> MaterializeResult:
        """Bring the online values of ``views`` (default: every batch view) up to date.

        Incremental by default (only the dataset versions added since the last run); ``full``
        rebuilds; ``start``/``end`` (timezone-aware) upsert the rows with event time in
        ``[start, end)``. Each view is written atomically (SQLite) or entity by entity
        (Redis), and its state recorded only afterwards, so a run killed midway is redone by
        the next one. The result says per view what was read: the lineage of the values.
        """
        if start is not None and end is not None and start >= end:
            raise InvalidInput("the backfill start must be before its end")
        names = list(views) if views is not None else sorted(self._definitions.views)
        chosen = [self._view(name) for name in names]
        self._plans.clear()
        results = [
            materialize_view(
                view,
                datasets=self._datasets,
                store=self._store,
                meta=self._meta,
                actor=self._actor,
                full=full,
                start=start,
                end=end,
                recorder=self._recorder,
            )
            for view in chosen
        ]
        # The next materialised batch checks the table rules pushes left pending (a push
        # applies row rules only): once per dataset the views read.
        read = dict.fromkeys(
            d
            for view in chosen
            for d in (view.source.datasets if isinstance(view.source, SqlSource) else [view.source])
        )
        checks = [self._datasets.check_pending_rules(dataset) for dataset in read]
        return MaterializeResult(results, [c for c in checks if c is not None])

    # -- read -----------------------------------------------------------------------------------

    def online(
        self,
        entity_rows: EntityRows,
        features: Sequence[str] | FeatureService,
        *,
        at: datetime | None = None,
        keys_as_text: bool = False,
    ) -> OnlineResult:
        """The values of ``features`` (``"view:feature"`` references, or a feature service) for
        each entity row (a mapping holding the views' join keys; or an Arrow/pandas table) at
        instant ``at`` (timezone-aware; default now).

        ``keys_as_text``: the rows' values are text (``gp features online --entity k=v``),
        each read as the type its definition gives it: a join key as its view's source column
        (integer or text: ``007`` stays ``"007"`` for a text key), a request field of an
        on-demand view as its dtype. A value that does not read so is one InvalidInput.

        Exact at any ``at`` from each entity's newest event (as of the last write) on, which
        includes now; past instants are what training sets are for: an ``at`` before the
        oldest row the store keeps for an entity is an :class:`InvalidInput` naming the
        window, never an answer of missing values. A join key of the wrong type is an
        :class:`InvalidInput` naming the column; more rows than
        ``limits.online_entities_max`` too, before anything is read.
        """
        return _drive(self._lookup(entity_rows, features, at, keys_as_text), self._store)

    async def online_async(
        self,
        entity_rows: EntityRows,
        features: Sequence[str] | FeatureService,
        *,
        at: datetime | None = None,
    ) -> OnlineResult:
        """:meth:`online` for an event loop: a network store's reads are awaited
        (``OnlineStore.async_reads``), so a slow store never blocks the loop; a local store is
        read inline. The same answers and errors; the caller bounds the time (an inference
        server: ``limits.online_lookup_seconds``) by cancelling it."""
        steps = self._lookup(entity_rows, features, at, False)
        reads = self._store.async_reads()
        if reads is None:
            return _drive(steps, self._store)
        try:
            read = next(steps)
            while True:
                read = steps.send(await read.run_async(reads))
        except StopIteration as done:
            return cast(OnlineResult, done.value)

    def _lookup(
        self,
        entity_rows: EntityRows,
        features: Sequence[str] | FeatureService,
        at: datetime | None,
        keys_as_text: bool,
    ) -> Generator[_Read, Any, OnlineResult]:
        """The lookup, with each store read yielded (a :class:`_Read`) and its answer sent
        back: one implementation for the blocking and the awaiting callers."""
        count = count_rows(entity_rows)
        if count > self._limits.online_entities_max:
            raise InvalidInput(
                f"{count} entity rows is more than limits.online_entities_max "
                f"({self._limits.online_entities_max}) in one lookup",
                hint="split the request, or raise the limit (GP_LIMIT_ONLINE_ENTITIES_MAX)",
            )
        rows = to_entity_rows(entity_rows)
        refs = tuple(features.refs if isinstance(features, FeatureService) else features)
        plans = self._plans.get(refs)
        if plans is None:
            plans = self._plan(refs)
        if keys_as_text:
            rows = typed_from_text(rows, _declared_types(plans))
        now_us = time.time_ns() // 1000
        at_us = now_us if at is None else micros(at, what="at")
        values: dict[str, list[Any]] = {}
        statuses: dict[str, list[str]] = {}
        ages: dict[str, list[float | None]] = {}
        origins: dict[str, list[Origin | None]] = {}
        for plan in plans.views:
            keys = self._keys(plan, rows)
            present = [k for k in keys if k is not None]
            stored: list[Any] = []
            if plan.fields:
                found = iter((yield _Read("rows", plan.layout, present, at_us)))
                stored = [None if k is None else next(found) for k in keys]
            if at_us < now_us:  # a past instant: is it one the store still answers exactly?
                unsure = [k for i, k in enumerate(keys) if k is not None and not _found(stored, i)]
                if unsure:
                    oldest = yield _Read("oldest", plan.layout, unsure)
                    self._check_exact(plan, unsure, oldest, at_us, now_us)
            if plan.fields:
                self._fields(plan, stored, at_us, values, statuses, ages, origins)
            if plan.aggregations:
                start = at_us - plan.window_us
                got = iter((yield _Read("events", plan.layout, present, start, at_us)))
                events = [[] if k is None else next(got) for k in keys]
                self._aggregate(plan, keys, events, at_us, values, statuses, ages, origins)
        for odfv, outputs in plans.on_demand:
            run_on_demand(odfv, outputs, rows, values, statuses, ages)
        for name in plans.hidden:
            del values[name], statuses[name], ages[name]
            origins.pop(name, None)
        at_time = at if at is not None else EPOCH + timedelta(microseconds=at_us)
        return OnlineResult(at_time.astimezone(UTC), rows, values, statuses, ages, origins)

    def _plan(self, refs: tuple[str, ...]) -> _Plan:
        if not refs:
            raise InvalidInput("name at least one feature", hint="for example: user_stats:amount")
        batch: list[str] = []
        on_demand: dict[str, list[str]] = {}
        for ref in refs:
            view_name, feature = parse_feature_ref(ref)
            odfv = self._definitions.on_demand.get(view_name)
            if odfv is None:
                batch.append(ref)
                continue
            if feature not in odfv.feature_names:
                raise NotFound(
                    f"unknown feature {ref!r}",
                    hint=f"{view_name} defines: {', '.join(odfv.feature_names)}",
                )
            on_demand.setdefault(view_name, []).append(feature)
        requested = {parse_feature_ref(r)[1] for r in refs}
        hidden: list[str] = []
        for view_name in on_demand:
            for ref in self._definitions.on_demand[view_name].inputs:
                source, feature = parse_feature_ref(ref)
                if source in self._definitions.on_demand:
                    raise InvalidInput(
                        f"on-demand view {view_name!r} reads {ref!r}, another on-demand "
                        "feature: not served online",
                        hint="give it the batch features that one reads",
                    )
                if ref not in batch:
                    batch.append(ref)
                    if feature not in requested:
                        hidden.append(feature)
        views = self._view_plans(tuple(batch))
        plan = _Plan(
            views,
            tuple(
                (self._definitions.on_demand[name], tuple(outputs))
                for name, outputs in on_demand.items()
            ),
            tuple(dict.fromkeys(hidden)),
        )
        self._plans[refs] = plan
        return plan

    def _view_plans(self, refs: tuple[str, ...]) -> tuple[_ViewPlan, ...]:
        wanted: dict[str, list[str]] = {}
        seen: dict[str, str] = {}
        for ref in refs:
            view_name, feature = parse_feature_ref(ref)
            view = self._view(view_name)
            if feature not in view.feature_names:
                raise NotFound(
                    f"unknown feature {ref!r}",
                    hint=f"{view_name} defines: {', '.join(view.feature_names)}",
                )
            if feature in seen and seen[feature] != ref:
                raise InvalidInput(
                    f"features {seen[feature]!r} and {ref!r} share the name {feature!r}",
                    hint="request them in separate lookups",
                )
            seen[feature] = ref
            wanted.setdefault(view_name, []).append(feature)
        plans = []
        for view_name, names in wanted.items():
            view = self._view(view_name)
            layout = self._store.layout(view_name)
            if layout is None:
                raise NotFound(
                    f"feature view {view_name!r} has no online values yet",
                    hint=f"materialise it with: gp features materialize {view_name}",
                )
            if layout.definition_hash != view.version_hash:
                raise Conflict(
                    f"the online values of {view_name!r} were computed by another version of "
                    "its definition",
                    hint=f"materialise it again with: gp features materialize {view_name}",
                )
            fields = tuple(
                _FieldRead(f.name, layout.fields.index(f.name), f.dtype, f.default)
                for f in view.features
                if f.name in names
            )
            aggregations = tuple(
                (a, layout.event_columns.index(a.name) if a.column is not None else None)
                for a in view.aggregations
                if a.name in names
            )
            window = max((int(a.window_delta.total_seconds()) for a, _ in aggregations), default=0)
            ttl = view.ttl_delta
            plans.append(
                _ViewPlan(
                    view,
                    layout,
                    fields,
                    aggregations,
                    window * 1_000_000,
                    None if ttl is None else int(ttl.total_seconds()) * 1_000_000,
                )
            )
        return tuple(plans)

    @staticmethod
    def _keys(plan: _ViewPlan, rows: list[dict[str, Any]]) -> list[str | None]:
        join_keys = plan.view.join_keys
        types = plan.layout.key_types
        if len(join_keys) == 1:  # the common case, without the general loop's overhead
            name, expected = join_keys[0], int if types[0] == "int64" else str
            try:
                single = [row[name] for row in rows]
            except KeyError:
                single = []  # the general loop below names the row's problem
            else:
                if all(type(v) is expected for v in single):
                    return [str(v) for v in single]
        keys: list[str | None] = []
        for row in rows:
            values = []
            for name, kind in zip(join_keys, types, strict=True):
                try:
                    value = row[name]
                except KeyError:
                    raise InvalidInput(
                        f"an entity row lacks join key {name!r} (feature view {plan.view.name!r})",
                        hint=f"give every row: {', '.join(join_keys)}",
                    ) from None
                if value is not None and not _is(kind, value):
                    raise InvalidInput(
                        f"join key {name!r} of feature view {plan.view.name!r} must be "
                        f"{kind}, not {type(value).__name__} ({value!r})",
                        hint="send keys with the type they have in the source dataset",
                    )
                values.append(value)
            keys.append(None if None in values else encode_key(values))
        return keys

    @staticmethod
    def _check_exact(
        plan: _ViewPlan, keys: list[str], oldests: list[int | None], at_us: int, now_us: int
    ) -> None:
        """Refuse a lookup at an instant the store may no longer answer for an entity: before
        the oldest row it keeps for it (``oldests``; older rows may have been pruned: it cannot
        tell "no data then" from "data it dropped"). Rows dated in the future when written were
        never pruned for, so an entity whose oldest row is still in the future is answered."""
        for key, oldest in zip(keys, oldests, strict=True):
            if oldest is not None and at_us < oldest <= now_us:
                names = plan.view.join_keys
                entity = f"{names[0]}={key}" if len(names) == 1 else f"({', '.join(names)})={key}"
                since = (EPOCH + timedelta(microseconds=oldest)).isoformat()
                asked = (EPOCH + timedelta(microseconds=at_us)).isoformat()
                raise InvalidInput(
                    f"the online store answers feature view {plan.view.name!r} for {entity} "
                    f"from {since} on (its newest event as of the last write); {asked} is "
                    "before that, where it no longer keeps the rows an exact answer needs",
                    hint="look up at that instant or later, or build a training set for past "
                    "instants: gp features training-set",
                )

    @staticmethod
    def _fields(
        plan: _ViewPlan,
        stored: list[Any],
        at_us: int,
        values: dict[str, list[Any]],
        statuses: dict[str, list[str]],
        ages: dict[str, list[float | None]],
        origins: dict[str, list[Origin | None]],
    ) -> None:
        # Liveness once per entity, then one comprehension per feature (the hot path).
        live: list[tuple[Any, ...] | None] = []
        status: list[str] = []
        age: list[float | None] = []
        origin: list[Origin | None] = []
        ttl = plan.ttl_us
        dataset = plan.dataset
        for found in stored:
            if found is None:
                live.append(None)
                status.append("missing")
                age.append(None)
                origin.append(None)
                continue
            elapsed = at_us - found[0]
            age.append(elapsed / 1e6)
            # An expired row still says where the row it judged came from.
            origin.append((dataset, (found[2],) if dataset is not None else (), found[0]))
            if ttl is not None and elapsed > ttl:
                live.append(None)
                status.append("expired")
            else:
                live.append(found[1])
                status.append("present")
        for read in plan.fields:
            index, default = read.index, read.default
            if read.dtype in ("timestamp", "bool"):
                dtype = read.dtype
                values[read.name] = [
                    default if row is None else decode(dtype, row[index]) for row in live
                ]
            else:
                values[read.name] = [default if row is None else row[index] for row in live]
            statuses[read.name] = status[:]
            ages[read.name] = age[:]
            origins[read.name] = origin[:]

    @staticmethod
    def _aggregate(
        plan: _ViewPlan,
        keys: list[str | None],
        events: list[list[StoredEvent]],
        at_us: int,
        values: dict[str, list[Any]],
        statuses: dict[str, list[str]],
        ages: dict[str, list[float | None]],
        origins: dict[str, list[Origin | None]],
    ) -> None:
        # Each entity's events in event-time order, once; a window is then a suffix found by
        # bisection, and the newest event in it is the last one.
        dataset = plan.dataset
        timelines = []
        for entity in events:
            entity.sort(key=event_time)
            timelines.append([e[0] for e in entity])
        for aggregation, index in plan.aggregations:
            since = at_us - int(aggregation.window_delta.total_seconds()) * 1_000_000
            column: list[Any] = []
            status: list[str] = []
            age: list[float | None] = []
            origin: list[Origin | None] = []
            # A count over a window without events is a known 0 (for an entity: a null key is
            # no entity); the other functions have no value there.
            counted = aggregation.function in ("count", "count_distinct")
            for key, entity, times in zip(keys, events, timelines, strict=True):
                inside = entity[bisect_right(times, since) :]
                column.append(aggregate(aggregation, inside, index))
                if inside:
                    status.append("present")
                    age.append((at_us - inside[-1][0]) / 1e6)
                    versions = tuple(sorted({e[2] for e in inside})) if dataset else ()
                    origin.append((dataset, versions, inside[-1][0]))
                else:
                    status.append("present" if counted and key is not None else "missing")
                    age.append(None)
                    origin.append(None)
            values[aggregation.name] = column
            statuses[aggregation.name] = status
            ages[aggregation.name] = age
            origins[aggregation.name] = origin

    # -- push -----------------------------------------------------------------------------------

    def push(self, view: str, rows: PushRows) -> PushResult:
        """Append ``rows`` to the view's source dataset, then write them online.

        The rows are checked against the row rules of the dataset's contract in reject mode:
        one bad row refuses the push (:class:`ValidationFailed` naming each failing row and
        rule) and nothing is written. Its table rules judge batches: the result lists them as
        pending (the next materialisation checks them over the rows pushed since) or not
        applied (``table.rows``).
        Order: the offline log first (a new dataset version), then the online store, so the
        online store never serves a value the offline log lacks; a crash between the two is
        repaired by the next materialisation (the version is newer than the recorded state).
        """
        chosen = self._view(view)
        if isinstance(chosen.source, SqlSource):
            raise InvalidInput(
                f"feature view {view!r} reads a SQL query: rows cannot be pushed to it",
                hint="push to a view whose source is a dataset (the query's own datasets "
                "take new rows through gp data ingest)",
            )
        dataset = chosen.source
        schema = self._datasets.head(dataset, 1).schema.remove_metadata()
        count = count_rows(rows)
        if count > self._limits.push_rows_max:
            raise InvalidInput(
                f"{count} rows is more than limits.push_rows_max "
                f"({self._limits.push_rows_max}) in one push",
                hint="push smaller batches, or ingest a file with: gp data ingest",
            )
        table = push_table(rows, schema, dataset)
        if table.num_rows == 0:
            raise InvalidInput("nothing to push: no rows")
        result = self._datasets.append_rows(
            dataset, table, source={"kind": "feature_push", "view": view, "rows": table.num_rows}
        )
        number = result.version.version
        report = result.report
        deferred = ([], []) if report is None else (report.pending, report.not_applied)
        faults.reach("push.after-offline")
        self._plans.clear()
        layout = self._store.layout(view)
        if layout is None or layout.definition_hash != chosen.version_hash:
            # Not materialised under this definition yet: a full run includes the new rows.
            online = materialize_view(
                chosen,
                datasets=self._datasets,
                store=self._store,
                meta=self._meta,
                actor=self._actor,
                recorder=self._recorder,
            )
            return PushResult(view, table.num_rows, result.version.ref, online, *deferred)
        started = time.perf_counter()
        (version, batch), *_ = self._datasets.read_batches(dataset, after=number - 1, upto=number)
        now_us = time.time_ns() // 1000
        source = tag_batch(batch, version.version)
        layout = layout_of(chosen, key_types(chosen, source.schema))
        written, events, read, first, last = evaluate(chosen, source, layout, now_us=now_us)
        self._store.write(layout, written, events, now_us=now_us)
        keys = set(written.column("__key").to_pylist())
        if events is not None:
            keys.update(events.column("__key").to_pylist())
        online = ViewMaterialization(
            view,
            "push",
            read,
            len(keys),
            {dataset: [number]},
            None if first is None else EPOCH + timedelta(microseconds=first),
            None if last is None else EPOCH + timedelta(microseconds=last),
            time.perf_counter() - started,
        )
        recorder = self._recorder
        record_state(
            self._meta,
            self._actor,
            self._store.identity,
            chosen,
            {dataset: number},
            read,
            len(keys),
            only_after={dataset: number - 1},
            also=None if recorder is None else (lambda conn: recorder(conn, online)),
        )
        return PushResult(view, table.num_rows, result.version.ref, online, *deferred)

    # -- helpers --------------------------------------------------------------------------------

    def view_definition(self, name: str) -> FeatureView:
        """The batch view ``name`` these online features were built over."""
        return self._view(name)

    def _view(self, name: str) -> FeatureView:
        view = self._definitions.views.get(name)
        if view is None:
            known = ", ".join(sorted(self._definitions.views)) or "none"
            raise NotFound(f"unknown feature view {name!r}", hint=f"views defined: {known}")
        return view


@dataclass(frozen=True)
class _Read:
    """One read a lookup needs from the store: ``rows`` (``a``: the instant), ``events``
    (``a``, ``b``: the window) or ``oldest``."""

    kind: str
    layout: ViewLayout
    keys: list[str]
    a: int = 0
    b: int = 0

    def run(self, store: OnlineStore) -> Any:
        if self.kind == "rows":
            return store.read_rows(self.layout, self.keys, self.a)
        if self.kind == "events":
            return store.read_events(self.layout, self.keys, self.a, self.b)
        return store.oldest_rows(self.layout, self.keys)

    async def run_async(self, reads: AsyncReads) -> Any:
        if self.kind == "rows":
            return await reads.read_rows(self.layout, self.keys, self.a)
        if self.kind == "events":
            return await reads.read_events(self.layout, self.keys, self.a, self.b)
        return await reads.oldest_rows(self.layout, self.keys)


def _drive(steps: Generator[_Read, Any, OnlineResult], store: OnlineStore) -> OnlineResult:
    """Run a lookup's reads on ``store``, blocking."""
    try:
        read = next(steps)
        while True:
            read = steps.send(read.run(store))
    except StopIteration as done:
        return cast(OnlineResult, done.value)


def _declared_types(plan: _Plan) -> dict[str, tuple[str, str]]:
    """Each entity-row name the lookup reads and its type: join keys as their views' source
    columns (as materialised), request fields as their on-demand views declare them."""
    types: dict[str, tuple[str, str]] = {}
    for view in plan.views:
        for key, kind in zip(view.view.join_keys, view.layout.key_types, strict=True):
            types.setdefault(key, (kind, f"join key {key!r} of feature view {view.view.name!r}"))
    for odfv, _ in plan.on_demand:
        for request in odfv.request:
            where = f"request field {request.name!r} of on-demand view {odfv.name!r}"
            types.setdefault(request.name, (request.dtype, where))
    return types


def _found(stored: list[Any], index: int) -> bool:
    """Whether the row lookup found a row for entity ``index`` (a row at or before the
    instant: then the instant is at or after the oldest row kept, where the store is exact)."""
    return bool(stored) and stored[index] is not None


def _is(kind: str, value: Any) -> bool:
    if kind == "int64":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)
