"""Run routes: thin shells over :class:`~goldenpath.training.runs.RunService` (``run.read``
and ``run.write``, checked there).

Searches and look-ups are indexed metadata reads, so they are ``async def`` (as in
``routes_data``); starting, logging to and ending a run take the SQLite write lock, so they run
in the thread pool. A log body is capped twice: its bytes by the body guard
(``limits.body_max_bytes``), its entries by ``limits.run_log_entries_max``. Artifacts are not
uploaded over HTTP: a notebook logs them with a local workspace.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from goldenpath.core.errors import InvalidInput
from goldenpath.server import schemas
from goldenpath.server.auth import workspace
from goldenpath.server.json_body import StrictRoute
from goldenpath.server.problems import ERROR_RESPONSES
from goldenpath.server.schemas import answer
from goldenpath.workspace import Workspace

router = APIRouter(tags=["runs"], responses=ERROR_RESPONSES, route_class=StrictRoute)
WS = Annotated[Workspace, Depends(workspace)]
RunId = Annotated[str, Field(min_length=6, max_length=26)]
Key = Annotated[str, Field(min_length=1, max_length=250)]
Number = float | int | None  # JSON has no NaN: null is a NaN metric


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MetricValue(_Body):
    key: Key
    value: Number
    step: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None


class StartRun(_Body):
    """A new run in the request's project (``X-GP-Project``)."""

    name: Annotated[str, Field(min_length=1, max_length=128)] | None = None
    experiment: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    params: dict[Key, Any] | None = None
    tags: dict[Key, Annotated[str, Field(max_length=5000)]] | None = None
    seed: int | None = None
    source: Annotated[str, Field(max_length=16)] = "notebook"
    rerun_of: Annotated[str, Field(min_length=6, max_length=26)] | None = None
    environment: dict[str, Any] | None = None


class LogToRun(_Body):
    """Params, metrics (``{key, value, step}`` each; value null for NaN) and tags, written in
    one transaction."""

    params: dict[Key, Any] | None = None
    metrics: list[MetricValue] | None = None
    tags: dict[Key, Annotated[str, Field(max_length=5000)]] | None = None


class EndRun(_Body):
    status: Annotated[str, Field(pattern="^(finished|failed)$")] = "finished"
    cpu_s: Annotated[float, Field(ge=0)] | None = None
    error: dict[str, Annotated[str, Field(max_length=200_000)]] | None = None


@router.get("/runs", response_model=None, responses=answer(list[schemas.Run]))
async def list_runs(
    ws: WS,
    # Bounded here so that a request line stays far below the HTTP parser's own limit (~80 KB,
    # past which it answers a plain-text 400); limits.run_filter_chars_max (4,000) is the
    # service's limit.
    filter: Annotated[str | None, Query(max_length=8_000)] = None,
    order_by: Annotated[
        list[Annotated[str, Field(max_length=300)]] | None, Query(max_length=10)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1_000_000)] = 100,
    experiment: Annotated[str | None, Query(max_length=63)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
) -> list[dict[str, Any]]:
    """The project's runs matching ``filter`` (``metrics.roc_auc > 0.8 and params.model =
    'lgbm'``), ordered by ``order_by`` (repeatable: ``metrics.roc_auc desc``), newest first."""
    found = ws.runs.list(filter, order_by, limit, experiment=experiment, status=status)
    return [r.as_dict() for r in found]


@router.get("/runs/{run}", response_model=None, responses=answer(schemas.Run))
async def get_run(ws: WS, run: str) -> dict[str, Any]:
    """A run by id or a unique prefix of at least 6 characters."""
    return ws.runs.get(run).as_dict()


@router.get("/runs/{a}/compare/{b}", response_model=None, responses=answer(schemas.RunComparison))
async def compare_runs(ws: WS, a: str, b: str) -> dict[str, Any]:
    """Two runs' params and metrics side by side, differences marked."""
    return ws.runs.compare(a, b).as_dict()


@router.post("/runs", response_model=None, responses=answer(schemas.Run, 201), status_code=201)
def start_run(ws: WS, body: StartRun) -> dict[str, Any]:
    """Start a run (status running); log to it with ``/runs/{id}/log``, end it with
    ``/runs/{id}/end``."""
    _bounded(ws, len(body.params or {}) + len(body.tags or {}))
    info = ws.runs.create(
        body.name,
        experiment=body.experiment,
        params=body.params,
        tags=body.tags,
        seed=body.seed,
        source=body.source,
        rerun_of=body.rerun_of,
        environment=body.environment,
    )
    return info.as_dict()


@router.post("/runs/{run}/log", response_model=None, responses=answer(schemas.RunLogged))
def log_to_run(ws: WS, run: str, body: LogToRun) -> dict[str, Any]:
    """Write params, metrics and tags to a running run (a param is logged once)."""
    metrics = [m.model_dump() for m in body.metrics or []]
    for metric in metrics:
        if metric["value"] is None:
            metric["value"] = float("nan")
    _bounded(ws, len(body.params or {}) + len(metrics) + len(body.tags or {}))
    run_id = ws.runs.log(run, params=body.params, metrics=metrics, tags=body.tags)
    params, tags = len(body.params or {}), len(body.tags or {})
    return {"id": run_id, "params": params, "metrics": len(metrics), "tags": tags}


@router.post("/runs/{run}/end", response_model=None, responses=answer(schemas.Run))
def end_run(ws: WS, run: str, body: EndRun) -> dict[str, Any]:
    """End a running run: finished, or failed with ``error`` ``{step, message, traceback}``."""
    return ws.runs.end(run, body.status, cpu_s=body.cpu_s, error=body.error).as_dict()


def _bounded(ws: Workspace, entries: int) -> None:
    limit = ws.stack.limits.run_log_entries_max
    if entries > limit:
        raise InvalidInput(
            f"{entries:,} params, metrics and tags in one call, at most {limit:,} "
            "(limits.run_log_entries_max)",
            hint="send them in several calls",
        )
