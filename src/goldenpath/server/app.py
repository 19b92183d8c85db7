"""The control-plane application: bearer-token authentication in front of the services.

Every request authenticates its token and gets its own :class:`Workspace` acting as the
token's principal, so the server enforces exactly what the SDK and CLI enforce (the checks
live in the services, not here).
"""

from __future__ import annotations

import gc
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline

from goldenpath import __version__
from goldenpath.core.config import Stack, resolve_stack
from goldenpath.server import problems
from goldenpath.server.auth import Context
from goldenpath.server.guard import BodyGuard
from goldenpath.server.schemas import Health, answer
from goldenpath.server.uploads import UploadWorkers
from goldenpath.store.engine import MetadataStore, open_store

# Where the documentation pages' scripts, styles and icon are served from.
DOCS_ASSETS = "/docs-assets"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Load now what requests would otherwise load on first use: the data engines (pyarrow,
    # DuckDB, deltalake, pandas) made a new server's first request take ~370 ms, which under
    # `--workers` landed on whichever worker was still cold.
    import goldenpath.data.service  # noqa: F401

    # Then move everything loaded (~100,000 objects) out of the garbage collector's sight: a
    # full collection over them took ~60 ms and was the slowest request of every benchmark run.
    gc.collect()
    gc.freeze()
    uploads: UploadWorkers = app.state.uploads
    uploads.warm()
    try:
        yield
    finally:
        uploads.close()


def create_app(stack: Stack, store: MetadataStore | None = None) -> FastAPI:
    """The FastAPI application serving the workspace described by ``stack``."""
    from goldenpath.server import (
        routes_data,
        routes_features,
        routes_governance,
        routes_lineage,
        routes_models,
        routes_runs,
    )

    context = Context(stack, store or open_store(stack.metadata))
    # /docs loads Swagger UI from DOCS_ASSETS on this server (files that fastapi-offline
    # packages), never from a CDN: it works on a machine without internet. No /redoc: ReDoc's
    # bundle always fetches its logo from its own CDN. No validator badge (it calls out too).
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        redoc_url=None,
        swagger_ui_parameters={"validatorUrl": None},
        title="goldenpath control plane",
        version=__version__,
        # Markdown (Swagger UI renders it): code spans keep "<token>" from reading as a tag.
        description="The platform's operations over HTTP. Authenticate with "
        "`Authorization: Bearer <token>` (create one with `gp tokens create`). Errors are "
        "`application/problem+json`.",
        lifespan=_lifespan,
    )
    problems.install(app)
    # Authenticate, and cap the body, before any route (or FastAPI's body parser) reads it.
    app.add_middleware(BodyGuard, context=context)

    @app.get("/healthz", tags=["meta"], response_model=None, responses=answer(Health))
    def health() -> dict[str, str]:
        """Liveness: answers without authentication."""
        return {"status": "ok", "version": __version__}

    app.include_router(routes_data.router, prefix="/api/v1")
    app.include_router(routes_governance.router, prefix="/api/v1")
    app.include_router(routes_features.router, prefix="/api/v1")
    app.include_router(routes_models.router, prefix="/api/v1")
    app.include_router(routes_runs.router, prefix="/api/v1")
    app.include_router(routes_lineage.router, prefix="/api/v1")
    app.state.context = context
    # Uploads are parsed and written in worker processes: a crash there fails one request.
    app.state.uploads = UploadWorkers(stack)
    return app


def app_from_environment() -> FastAPI:
    """The application for the workspace in ``GP_HOME`` (``gp server --workers N`` runs one
    per worker process)."""
    return create_app(resolve_stack(Path(os.environ["GP_HOME"])))
