"""``ws.lineage``: what went into an object (``upstream``) and what depends on it
(``downstream``), as far as the caller may read; OpenLineage run events.

A prediction's upstream starts from its logged record: the deployment that answered, the model
version that scored it, and for each served feature value the view version, the dataset
versions and the event time it came from (recorded by the server with the value: see
``serving/features.py``). The rest is the graph of ``lineage_edges`` (``graph.py``).

Permissions: each node is shown only with the permission that reads its kind on its project
(``graph.PERMISSIONS``); the others are counted by kind in ``hidden`` and not walked through.
A reference naming nothing the caller may read is one ``NotFound``, worded the same whether
it exists or not. Prediction counts need ``prediction.read`` on the deployment's project.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from goldenpath.core.errors import InvalidInput, NotFound
from goldenpath.core.limits import Limits
from goldenpath.governance.access import AccessControl
from goldenpath.lineage import graph
from goldenpath.lineage.refs import LineageRef, parse_ref
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import deployments, projects


@dataclass(frozen=True)
class Lineage:
    """One lineage answer: the object asked about (``root``), the nodes and edges found,
    what was hidden, and for a prediction its record and the origin of each feature value;
    for a downstream walk the predictions counted."""

    ref: str
    direction: str  # upstream | downstream
    root: dict[str, Any]
    nodes: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    hidden: list[dict[str, Any]] = field(default_factory=list)
    truncated: bool = False
    features: list[dict[str, Any]] | None = None
    predictions: dict[str, Any] | None = None

    def of_kind(self, kind: str) -> builtins.list[dict[str, Any]]:
        """The nodes of ``kind`` (``dataset_version``, ``model_version``, ...)."""
        return [n for n in self.nodes if n["kind"] == kind]

    def refs(self, kind: str) -> builtins.list[str]:
        return [str(n["ref"]) for n in self.of_kind(kind)]

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "ref": self.ref,
            "direction": self.direction,
            "root": self.root,
            "nodes": self.nodes,
            "edges": self.edges,
            "hidden": self.hidden,
            "truncated": self.truncated,
        }
        if self.features is not None:
            found["features"] = self.features
        if self.predictions is not None:
            found["predictions"] = self.predictions
        return found

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lineage:
        return cls(
            ref=data["ref"],
            direction=data["direction"],
            root=dict(data["root"]),
            nodes=list(data["nodes"]),
            edges=list(data["edges"]),
            hidden=list(data.get("hidden") or []),
            truncated=bool(data.get("truncated")),
            features=data.get("features"),
            predictions=data.get("predictions"),
        )


class LineageService:
    """Lineage queries for one acting principal (see the module docstring)."""

    def __init__(
        self,
        store: MetadataStore,
        access: AccessControl,
        storage_root: Path,
        home: Path,
        limits: Limits | None = None,
    ) -> None:
        self._limits = limits or Limits()
        self._store = store
        self._access = access
        self._storage = storage_root
        self._home = home

    def _readable(self, kind: str, project: str) -> bool:
        return self._access.allowed(graph.PERMISSIONS[kind], project)

    # -- queries ------------------------------------------------------------------------------

    def upstream(self, ref: str) -> Lineage:
        """What went into ``ref`` (see :mod:`goldenpath.lineage.refs` for the forms): for
        ``prediction:REQUEST_ID`` the deployment, model version, run, training set, feature
        view versions and dataset versions, and where each served feature value came from."""
        parsed = parse_ref(ref)
        if parsed.kind == "prediction":
            return self._prediction_upstream(parsed)
        with self._store.connect() as conn:
            walk = graph.Walk(conn, self._readable, self._limits.lineage_edges_max)
            root = graph.require(walk.admit(graph.find(conn, parsed)), parsed)
            graph.upstream(walk, root)
            return self._answer(parsed, "upstream", root.as_dict(), walk)

    def downstream(self, ref: str) -> Lineage:
        """What depends on ``ref``: feature view versions, training sets, runs, model
        versions, deployments, and how many logged predictions (by the models found, and by
        online values that came from it)."""
        parsed = parse_ref(ref)
        if parsed.kind == "prediction":
            raise InvalidInput(
                "nothing is made from a prediction: it has no downstream",
                hint=f"trace what went into it: gp lineage {parsed.text}",
            )
        with self._store.connect() as conn:
            walk = graph.Walk(conn, self._readable, self._limits.lineage_edges_max)
            root = graph.require(walk.admit(graph.find(conn, parsed)), parsed)
            dependants = graph.downstream(walk, root)
            where = {
                r.name: r.project
                for r in conn.execute(
                    select(deployments.c.name, projects.c.name.label("project")).join(
                        projects, projects.c.id == deployments.c.project_id
                    )
                )
            }
        counted = self._count(dependants, where)
        return self._answer(parsed, "downstream", root.as_dict(), walk, predictions=counted)

    @staticmethod
    def _answer(
        ref: LineageRef,
        direction: str,
        root: dict[str, Any],
        walk: graph.Walk,
        *,
        features: list[dict[str, Any]] | None = None,
        predictions: dict[str, Any] | None = None,
        extra_hidden: Mapping[str, set[str]] | None = None,
    ) -> Lineage:
        hidden = {k: set(v) for k, v in walk.hidden.items()}
        for kind, ids in (extra_hidden or {}).items():
            hidden.setdefault(kind, set()).update(ids)
        shown = walk.as_dict()
        return Lineage(
            ref.text,
            direction,
            {k: v for k, v in root.items() if not k.startswith("_")},
            [{k: v for k, v in n.items() if not k.startswith("_")} for n in shown["nodes"]],
            shown["edges"],
            graph.hidden_summary(hidden),
            shown["truncated"],
            features,
            predictions,
        )

    # -- predictions --------------------------------------------------------------------------

    def _reader(self, deployment: str) -> Any:
        from goldenpath.serving.prediction_log import PredictionLogReader
        from goldenpath.serving.spec import folder_of

        return PredictionLogReader(
            str(self._storage / "predictions" / deployment),
            folder_of(self._home, deployment) / "spool",
        )

    def _deployments(self) -> list[tuple[str, str, str]]:
        with self._store.connect() as conn:
            return [
                (r.id, r.name, r.project)
                for r in conn.execute(
                    select(deployments.c.id, deployments.c.name, projects.c.name.label("project"))
                    .join(projects, projects.c.id == deployments.c.project_id)
                    .order_by(deployments.c.name)
                )
            ]

    def _prediction_upstream(self, ref: LineageRef) -> Lineage:
        assert ref.id is not None
        record: dict[str, Any] | None = None
        project = ""
        for _, name, where in self._deployments():
            if not self._access.allowed("prediction.read", where):
                continue
            record = self._reader(name).get(ref.id)
            if record is not None:
                project = where
                break
        if record is None:
            raise NotFound(
                f"no prediction {ref.id} in the logs you may read",
                hint="request ids are in each answer (request_id, X-Request-Id); the log is "
                "written about a second after the answer",
            )
        moment: datetime = record["time"]
        root = graph.Node(
            "prediction",
            ref.id,
            ref.id,
            project,
            {
                "time": moment.isoformat(),
                "deployment": record["deployment"],
                "model": record["model"],
                "model_version": record["model_version"],
                "role": record["role"],
                "returned": record["returned"],
                "status": record["status"],
                "latency_ms": record["latency_ms"],
            },
        )
        with self._store.connect() as conn:
            walk = graph.Walk(conn, self._readable, self._limits.lineage_edges_max)
            walk.nodes[root.key] = root
            deployment = walk.admit(
                graph.find(conn, LineageRef("deployment", name=str(record["deployment"])))
            )
            if deployment is not None:
                walk.link(deployment, root, "answered", {"role": record["role"]})
            version = walk.admit(
                graph.find(
                    conn,
                    LineageRef(
                        "model", name=str(record["model"]), version=int(record["model_version"])
                    ),
                )
            )
            if version is not None:
                walk.link(version, root, "scored")
                graph.upstream(walk, version)
            features = self._feature_origins(walk, root, moment, record.get("features") or {})
            return self._answer(ref, "upstream", root.as_dict(), walk, features=features)

    @staticmethod
    def _feature_origins(
        walk: graph.Walk, root: graph.Node, moment: datetime, logged: Mapping[str, Any]
    ) -> list[dict[str, Any]]:
        """Each logged feature value with the view version, dataset versions and event time it
        came from. Values logged with their dataset versions (``recorded``) are exact; a value
        logged without (a view over a SQL query) is traced to the view's materialisation in
        force at the prediction's time (``materialization``)."""
        found: list[dict[str, Any]] = []
        for name, entry in logged.items():
            if not isinstance(entry, Mapping):
                continue
            source = entry.get("source")
            view = walk.node_by_ref("feature_view_version", str(source)) if source else None
            refs = [str(r) for r in entry.get("dataset_versions") or []]
            resolved = "recorded"
            if refs:
                datasets = [walk.node_by_ref("dataset_version", r) for r in refs]
            elif view is not None and entry.get("status") != "missing":
                datasets = list(graph.online_sources_at(walk, view, moment))
                resolved = "materialization"
            else:
                datasets, resolved = [], "none"
            shown = [d for d in datasets if d is not None]
            if view is not None:
                walk.link(view, root, "served", {})
                for dataset in shown:
                    walk.link(dataset, view, "online_value", {})
            found.append(
                {
                    "feature": name,
                    "value": entry.get("value"),
                    "status": entry.get("status"),
                    "age_seconds": entry.get("age_seconds"),
                    "view_version": view.ref if view is not None else None,
                    "dataset_versions": [d.ref for d in shown],
                    "event_time": entry.get("event_time"),
                    "resolved": resolved,
                    "hidden": len(datasets) - len(shown) + (1 if source and view is None else 0),
                }
            )
        return found

    def _count(self, dependants: graph.Dependants, where: Mapping[str, str]) -> dict[str, Any]:
        """The logged predictions that depend on what the walk found, per deployment you may
        read predictions of: those scored by a model version found (every one, for a
        deployment asked about), and those that were served a value from a dataset or view
        version found."""
        per: list[dict[str, Any]] = []
        hidden = 0
        totals = {"scored": 0, "served_values": 0}
        patterns = [("dataset", r) for r in sorted(dependants.dataset_values)]
        patterns += [("view", r) for r in sorted(dependants.view_values)]
        for name in sorted(set(dependants.served) | (set(where) if patterns else set())):
            project = where.get(name)
            if project is None:
                continue
            if not self._access.allowed("prediction.read", project):
                hidden += 1
                continue
            models = dependants.served.get(name, set())
            counted = self._reader(name).count(models=models, values_from=patterns)
            if (
                not counted["scored"]
                and not counted["served_values"]
                and name not in (dependants.served)
            ):
                continue
            per.append({"deployment": name, **counted})
            for key in totals:
                totals[key] += counted[key]
        found: dict[str, Any] = {**totals, "deployments": per}
        if hidden:
            found["hidden_deployments"] = hidden
        return found

    # -- OpenLineage --------------------------------------------------------------------------

    def openlineage_events(
        self, *, since: datetime | None = None, limit: int = 1000, namespace: str = "goldenpath"
    ) -> builtins.list[dict[str, Any]]:
        """OpenLineage run events (START, then COMPLETE or FAIL) of the training runs you may
        read, oldest first, up to ``limit`` runs started at or after ``since``."""
        from goldenpath.core.names import validate_name
        from goldenpath.lineage import openlineage

        most = self._limits.openlineage_runs_max
        if type(limit) is not int or not 1 <= limit <= most:
            raise InvalidInput(
                f"limit must be 1-{most:,} runs (limits.openlineage_runs_max), got {limit!r}"
            )
        if since is not None and since.utcoffset() is None:
            raise InvalidInput(
                f"since {since.isoformat()} has no time zone",
                hint="give a time zone, e.g. 2026-12-01T20:00:00Z",
            )
        validate_name(namespace, kind="OpenLineage namespace")
        with self._store.connect() as conn:
            return openlineage.run_events(
                conn,
                lambda project: self._access.allowed("run.read", project),
                since=since,
                limit=limit,
                namespace=namespace,
            )

    def export_openlineage(
        self,
        target: str,
        *,
        since: datetime | None = None,
        limit: int = 1000,
        namespace: str = "goldenpath",
    ) -> int:
        """Send :meth:`openlineage_events` to ``target`` (a JSON Lines file, appended, or an
        ``http(s)://`` endpoint); the number of events sent."""
        from goldenpath.lineage import openlineage

        events = self.openlineage_events(since=since, limit=limit, namespace=namespace)
        return openlineage.emit(events, target)
