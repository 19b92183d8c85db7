"""Walking the lineage graph: the nodes (versioned objects, each in a project) and the edges
between them that ``lineage_edges`` records, upstream (what went into an object) and downstream
(what depends on it).

Edges are stored in the direction data flows (``dataset_version -> feature_view_version ->
training_set -> model_version``), except ``deployment -> model_version`` (``serves``), which
the walks read the other way round: a model version flows into the deployment serving it.

A walk asks ``readable(kind, project)`` of every node before it shows it: a node the caller
may not read is left out, counted in :attr:`Walk.hidden` by kind, and never walked through (so
nothing beyond it is inferred from it either). Every query is on an indexed column: an edge by
its ``to`` or ``from`` node, an object by its id or its name and version.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from goldenpath.core.errors import NotFound
from goldenpath.lineage.refs import LineageRef
from goldenpath.store.tables import (
    dataset_versions,
    datasets,
    deployments,
    feature_definitions,
    feature_versions,
    lineage_edges,
    model_versions,
    models,
    projects,
    runs,
    training_sets,
)

EDGES_MAX = 10_000
"""The default of ``limits.lineage_edges_max``: edges read per node and direction (a view
version pushed to every second for days has that many); a walk that meets more says it was
cut (:attr:`Walk.truncated`)."""

MATERIALIZED = "materialized_into_online"
PUSHED = "pushed_into_online"
ONLINE_RELATIONS = (MATERIALIZED, PUSHED)

Readable = Callable[[str, str], bool]
"""``readable(node_kind, project)``: whether the caller may see a node of that project."""


@dataclass(frozen=True)
class Node:
    """One object of the graph: ``kind`` as stored, its id, its reference (``transactions@3``,
    a run or request id, a deployment's name), its project and what describes it."""

    kind: str
    id: str
    ref: str
    project: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.ref}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "ref": self.ref,
            "id": self.id,
            "project": self.project,
            **self.detail,
        }


@dataclass(frozen=True)
class Edge:
    """``source`` went into ``target`` (node keys) by ``relation``."""

    source: str
    target: str
    relation: str
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "from": self.source,
            "to": self.target,
            "relation": self.relation,
            "attributes": dict(self.attributes),
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# -- loading nodes ----------------------------------------------------------------------------


def _dataset_version(conn: Connection, where: Any) -> Node | None:
    row = conn.execute(
        select(
            dataset_versions.c.id,
            datasets.c.name,
            dataset_versions.c.version,
            dataset_versions.c.row_count,
            dataset_versions.c.mode,
            dataset_versions.c.fingerprint,
            dataset_versions.c.created_at,
            projects.c.name.label("project"),
        )
        .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
        .join(projects, projects.c.id == datasets.c.project_id)
        .where(where)
    ).first()
    if row is None:
        return None
    return Node(
        "dataset_version",
        row.id,
        f"{row.name}@{row.version}",
        row.project,
        {
            "rows": int(row.row_count),
            "mode": row.mode,
            "fingerprint": row.fingerprint,
            "created_at": _iso(row.created_at),
        },
    )


def _view_version(conn: Connection, where: Any) -> Node | None:
    defs = feature_definitions
    row = conn.execute(
        select(
            feature_versions.c.id,
            defs.c.name,
            defs.c.kind,
            feature_versions.c.version,
            feature_versions.c.version_hash,
            feature_versions.c.created_at,
            projects.c.name.label("project"),
        )
        .join(defs, defs.c.id == feature_versions.c.definition_id)
        .join(projects, projects.c.id == defs.c.project_id)
        .where(where)
    ).first()
    if row is None:
        return None
    return Node(
        "feature_view_version",
        row.id,
        f"{row.name}@{row.version}",
        row.project,
        {
            "view_kind": row.kind,
            "version_hash": row.version_hash,
            "created_at": _iso(row.created_at),
        },
    )


def _training_set(conn: Connection, where: Any) -> Node | None:
    t = training_sets
    row = conn.execute(
        select(
            t.c.id,
            t.c.name,
            t.c.version,
            t.c.row_count,
            t.c.fingerprint,
            t.c.spec,
            t.c.created_at,
            projects.c.name.label("project"),
        )
        .join(projects, projects.c.id == t.c.project_id)
        .where(where)
    ).first()
    if row is None:
        return None
    return Node(
        "training_set",
        row.id,
        f"{row.name}@{row.version}",
        row.project,
        {
            "rows": int(row.row_count),
            "fingerprint": row.fingerprint,
            "created_at": _iso(row.created_at),
            "_views": dict(row.spec.get("views") or {}),
        },
    )


def _run(conn: Connection, where: Any) -> Node | None:
    row = conn.execute(
        select(
            runs.c.id,
            runs.c.experiment,
            runs.c.name,
            runs.c.status,
            runs.c.started_at,
            runs.c.ended_at,
            runs.c.created_by,
            projects.c.name.label("project"),
        )
        .join(projects, projects.c.id == runs.c.project_id)
        .where(where)
    ).first()
    if row is None:
        return None
    return Node(
        "run",
        row.id,
        row.id,
        row.project,
        {
            "experiment": row.experiment,
            "name": row.name,
            "status": row.status,
            "started_at": _iso(row.started_at),
            "ended_at": _iso(row.ended_at),
            "created_by": row.created_by,
        },
    )


def _model_version(conn: Connection, where: Any) -> Node | None:
    mv = model_versions
    row = conn.execute(
        select(
            mv.c.id,
            models.c.name,
            mv.c.version,
            mv.c.status,
            mv.c.flavor,
            mv.c.task,
            mv.c.run_id,
            mv.c.created_at,
            projects.c.name.label("project"),
        )
        .join(models, models.c.id == mv.c.model_id)
        .join(projects, projects.c.id == models.c.project_id)
        .where(where)
    ).first()
    if row is None:
        return None
    return Node(
        "model_version",
        row.id,
        f"{row.name}@{row.version}",
        row.project,
        {
            "model": row.name,
            "version": int(row.version),
            "status": row.status,
            "flavor": row.flavor,
            "task": row.task,
            "created_at": _iso(row.created_at),
        },
    )


def _deployment(conn: Connection, where: Any) -> Node | None:
    d = deployments
    row = conn.execute(
        select(
            d.c.id,
            d.c.name,
            d.c.model,
            d.c.stage,
            d.c.status,
            d.c.primary_version,
            d.c.candidate_version,
            d.c.candidate_mode,
            projects.c.name.label("project"),
        )
        .join(projects, projects.c.id == d.c.project_id)
        .where(where)
    ).first()
    if row is None:
        return None
    return Node(
        "deployment",
        row.id,
        row.name,
        row.project,
        {
            "model": row.model,
            "stage": row.stage,
            "status": row.status,
            "primary_version": row.primary_version,
            "candidate_version": row.candidate_version,
            "candidate_mode": row.candidate_mode,
        },
    )


_BY_ID: dict[str, Callable[[Connection, str], Node | None]] = {
    "dataset_version": lambda c, i: _dataset_version(c, dataset_versions.c.id == i),
    "feature_view_version": lambda c, i: _view_version(c, feature_versions.c.id == i),
    "training_set": lambda c, i: _training_set(c, training_sets.c.id == i),
    "run": lambda c, i: _run(c, runs.c.id == i),
    "model_version": lambda c, i: _model_version(c, model_versions.c.id == i),
    "deployment": lambda c, i: _deployment(c, deployments.c.id == i),
}


def find(conn: Connection, ref: LineageRef) -> Node | None:
    """The node ``ref`` names (not a prediction), or None."""
    kind, name, version = ref.node_kind, ref.name, ref.version
    if kind == "dataset_version":
        return _dataset_version(
            conn, (datasets.c.name == name) & (dataset_versions.c.version == version)
        )
    if kind == "feature_view_version":
        defs = feature_definitions
        return _view_version(
            conn,
            (defs.c.namespace == "view")
            & (defs.c.name == name)
            & (feature_versions.c.version == version),
        )
    if kind == "training_set":
        return _training_set(
            conn, (training_sets.c.name == name) & (training_sets.c.version == version)
        )
    if kind == "model_version":
        return _model_version(conn, (models.c.name == name) & (model_versions.c.version == version))
    if kind == "deployment":
        return _deployment(conn, deployments.c.name == name)
    if kind == "run":
        return _run(conn, runs.c.id == ref.id)
    raise ValueError(f"no node kind {kind}")


def _by_ref(conn: Connection, kind: str, ref: str) -> Node | None:
    name, _, version = ref.partition("@")
    if not version.isdigit():
        return None
    short = {
        "dataset_version": "dataset",
        "feature_view_version": "view",
        "training_set": "training-set",
        "model_version": "model",
    }[kind]
    return find(conn, LineageRef(short, name=name, version=int(version)))


# -- the walk ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Stored:
    from_kind: str
    from_id: str
    to_kind: str
    to_id: str
    relation: str
    attributes: Mapping[str, Any]
    created_at: datetime


class Walk:
    """The nodes and edges one query has met, with what was hidden from the caller."""

    def __init__(self, conn: Connection, readable: Readable, edges_max: int = EDGES_MAX) -> None:
        self.conn = conn
        self._edges_max = edges_max
        self._readable = readable
        self.nodes: dict[str, Node] = {}
        self.edges: dict[tuple[str, str, str], Edge] = {}
        self.hidden: dict[str, set[str]] = {}
        self.truncated = False
        self._by_id: dict[tuple[str, str], Node | None] = {}
        self._done: set[tuple[str, str]] = set()

    # nodes and edges

    def admit(self, node: Node | None) -> Node | None:
        """``node`` if the caller may read it (recorded), else None (counted as hidden)."""
        if node is None:
            return None
        if not self._readable(node.kind, node.project):
            self.hidden.setdefault(node.kind, set()).add(node.id)
            return None
        self.nodes.setdefault(node.key, node)
        return node

    def node(self, kind: str, id: str) -> Node | None:
        """The node ``kind``/``id`` if it exists and may be read."""
        key = (kind, id)
        if key not in self._by_id:
            loader = _BY_ID.get(kind)
            self._by_id[key] = self.admit(loader(self.conn, id) if loader else None)
        return self._by_id[key]

    def node_by_ref(self, kind: str, ref: str) -> Node | None:
        key = (kind, "@" + ref)  # ids hold no "@": one cache for both
        if key not in self._by_id:
            found = _by_ref(self.conn, kind, ref)
            if found is not None:
                self._by_id.setdefault((kind, found.id), self.admit(found))
                self._by_id[key] = self._by_id[(kind, found.id)]
            else:
                self._by_id[key] = None
        return self._by_id[key]

    def link(
        self, source: Node, target: Node, relation: str, attributes: Mapping[str, Any] | None = None
    ) -> None:
        key = (source.key, target.key, relation)
        if key not in self.edges:
            shown = {k: v for k, v in (attributes or {}).items() if not str(k).startswith("_")}
            self.edges[key] = Edge(source.key, target.key, relation, shown)

    def first_visit(self, node: Node) -> bool:
        key = (node.kind, node.id)
        if key in self._done:
            return False
        self._done.add(key)
        return True

    # stored edges

    def _edges(self, where: Any, newest_first: bool = False) -> Iterator[_Stored]:
        e = lineage_edges
        order = e.c.created_at.desc() if newest_first else e.c.created_at
        rows = self.conn.execute(
            select(
                e.c.from_kind,
                e.c.from_id,
                e.c.to_kind,
                e.c.to_id,
                e.c.relation,
                e.c.attributes,
                e.c.created_at,
            )
            .where(where)
            .order_by(order, e.c.id)
            .limit(self._edges_max + 1)
        ).all()
        if len(rows) > self._edges_max:
            self.truncated = True
            rows = rows[: self._edges_max]
        for row in rows:
            yield _Stored(
                row.from_kind,
                row.from_id,
                row.to_kind,
                row.to_id,
                row.relation,
                dict(row.attributes or {}),
                row.created_at,
            )

    def edges_to(self, node: Node, *, newest_first: bool = False) -> Iterator[_Stored]:
        e = lineage_edges
        return self._edges((e.c.to_kind == node.kind) & (e.c.to_id == node.id), newest_first)

    def edges_from(self, node: Node) -> Iterator[_Stored]:
        e = lineage_edges
        return self._edges((e.c.from_kind == node.kind) & (e.c.from_id == node.id))

    def as_dict(self) -> dict[str, Any]:
        return {
            "nodes": [n.as_dict() for n in self.nodes.values()],
            "edges": [e.as_dict() for e in self.edges.values()],
            "hidden": hidden_summary(self.hidden),
            "truncated": self.truncated,
        }


def hidden_summary(hidden: Mapping[str, set[str]]) -> list[dict[str, Any]]:
    """What was left out, by kind: how many, and why (never which, nor where)."""
    return [
        {
            "kind": kind,
            "count": len(ids),
            "reason": f"you may not read {'them' if len(ids) > 1 else 'it'} "
            f"({PERMISSIONS[kind]} on its project)",
        }
        for kind, ids in sorted(hidden.items())
        if ids
    ]


PERMISSIONS = {
    "prediction": "prediction.read",
    "deployment": "deployment.read",
    "model_version": "model.read",
    "run": "run.read",
    "training_set": "feature.read",
    "feature_view_version": "feature.read",
    "dataset_version": "dataset.read",
}
"""The permission that shows a node of each kind (on the node's project)."""


# -- upstream ---------------------------------------------------------------------------------


def upstream(walk: Walk, node: Node) -> None:
    """Everything that went into ``node``, recursively."""
    if not walk.first_visit(node):
        return
    kind = node.kind
    if kind == "deployment":
        for edge in walk.edges_from(node):
            if edge.relation == "serves" and edge.to_kind == "model_version":
                version = walk.node("model_version", edge.to_id)
                if version is not None:
                    walk.link(version, node, "served_by", edge.attributes)
                    upstream(walk, version)
        return
    if kind == "training_set":
        _upstream_training_set(walk, node)
        return
    for edge in walk.edges_to(node):
        source = walk.node(edge.from_kind, edge.from_id)
        if source is None:
            continue
        walk.link(source, node, edge.relation, edge.attributes)
        if source.kind in ("training_set", "run"):
            upstream(walk, source)


def _upstream_training_set(walk: Walk, node: Node) -> None:
    """The view versions a training set read and, per view, the dataset versions it read
    through them (from the set's spec, written with the set: exact, whatever else the view
    read for other sets or the online store)."""
    views: Mapping[str, Any] = node.detail.get("_views") or {}
    for edge in walk.edges_to(node):
        source = walk.node(edge.from_kind, edge.from_id)
        if source is None:
            continue
        walk.link(source, node, edge.relation, edge.attributes)
        if source.kind != "feature_view_version":
            continue
        used = views.get(source.ref.partition("@")[0]) or {}
        window = {
            "event_time_min": used.get("event_time_min"),
            "event_time_max": used.get("event_time_max"),
        }
        for dataset_ref, version_id in (used.get("datasets") or {}).items():
            dataset = walk.node("dataset_version", str(version_id))
            if dataset is not None:
                walk.link(dataset, source, "read_by", {"dataset": dataset_ref, **window})


def online_sources_at(walk: Walk, view: Node, moment: datetime) -> list[Node]:
    """The dataset versions the online values of ``view`` were built from as of ``moment``:
    per dataset, the newest materialised or pushed version recorded at or before it. What a
    value logged without its own source versions (a view over a SQL query, whose rows are its
    output; a prediction logged before values carried them) came from."""
    newest: dict[str, str] = {}
    for edge in walk.edges_to(view, newest_first=True):
        if edge.relation not in ONLINE_RELATIONS or edge.created_at > moment:
            continue
        dataset = str(edge.attributes.get("dataset", "")).partition("@")[0]
        newest.setdefault(dataset, edge.from_id)
    found = [walk.node("dataset_version", i) for i in newest.values()]
    return [n for n in found if n is not None]


# -- downstream -------------------------------------------------------------------------------


@dataclass
class Dependants:
    """What a downstream walk found that the prediction logs must be asked about: per
    deployment name, the model versions it served (``None``: every prediction it made), and
    the online sources whose values predictions logged (dataset or view version refs)."""

    served: dict[str, set[tuple[str, int]] | None] = field(default_factory=dict)
    dataset_values: set[str] = field(default_factory=set)
    view_values: set[str] = field(default_factory=set)


def downstream(walk: Walk, start: Node) -> Dependants:
    """Everything that depends on ``start``, and what to count in the prediction logs."""
    found = Dependants()
    queue = [start]
    while queue:
        node = queue.pop(0)
        if not walk.first_visit(node):
            continue
        kind = node.kind
        if kind == "deployment":
            found.served[node.ref] = None
            continue
        if kind == "model_version":
            for edge in walk.edges_to(node):
                if edge.relation != "serves":
                    continue
                deployment = walk.node("deployment", edge.from_id)
                if deployment is None:
                    continue
                walk.link(node, deployment, "served_by", edge.attributes)
                targets = found.served.setdefault(deployment.ref, set())
                if targets is not None:
                    targets.add((str(node.detail["model"]), int(node.detail["version"])))
            continue
        if kind == "feature_view_version" and node is start:
            found.view_values.add(node.ref)
        for edge in walk.edges_from(node):
            if edge.relation == "serves":
                continue
            target = walk.node(edge.to_kind, edge.to_id)
            if target is None:
                continue
            walk.link(node, target, edge.relation, edge.attributes)
            if kind == "dataset_version" and target.kind == "feature_view_version":
                if edge.relation in ONLINE_RELATIONS:
                    found.dataset_values.add(node.ref)
                    continue
                # A view version read for a training set: only that set depends on this
                # dataset version (the view's other sets may have read other versions).
                training = edge.attributes.get("training_set")
                chosen = walk.node_by_ref("training_set", str(training)) if training else None
                if chosen is not None:
                    walk.link(target, chosen, "input_of", {"view": target.ref})
                    queue.append(chosen)
                continue
            queue.append(target)
    return found


def require(node: Node | None, ref: LineageRef) -> Node:
    """``node``, or the one :class:`NotFound` for a reference that names nothing the caller
    may read (the same words either way: no existence oracle)."""
    if node is None:
        raise NotFound(
            f"no {ref.kind} {ref.text.partition(':')[2]} that you may read",
            hint="check the name and version (gp data list, gp models list, gp features list)",
        )
    return node
