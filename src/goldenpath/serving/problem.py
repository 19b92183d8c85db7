"""What the inference server answers when a request cannot be scored: RFC 9457 problem details.

Every refusal is a :class:`Problem` raised where the fault is found; the app turns it into an
``application/problem+json`` answer. ``field`` names the offending part of the request (a
tensor, a feature, a JSON path), so a client can fix it without reading server logs.
"""

from __future__ import annotations

import json
from typing import Any

TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class Problem(Exception):
    """A refused request: HTTP ``status``, a ``detail`` for humans, the ``field`` at fault."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.field = field
        self.headers = headers or {}
        self.extra = extra or {}
        # The model version that refused the request (set by the server, for its metrics;
        # never in the body): "" when none was chosen yet.
        self.model_version = ""

    def body(self, request_id: str | None = None) -> bytes:
        doc: dict[str, Any] = {
            "type": "about:blank",
            "title": TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }
        if self.field is not None:
            doc["field"] = self.field
        if request_id is not None:
            doc["request_id"] = request_id
        doc.update(self.extra)
        return json.dumps(doc).encode()


def invalid(detail: str, field: str | None = None) -> Problem:
    """A well-formed request the model cannot take (422)."""
    return Problem(422, detail, field=field)
