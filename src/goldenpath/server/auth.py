"""Authenticating a request: its bearer token becomes a Workspace acting as that principal.

A plain dependency (not ``app.dependency_overrides``, which FastAPI re-inspects on every
request: 24% of the server's CPU in a py-spy profile, see benchmarks/RESULTS.md). It is
``async`` to save a thread-pool hop per request: its work is one indexed query (token,
principal and grants together, ~0.15 ms), cheaper than the hop. Routes that only look metadata
up are ``async`` too; the rest run in the thread pool (see ``routes_data``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Header, Request

from goldenpath.core.config import Stack
from goldenpath.core.errors import Unauthenticated
from goldenpath.governance.access import AccessControl
from goldenpath.governance.principals import authenticate
from goldenpath.store.engine import MetadataStore
from goldenpath.workspace import Workspace

# Where the body guard leaves the request's AccessControl (the ASGI scope's "state").
AUTHENTICATED = "gp_access"


class Context:
    """What every request shares: the resolved stack and one pooled metadata engine."""

    def __init__(self, stack: Stack, store: MetadataStore) -> None:
        self.stack = stack
        self.store = store

    def access(self, authorization: str | None) -> AccessControl:
        """Who the ``Authorization`` header says is calling; raise :class:`Unauthenticated`."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated(
                "a bearer token is required",
                hint="send 'Authorization: Bearer gp_...'; create one with: gp tokens create",
            )
        # One query: the token, its principal and the principal's grants.
        return AccessControl.of(self.store, authenticate(self.store, token.strip()))

    def workspace(
        self,
        authorization: str | None,
        project: str | None,
        access: AccessControl | None = None,
    ) -> Workspace:
        """The caller's workspace (``access``: already authenticated by the body guard)."""
        access = access or self.access(authorization)
        return Workspace(self.stack, self.store, access, project or None)


async def workspace(
    request: Request,
    authorization: Annotated[str | None, Header()] = None,
    x_gp_project: Annotated[
        str | None, Header(description="Project new objects go to (default: 'default')")
    ] = None,
) -> Workspace:
    """The request's workspace, acting as its token's principal."""
    context: Context = request.app.state.context
    # A request with a body was authenticated before its body was read (server.guard).
    access = request.scope.get("state", {}).get(AUTHENTICATED)
    return context.workspace(authorization, x_gp_project, access)
