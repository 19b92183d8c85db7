"""JSON request bodies decoded by the one strict decoder (``core/json_strict.py``).

FastAPI reads a JSON body with ``json.loads``, which takes lone UTF-16 surrogates, integers of
any length and nesting up to the interpreter's recursion limit; each became a 500 further in
(a database driver, an Arrow column, a recursive encoder). Every router's routes are
:class:`StrictRoute`: before FastAPI sees a JSON body, it is decoded strictly (nesting at most
``limits.nesting_depth_max``, integers within 64 bits, no ``NaN``/``Infinity``) and the result
cached on the request, so FastAPI's own read returns the checked document. A refusal is a
400/422 problem naming the path of the value at fault.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.routing import APIRoute

from goldenpath.core import json_strict


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return True  # FastAPI reads a body without a type as JSON
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (
        kind.startswith("application/") and kind.endswith("+json")
    )


class StrictRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            limits = self.app.state.context.stack.limits
            body = await self.body()
            self._json = json_strict.loads(body, depth_max=limits.nesting_depth_max)
        return self._json


class StrictRoute(APIRoute):
    """A route whose JSON body is decoded strictly before FastAPI reads it."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            request = StrictRequest(request.scope, request.receive)
            reads_json = request.method in ("POST", "PUT", "PATCH") and _is_json(
                request.headers.get("content-type")
            )
            if reads_json and await request.body():
                await request.json()  # raises JSONRefused (a problem) here, not in FastAPI
            return await handler(request)

        return strict
