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
        # One query: the token, its principal and the principal's grants.
        access = AccessControl.of(self.store, authenticate(self.store, token.strip()))
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
    return context.workspace(authorization, x_gp_project)
