"""Feature catalog and training-set routes: thin shells over
:class:`~goldenpath.features.service.FeatureStore` (``feature.read``, checked there).

As in ``routes_data``: metadata look-ups are ``async def``; ``show`` reads the source
dataset's newest event time (its freshness) from Delta, so it runs in the thread pool.
Online lookup and push are served elsewhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from goldenpath.server.auth import workspace
from goldenpath.server.problems import ERROR_RESPONSES
from goldenpath.workspace import Workspace

router = APIRouter(tags=["features"], responses=ERROR_RESPONSES)
WS = Annotated[Workspace, Depends(workspace)]
Name = Annotated[str, Query(min_length=1, max_length=63)]


class DefinitionVersion(BaseModel):
    version: int
    hash: str
    created_at: str
    created_by: str


class FeatureUser(BaseModel):
    """Something that reads a definition version (a training set; a model later)."""

    kind: str
    id: str
    version: int
    features: list[str]


class Freshness(BaseModel):
    dataset_version: str
    newest_event_time: str | None
    read_at: str


class CatalogEntry(BaseModel):
    """An entity, feature view or feature service; ``versions``, ``users`` and
    ``freshness`` only in ``show``."""

    kind: str
    name: str
    project: str
    version: int
    description: str
    owner: str
    tags: dict[str, str]
    content: dict[str, Any]
    removed: bool
    versions: list[DefinitionVersion] | None = None
    users: list[FeatureUser] | None = None
    freshness: Freshness | None = None


class TrainingSet(BaseModel):
    """A stored training set version: what it holds and how it was built (``spec``)."""

    name: str
    version: int
    ref: str
    id: str
    project: str
    row_count: int
    fingerprint: str
    entity_fingerprint: str
    # ``schema`` would shadow a BaseModel attribute: named ``schema_``, sent as ``schema``.
    schema_: list[dict[str, Any]] = Field(alias="schema")
    spec: dict[str, Any]
    created_at: datetime
    created_by: str


@router.get("/features", response_model=list[CatalogEntry])
async def list_features(ws: WS) -> list[dict[str, Any]]:
    """Every applied entity, feature view and service in the projects you may read."""
    return [e.as_dict() for e in ws.features.list()]


@router.get("/features/{name}", response_model=CatalogEntry)
def show_feature(ws: WS, name: str) -> dict[str, Any]:
    """A view, service or entity by name: metadata, content, versions, users, freshness."""
    return ws.features.show(name).as_dict()


@router.get("/training-sets", response_model=list[TrainingSet])
async def list_training_sets(ws: WS, name: Name | None = None) -> list[dict[str, Any]]:
    """Stored training sets (every version; of ``name`` only if given), oldest first."""
    return [i.as_dict() for i in ws.features.training_sets(name)]


@router.get("/training-sets/{name}", response_model=TrainingSet)
async def show_training_set(
    ws: WS,
    name: str,
    version: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Default: newest")] = None,
) -> dict[str, Any]:
    """One stored training set version (the newest unless ``version`` is given)."""
    ref = name if version is None else f"{name}@{version}"
    return ws.features.get_training_set(ref).as_dict()
