"""Errors as ``application/problem+json`` (RFC 9457), from one table of our error classes."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from goldenpath.core.errors import GoldenpathError, PolicyDenied, Unauthenticated
from goldenpath.core.json_strict import JSONRefused
from goldenpath.core.redact import redact

log = logging.getLogger("goldenpath.server")
PROBLEM = "application/problem+json"


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "hint": {"type": "string"},
        "policy": {"type": "string"},
        "field": {"type": "string"},
        "request_id": {"type": "string"},
    },
}
_MEANINGS = {
    400: "Malformed request (the body does not parse, or is not strict JSON)",
    401: "No valid bearer token",
    403: "Not allowed (role or policy)",
    404: "No such object",
    409: "Conflicts with existing state",
    413: "The body is larger than the server's limit",
    422: "Invalid input, or data broke its contract",
    503: "A backend is unavailable",
}
# Every route may answer with these; declared so clients (and schemathesis) know them.
ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    status: {"description": meaning, "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}}
    for status, meaning in _MEANINGS.items()
}


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: str | None,
) -> JSONResponse:
    body: dict[str, object] = {
        "type": f"https://goldenpath.dev/problems/{_slug(title)}",
        "title": title,
        "status": status,
        "detail": redact(detail),
    }
    if hint:
        body["hint"] = hint
    body.update({key: value for key, value in extra.items() if value is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a problem document."""

    @app.exception_handler(GoldenpathError)
    async def _ours(_: Request, exc: GoldenpathError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        extra = (
            {"policy": exc.policy, "request_id": exc.request_id}
            if isinstance(exc, PolicyDenied)
            else {}
        )
        if isinstance(exc, JSONRefused):
            extra = {"field": exc.field}
        return problem(
            exc.http_status,
            type(exc).__name__,
            exc.message,
            hint=exc.hint,
            headers=headers,
            **extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return problem(422, "InvalidInput", f"{where}: {first.get('msg')}")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        title = HTTPStatus(exc.status_code).phrase.replace(" ", "").replace("-", "")
        return problem(exc.status_code, title, str(exc.detail))

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem(500, "InternalError", "an unexpected error occurred; see the server log")
