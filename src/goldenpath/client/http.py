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


# What each part of a request is called in an error about its text.
_PARTS = {"params": "the query", "json": "the body", "data": "the form", "files": "the files"}


class Http:
    """Authenticated requests to ``base_url`` (bearer token; the project in a header)."""

    def __init__(
        self, base_url: str, token: str | None, project: str | None, timeout: float = 60.0
    ) -> None:
        if not token:
            raise errors.Unauthenticated(
                "a token is needed to use a server", hint="pass token=... or set GP_TOKEN"
            )
        _check_text(token, "the token")
        _check_text(project, "the project")
        headers = {"Authorization": f"Bearer {token}"}
        if project:
            headers["X-GP-Project"] = project
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.base_url + "/api/v1", headers=headers, timeout=timeout
        )

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        _check_text(path, "the request path")
        for part, where in _PARTS.items():
            if kwargs.get(part) is not None:
                _check_text(kwargs[part], where)
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


def _check_text(value: Any, where: str) -> None:
    """Refuse text that cannot be sent: a lone UTF-16 surrogate (``"\\ud800"``, which Python
    strings allow and UTF-8 cannot encode) anywhere in what a request carries, keys included,
    as one :class:`InvalidInput` naming where, before anything is sent (else httpx's encoder
    raises a ``UnicodeEncodeError`` traceback halfway through building the request)."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        item, path = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError as exc:
                at = f"{where} at {path}" if path else where
                raise errors.InvalidInput(
                    f"{at} holds a lone UTF-16 surrogate ({item[exc.start]!r} at character "
                    f"{exc.start} of '{_printable(item)[:80]}'), which no request can carry",
                    hint="send valid Unicode text (text decoded with errors='surrogateescape' "
                    "keeps undecodable bytes as surrogates: decode it strictly)",
                ) from None
        elif isinstance(item, dict):
            for key, entry in item.items():
                name = _printable(key)
                pending.append((key, f"{path}.{name} (the key)".lstrip(".")))
                pending.append((entry, f"{path}.{name}".lstrip(".")))
        elif isinstance(item, list | tuple):
            pending.extend((entry, f"{path}[{i}]") for i, entry in enumerate(item))


def _printable(key: Any) -> str:
    """A key as it can be shown (a surrogate in it escaped)."""
    return str(key).encode("utf-8", "backslashreplace").decode()


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
