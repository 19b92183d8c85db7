"""OpenLineage run events for training runs, built and sent with ``openlineage-python``
(the ``[openlineage]`` extra).

One job per experiment and project (namespace ``goldenpath`` unless told, name
``PROJECT.train.EXPERIMENT``); per run a ``START`` event at its start and, once it ended, a
``COMPLETE`` or ``FAIL`` event at its end (a ``FAIL`` carries the error message facet). Inputs
are what the run read (dataset versions and training sets: ``lineage_edges`` into the run),
outputs the model versions it produced; each with the ``version`` dataset facet. The run id is
the run's ULID read as a UUID (the same 128 bits), so the events of one run always share it.

Sending: a JSON Lines file (one event per line, appended) or HTTP (``http(s)://...``: POSTed
one by one to ``URL/api/v1/lineage``, as OpenLineage's HTTP transport does).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from goldenpath.core.errors import InvalidInput
from goldenpath.store.tables import lineage_edges, projects, runs

NAMESPACE = "goldenpath"
PRODUCER = "https://github.com/goldenpath/goldenpath"
_CROCKFORD = str.maketrans("0123456789ABCDEFGHJKMNPQRSTVWXYZ", "0123456789ABCDEFGHIJKLMNOPQRSTUV")


def _package() -> Any:
    try:
        from openlineage.client import event_v2
    except ModuleNotFoundError:
        raise InvalidInput(
            "exporting OpenLineage events needs the openlineage-python package",
            hint="install it with: pip install 'goldenpath[openlineage]'",
        ) from None
    return event_v2


def run_uuid(run_id: str) -> str:
    """A run's ULID as a UUID (the same 128 bits)."""
    return str(uuid.UUID(int=int(run_id.translate(_CROCKFORD), 32)))


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def run_events(
    conn: Connection,
    readable: Callable[[str], bool],
    *,
    since: datetime | None = None,
    limit: int = 1000,
    namespace: str = NAMESPACE,
) -> list[dict[str, Any]]:
    """The OpenLineage events of up to ``limit`` runs started at or after ``since``, oldest
    first, of the projects ``readable(project)`` allows, as JSON objects (what the package's
    serialiser makes of its event classes)."""
    from openlineage.client.generated import (
        dataset_version_dataset,
        error_message_run,
        job_type_job,
        processing_engine_run,
    )
    from openlineage.client.serde import Serde

    from goldenpath import __version__

    ol = _package()
    query = (
        select(
            runs.c.id,
            runs.c.experiment,
            runs.c.status,
            runs.c.started_at,
            runs.c.ended_at,
            runs.c.error,
            projects.c.name.label("project"),
        )
        .join(projects, projects.c.id == runs.c.project_id)
        .order_by(runs.c.started_at, runs.c.id)
    )
    if since is not None:
        query = query.where(runs.c.started_at >= since)
    found: list[dict[str, Any]] = []
    shown = 0
    for row in conn.execute(query):
        if shown >= limit:
            break
        if not readable(row.project):
            continue
        shown += 1
        inputs, outputs = _datasets(conn, row.id, namespace, ol, dataset_version_dataset)
        job = ol.Job(
            namespace=namespace,
            name=f"{row.project}.train.{row.experiment}",
            facets={
                "jobType": job_type_job.JobTypeJobFacet(
                    processingType="BATCH",
                    integration="GOLDENPATH",
                    jobType="TRAINING",
                    producer=PRODUCER,
                )
            },
        )
        engine = processing_engine_run.ProcessingEngineRunFacet(
            version=__version__, name="goldenpath", producer=PRODUCER
        )
        events: list[tuple[str, datetime, dict[str, Any]]] = [("START", row.started_at, {})]
        if row.status in ("finished", "failed") and row.ended_at is not None:
            facets: dict[str, Any] = {}
            if row.status == "failed":
                error = row.error or {}
                facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
                    message=str(error.get("message") or "the run failed")[:4000],
                    programmingLanguage="python",
                    producer=PRODUCER,
                )
            events.append(
                ("COMPLETE" if row.status == "finished" else "FAIL", row.ended_at, facets)
            )
        for state, moment, facets in events:
            event = ol.RunEvent(
                eventType=ol.RunState(state),
                eventTime=_iso(moment),
                run=ol.Run(runId=run_uuid(row.id), facets={"processing_engine": engine, **facets}),
                job=job,
                inputs=inputs,
                outputs=outputs if state != "START" else [],
                producer=PRODUCER,
            )
            found.append(Serde.to_dict(event))
    return found


def _datasets(
    conn: Connection, run_id: str, namespace: str, ol: Any, facet: Any
) -> tuple[list[Any], list[Any]]:
    e = lineage_edges
    inputs: list[Any] = []
    outputs: list[Any] = []
    rows = conn.execute(
        select(e.c.from_kind, e.c.to_kind, e.c.from_id, e.c.to_id, e.c.attributes, e.c.relation)
        .where(
            ((e.c.to_kind == "run") & (e.c.to_id == run_id))
            | ((e.c.from_kind == "run") & (e.c.from_id == run_id))
        )
        .order_by(e.c.created_at, e.c.id)
    ).all()
    for row in rows:
        attributes = dict(row.attributes or {})
        if row.to_kind == "run":
            ref = _input_ref(conn, row.from_kind, row.from_id)
            if ref is None:
                continue
            kind, name, version = ref
            inputs.append(
                ol.InputDataset(
                    namespace=namespace,
                    name=f"{kind}.{name}",
                    facets={
                        "version": facet.DatasetVersionDatasetFacet(
                            datasetVersion=version, producer=PRODUCER
                        )
                    },
                )
            )
        elif row.to_kind == "model_version":
            model = str(attributes.get("model") or "")
            name, _, version = model.partition("@")
            if name and version:
                outputs.append(
                    ol.OutputDataset(
                        namespace=namespace,
                        name=f"models.{name}",
                        facets={
                            "version": facet.DatasetVersionDatasetFacet(
                                datasetVersion=version, producer=PRODUCER
                            )
                        },
                    )
                )
    return inputs, outputs


def _input_ref(conn: Connection, kind: str, id: str) -> tuple[str, str, str] | None:
    from goldenpath.lineage.graph import _BY_ID

    loader = _BY_ID.get(kind)
    node = loader(conn, id) if loader else None
    if node is None:
        return None
    name, _, version = node.ref.partition("@")
    prefix = {"dataset_version": "datasets", "training_set": "training_sets"}.get(kind, kind)
    return prefix, name, version


def emit(events: Sequence[dict[str, Any]], target: str, *, timeout: float = 10.0) -> int:
    """Send ``events`` to ``target``: a JSON Lines file (appended) or an ``http(s)://`` URL,
    through the package's transports; returns how many were sent."""
    from openlineage.client.client import OpenLineageClient

    transport = _transport(target, timeout)
    client = OpenLineageClient(transport=transport)
    for event in events:
        client.emit(_event(event))
    client.close()
    return len(events)


def _transport(target: str, timeout: float) -> Any:
    if target.startswith(("http://", "https://")):
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        return HttpTransport(HttpConfig(url=target, timeout=timeout, retry={"total": 2}))
    from openlineage.client.transport.file import FileConfig, FileTransport

    path = Path(target)
    if not path.parent.is_dir():
        raise InvalidInput(
            f"cannot write OpenLineage events to {target}: {path.parent} is not a directory",
            hint="give a file in an existing folder, or an http(s):// URL",
        )
    return FileTransport(FileConfig(log_file_path=str(path), append=True))


def _event(data: dict[str, Any]) -> Any:
    """A JSON event back as the package's event class (its validators run)."""
    return structure_event(data)


def structure_event(data: dict[str, Any]) -> Any:
    """An event as a JSON object -> ``openlineage.client.event_v2.RunEvent``, every part as
    the package's class, so the package's validators check it (run id a UUID, event time
    ISO-8601 with a time, URLs that parse) and its serialiser gives the object back."""
    from openlineage.client.generated import (
        dataset_version_dataset,
        error_message_run,
        job_type_job,
        processing_engine_run,
    )

    ol = _package()
    facet_types: dict[str, Any] = {
        "version": dataset_version_dataset.DatasetVersionDatasetFacet,
        "errorMessage": error_message_run.ErrorMessageRunFacet,
        "jobType": job_type_job.JobTypeJobFacet,
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet,
    }

    def facets(given: dict[str, Any] | None) -> dict[str, Any]:
        built = {}
        for name, value in (given or {}).items():
            fields = {k: v for k, v in value.items() if not k.startswith("_")}
            built[name] = facet_types[name](**fields, producer=value["_producer"])
        return built

    def datasets(kind: Any, given: list[dict[str, Any]] | None) -> list[Any]:
        return [
            kind(namespace=d["namespace"], name=d["name"], facets=facets(d.get("facets")))
            for d in given or []
        ]

    event = ol.RunEvent(
        eventType=ol.RunState(data["eventType"]),
        eventTime=data["eventTime"],
        run=ol.Run(runId=data["run"]["runId"], facets=facets(data["run"].get("facets"))),
        job=ol.Job(
            namespace=data["job"]["namespace"],
            name=data["job"]["name"],
            facets=facets(data["job"].get("facets")),
        ),
        inputs=datasets(ol.InputDataset, data.get("inputs")),
        outputs=datasets(ol.OutputDataset, data.get("outputs")),
        producer=data["producer"],
    )
    if event.schemaURL != data["schemaURL"]:
        raise ValueError(f"schemaURL {data['schemaURL']} is not {event.schemaURL}")
    return event
