"""The control-plane application: bearer-token authentication in front of the services.

Every request authenticates its token and gets its own :class:`Workspace` acting as the
token's principal, so the server enforces exactly what the SDK and CLI enforce (the checks
live in the services, not here).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import FastAPI, Header

from goldenpath import __version__
from goldenpath.core.config import Stack
from goldenpath.core.errors import Unauthenticated
from goldenpath.core.workspace import DEFAULT_PROJECT, Workspace
from goldenpath.governance.access import AccessControl
from goldenpath.governance.principals import authenticate
from goldenpath.server import problems
from goldenpath.store.engine import MetadataStore, open_store


class Context:
    """What every request shares: the resolved stack and one pooled metadata engine."""

    def __init__(self, stack: Stack, store: MetadataStore) -> None:
        self.stack = stack
        self.store = store

    def workspace(self, authorization: str | None, project: str | None) -> Workspace:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "a bearer token is required",
                hint="send 'Authorization: Bearer gp_...'; create one with: gp tokens create",
            )
        principal, scopes = authenticate(self.store, token.strip())
        access = AccessControl(self.store, principal, scopes)
        return Workspace(self.stack, self.store, access, project or DEFAULT_PROJECT)


def create_app(stack: Stack, store: MetadataStore | None = None) -> FastAPI:
    """The FastAPI application serving the workspace described by ``stack``."""
    from goldenpath.server import routes_data, routes_governance

    context = Context(stack, store or open_store(stack.metadata))
    app = FastAPI(
        title="goldenpath control plane",
        version=__version__,
        description="The platform's operations over HTTP. Authenticate with "
        "'Authorization: Bearer <token>' (gp tokens create). Errors are "
        "application/problem+json.",
    )
    problems.install(app)

    def current(
        authorization: Annotated[str | None, Header()] = None,
        x_gp_project: Annotated[
            str | None, Header(description="Project new objects go to (default: 'default')")
        ] = None,
    ) -> Workspace:
        return context.workspace(authorization, x_gp_project)

    app.dependency_overrides[routes_data.workspace] = current
    app.dependency_overrides[routes_governance.workspace] = current

    @app.get("/healthz", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness: answers without authentication."""
        return {"status": "ok", "version": __version__}

    app.include_router(routes_data.router, prefix="/api/v1")
    app.include_router(routes_governance.router, prefix="/api/v1")
    app.state.context = context
    return app
