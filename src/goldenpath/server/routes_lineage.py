"""Lineage routes: thin shells over :class:`~goldenpath.lineage.service.LineageService`
(each node is shown with its kind's read permission on its project; checked there).

Queries are metadata reads plus, for a prediction, one partition of its deployment's log, so
they run in the thread pool (``def``): a downstream count reads whole logs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from goldenpath.lineage.refs import REF_CHARS_MAX
from goldenpath.server import schemas
from goldenpath.server.auth import workspace
from goldenpath.server.json_body import StrictRoute
from goldenpath.server.problems import ERROR_RESPONSES
from goldenpath.server.schemas import answer
from goldenpath.workspace import Workspace

router = APIRouter(tags=["lineage"], responses=ERROR_RESPONSES, route_class=StrictRoute)
WS = Annotated[Workspace, Depends(workspace)]
Ref = Annotated[str, Query(min_length=1, max_length=REF_CHARS_MAX)]


@router.get("/lineage/upstream", response_model=None, responses=answer(schemas.Lineage))
def upstream(ws: WS, ref: Ref) -> dict[str, Any]:
    """What went into ``ref`` (``prediction:REQUEST_ID``, ``transactions@3``,
    ``model:fraud@1``, ...), down to each served feature value's dataset version."""
    return ws.lineage.upstream(ref).as_dict()


@router.get("/lineage/downstream", response_model=None, responses=answer(schemas.Lineage))
def downstream(ws: WS, ref: Ref) -> dict[str, Any]:
    """What depends on ``ref``: training sets, models, deployments, counted predictions."""
    return ws.lineage.downstream(ref).as_dict()


@router.get(
    "/lineage/openlineage-events",
    response_model=None,
    responses=answer(list[schemas.OpenLineageEvent]),
)
def openlineage_events(
    ws: WS,
    since: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    namespace: Annotated[str, Query(min_length=1, max_length=63)] = "goldenpath",
) -> list[dict[str, Any]]:
    """OpenLineage run events of the training runs you may read (oldest first)."""
    return ws.lineage.openlineage_events(since=since, limit=limit, namespace=namespace)
