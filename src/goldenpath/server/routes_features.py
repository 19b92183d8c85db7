"""Feature catalog and training-set routes: thin shells over
:class:`~goldenpath.features.service.FeatureStore` (``feature.read``, checked there).

As in ``routes_data``: metadata look-ups are ``async def``; ``show`` reads the source
dataset's newest event time (its freshness) from Delta, so it runs in the thread pool, as do
online lookup, push and materialisation (``feature.read_online``, ``feature.push``,
``feature.materialize``, checked by the service). The body guard authenticates before a body
is read and caps its size (``limits.body_max_bytes``); the service caps the entity rows
(``limits.online_entities_max``) and pushed rows (``limits.push_rows_max``). On-demand
features run project code, which never runs in the server: asking for one is a 400.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from goldenpath.server.auth import workspace
from goldenpath.server.json_body import StrictRoute
from goldenpath.server.problems import ERROR_RESPONSES
from goldenpath.workspace import Workspace

router = APIRouter(tags=["features"], responses=ERROR_RESPONSES, route_class=StrictRoute)
WS = Annotated[Workspace, Depends(workspace)]
Name = Annotated[str, Query(min_length=1, max_length=63)]
Scalar = str | int | float | bool | None
Ref = Annotated[str, Field(min_length=3, max_length=127)]


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


# -- online ------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OnlineRequest(_Body):
    """Entity rows (join keys, typed as in the source: integers or text) and the features:
    ``view:feature`` references or a feature service's name."""

    entities: list[dict[str, Scalar]] = Field(min_length=1)
    features: list[Ref] | None = Field(default=None, min_length=1, max_length=1000)
    service: Annotated[str, Field(min_length=1, max_length=63)] | None = None
    at: datetime | None = Field(default=None, description="Timezone-aware; default now")
    keys_as_text: bool = Field(
        default=False,
        description="The entities' values are text, each read as its definition's type "
        "(a join key as its source column: '007' stays text for a text key)",
    )


class OnlineAnswer(BaseModel):
    """``rows[i]``: entity row i with each feature's value; ``statuses[feature][i]`` is
    present, missing or expired; ``ages[feature][i]`` seconds since the value's event time."""

    at: str
    rows: list[dict[str, Any]]
    statuses: dict[str, list[str]]
    ages: dict[str, list[float | None]]


class PushRequest(_Body):
    """Rows of the view's source dataset (times as ISO-8601 text with a zone)."""

    rows: list[dict[str, Scalar]] = Field(min_length=1)


class ViewMaterialization(BaseModel):
    view: str
    mode: str
    rows_read: int
    entities_written: int
    dataset_versions: dict[str, list[int]]
    event_start: str | None
    event_end: str | None
    seconds: float


class PushAnswer(BaseModel):
    view: str
    rows: int
    dataset_version: str
    online: ViewMaterialization
    pending_rules: list[str] = Field(
        default=[], description="Table rules the next materialisation checks over pushed rows"
    )
    not_applied_rules: list[str] = Field(
        default=[], description="Table rules never applied to pushes (they count a batch)"
    )


class MaterializeRequest(_Body):
    views: list[Annotated[str, Field(min_length=1, max_length=63)]] | None = Field(
        default=None, max_length=1000, description="Default: every applied batch view"
    )
    full: bool = False
    start: datetime | None = None
    end: datetime | None = None


class MaterializeAnswer(BaseModel):
    views: list[ViewMaterialization]
    contract_checks: list[dict[str, Any]] = Field(
        default=[], description="Table rules pushes left pending, checked by this run"
    )


@router.post("/features/online", response_model=OnlineAnswer)
def online_features(ws: WS, body: OnlineRequest) -> dict[str, Any]:
    """Online values of stored (row-level and windowed) features, with status and age."""
    result = ws.features.online(
        body.entities,
        body.features,
        service=body.service,
        at=body.at,
        keys_as_text=body.keys_as_text,
    )
    return result.as_dict()


@router.post("/features/views/{view}/push", response_model=PushAnswer)
def push_features(ws: WS, view: str, body: PushRequest) -> dict[str, Any]:
    """Append rows to the view's dataset (contract-checked, all or nothing), then online."""
    return ws.features.push(view, body.rows).as_dict()


@router.post("/features/materialize", response_model=MaterializeAnswer)
def materialize_features(ws: WS, body: MaterializeRequest) -> dict[str, Any]:
    """Bring the online values of applied views up to date (runs here: no project code)."""
    result = ws.features.materialize(body.views, full=body.full, start=body.start, end=body.end)
    return result.as_dict()
