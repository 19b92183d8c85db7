"""One HTTP session to the control plane, turning problem documents back into our errors."""

from __future__ import annotations

from typing import Any

import httpx

from goldenpath.core import errors

_BY_STATUS: dict[int, type[errors.GoldenpathError]] = {
    401: errors.Unauthenticated,
    403: errors.PermissionDenied,
    404: errors.NotFound,
    409: errors.Conflict,
    422: errors.InvalidInput,
    503: errors.BackendUnavailable,
}


class Http:
    """Authenticated requests to ``base_url`` (bearer token; the project in a header)."""

    def __init__(
        self, base_url: str, token: str | None, project: str | None, timeout: float = 60.0
    ) -> None:
        if not token:
            raise errors.Unauthenticated(
                "a token is needed to use a server", hint="pass token=... or set GP_TOKEN"
            )
        headers = {"Authorization": f"Bearer {token}"}
        if project:
            headers["X-GP-Project"] = project
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url + "/api/v1", headers=headers, timeout=timeout
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise errors.BackendUnavailable(
                f"cannot reach the server at {self.base_url}: {exc}",
                hint="check GP_SERVER and that gp server runs",
            ) from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    def close(self) -> None:
        self._client.close()


def _error(response: httpx.Response) -> errors.GoldenpathError:
    try:
        body = response.json()
    except ValueError:
        body = {"detail": response.text[:200] or response.reason_phrase}
    detail, hint = str(body.get("detail", "request failed")), body.get("hint")
    ours = errors.rebuild(
        str(body.get("title", "")),
        detail,
        hint,
        policy=str(body.get("policy", "")),
        request_id=body.get("request_id"),
    )
    if ours is not None:
        return ours
    return _BY_STATUS.get(response.status_code, errors.GoldenpathError)(detail, hint=hint)
