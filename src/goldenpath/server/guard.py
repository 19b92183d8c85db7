"""The body guard: authenticate before a request body is read, and cap it while it streams.

FastAPI parses a body (a multipart upload spooled to disk, a JSON document into memory) before
it resolves a route's dependencies, so the bearer-token check in :mod:`goldenpath.server.auth`
ran after the body had been received: three unauthenticated 200 MB bodies took a server from
0.3 to 1.4 GiB. This ASGI middleware runs first. A request that carries a body is
authenticated from its headers alone (a 401 is sent without reading one byte of the body),
then its size is checked against the limits: ``Content-Length`` up front, and the bytes
actually received, counted as they stream (a chunked body declares no length). Over the limit
is a 413 problem.

Limits (``goldenpath.core.limits``): a multipart upload may be ``upload_max_bytes`` plus
``body_max_bytes`` for its other parts (the contract, the form fields); any other body
``body_max_bytes``.
"""

from __future__ import annotations

import contextlib

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from goldenpath.core.errors import GoldenpathError, Unauthenticated
from goldenpath.server.auth import AUTHENTICATED, Context
from goldenpath.server.problems import problem


class _TooLarge(Exception):
    """Raised from ``receive`` once the body passes its limit."""


class BodyGuard:
    """ASGI middleware: authentication before any body byte is read; the body size capped."""

    def __init__(self, app: ASGIApp, context: Context) -> None:
        self.app = app
        self.context = context

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        chunked = "transfer-encoding" in headers
        if not chunked and (length is None or length.strip() == "0"):
            await self.app(scope, receive, send)  # no body: the route authenticates
            return
        try:
            access = self.context.access(headers.get("authorization"))
        except GoldenpathError as exc:
            await _reject(scope, receive, send, exc)
            return
        scope.setdefault("state", {})[AUTHENTICATED] = access

        limits = self.context.stack.limits
        multipart = headers.get("content-type", "").startswith("multipart/form-data")
        limit = limits.body_max_bytes + (limits.upload_max_bytes if multipart else 0)
        if length is not None and not chunked:
            if not (length.strip().isascii() and length.strip().isdigit()):  # not "²"
                await _send(scope, receive, send, 400, "BadRequest", "invalid Content-Length")
                return
            if int(length) > limit:
                await _too_large(scope, receive, send, limit, multipart)
                return

        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to a broken body; ours is sent below
            started = True
            await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if exceeded and not started:
            await _too_large(scope, receive, send, limit, multipart)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int, upload: bool) -> None:
    name = "upload_max_bytes" if upload else "body_max_bytes"
    await _send(
        scope,
        receive,
        send,
        413,
        "ContentTooLarge",
        f"the request body is larger than {limit:,} bytes",
        hint=f"send less, or ask the operator to raise limits.{name} (GP_LIMIT_{name.upper()})",
    )


async def _reject(scope: Scope, receive: Receive, send: Send, exc: GoldenpathError) -> None:
    # Connection: close, so the server need not drain a body it refused to read.
    headers = {"Connection": "close"}
    if isinstance(exc, Unauthenticated):
        headers["WWW-Authenticate"] = "Bearer"
    response = problem(
        exc.http_status, type(exc).__name__, exc.message, hint=exc.hint, headers=headers
    )
    await response(scope, receive, send)


async def _send(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    title: str,
    detail: str,
    *,
    hint: str | None = None,
) -> None:
    response = problem(status, title, detail, hint=hint, headers={"Connection": "close"})
    await response(scope, receive, send)
