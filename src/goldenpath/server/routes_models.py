"""Model registry routes: thin shells over :class:`~goldenpath.registry.service.ModelRegistry`
(``model.read``, ``model.alias``, ``model.promote``, ``model.promote_force``: checked there).

Look-ups are metadata only (``async def``); promotion scores the candidate and the champion
in onnxruntime for the no-regression gate and evaluates policies, so it runs in the thread
pool. Nothing is uploaded here: no route receives a model, so nothing received is unpickled.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from goldenpath.server import schemas
from goldenpath.server.auth import workspace
from goldenpath.server.json_body import StrictRoute
from goldenpath.server.problems import ERROR_RESPONSES
from goldenpath.server.schemas import answer
from goldenpath.workspace import Workspace

router = APIRouter(tags=["models"], responses=ERROR_RESPONSES, route_class=StrictRoute)
WS = Annotated[Workspace, Depends(workspace)]
Name = Annotated[str, Field(min_length=1, max_length=63)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AliasRequest(_Body):
    """Point ``alias`` at ``version`` (champion: use promote), or remove it (``delete``)."""

    alias: Name
    version: int | None = Field(default=None, ge=1, le=2**31 - 1)
    delete: bool = False
    reason: str | None = Field(default=None, max_length=1000)


class PromoteRequest(_Body):
    alias: Name = "champion"
    force: bool = False
    reason: str | None = Field(default=None, max_length=1000)


@router.get("/models", response_model=None, responses=answer(list[schemas.ModelSummary]))
async def list_models(ws: WS) -> list[dict[str, Any]]:
    """Every model in the projects you may read."""
    return [m.as_dict() for m in ws.models.list()]


@router.get("/models/{ref}", response_model=None, responses=answer(schemas.ModelVersion))
async def show_model(ws: WS, ref: str) -> dict[str, Any]:
    """A model version: ``fraud`` (newest), ``fraud@3`` or ``fraud@champion``."""
    return ws.models.get(ref).as_dict()


@router.post("/models/{name}/aliases", response_model=None, responses=answer(schemas.AliasMove))
def move_alias(ws: WS, name: str, body: AliasRequest) -> dict[str, Any]:
    """Move an alias other than champion, or remove one (champion: with a ``reason``, and
    ``model.promote_force``)."""
    if body.delete:
        return ws.models.delete_alias(name, body.alias, reason=body.reason).as_dict()
    if body.version is None:
        from goldenpath.core.errors import InvalidInput

        raise InvalidInput("name the version the alias points at", hint='{"version": 3}')
    return ws.models.alias(f"{name}@{body.version}", body.alias).as_dict()


@router.post("/models/{ref}/promote", response_model=None, responses=answer(schemas.Promotion))
def promote_model(ws: WS, ref: str, body: PromoteRequest) -> dict[str, Any]:
    """Apply the version's gates and the policies, then move the alias (409 lists each failed
    gate; ``force`` with a ``reason`` needs ``model.promote_force``)."""
    done = ws.models.promote(ref, body.alias, force=body.force, reason=body.reason)
    return done.as_dict()
