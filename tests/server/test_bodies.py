"""Bodies: authentication before a byte of the body is read, and body size capped while it
streams (issue 11, point 8), over raw HTTP/1.1 on 127.0.0.1.

Each hostile request declares or streams far more than it sends: a server that answers at all
answered without reading the body (it cannot have: the bytes were never sent).
"""

from __future__ import annotations

import dataclasses
import json
import select
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

import goldenpath
from goldenpath.core.limits import Limits
from goldenpath.server.app import create_app
from tests.server.conftest import serving

BOUNDARY = "gpboundary"
MULTIPART_HEAD = (
    f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
    "Content-Type: text/csv\r\n\r\nid\n"
).encode()


def exchange(url: str, head: str, chunks: Iterator[bytes], wait_s: float = 10) -> tuple[int, dict]:
    """Send ``head`` then ``chunks`` until the server answers (or closes); return the status
    and the problem document. Stops sending as soon as an answer is readable."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=wait_s) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
        data = b""
        while True:
            try:
                got = sock.recv(65536)
            except ConnectionResetError:
                break
            if not got:
                break
            data += got
            if b"\r\n\r\n" in data and data.rstrip().endswith(b"}"):
                break
    status = int(data.split(b" ", 2)[1])
    body = data.split(b"\r\n\r\n", 1)[1]
    return status, json.loads(body[body.index(b"{") :])


def head(path: str, token: str | None, length: int | None, *, multipart: bool = True) -> str:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    lines.append(
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}"
        if multipart
        else "Content-Type: application/json"
    )
    lines.append(
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    )
    return "\r\n".join(lines) + "\r\n\r\n"


def prefix_only(size: int = 64 * 1024) -> Iterator[bytes]:
    yield MULTIPART_HEAD + b"1\n" * (size // 2)


def chunked(total: int, chunk: int = 32 * 1024) -> Iterator[bytes]:
    yield f"{len(MULTIPART_HEAD):x}\r\n".encode() + MULTIPART_HEAD + b"\r\n"
    sent = 0
    while sent < total:
        yield f"{chunk:x}\r\n".encode() + b"1\n" * (chunk // 2) + b"\r\n"
        sent += chunk


@pytest.fixture
def token(local_ws: goldenpath.Workspace) -> str:
    return local_ws.principals.create_token("alice", expires_in="1h").secret


UPLOAD = "/api/v1/datasets/big/versions"


@pytest.mark.parametrize("credentials", [None, "gp_notatoken", "Basic YWxpY2U6eA=="])
def test_an_unauthenticated_body_is_refused_before_it_is_read(
    local_ws: goldenpath.Workspace, credentials: str | None
) -> None:
    with serving(local_ws) as url:
        # 200 MB declared, 64 KB sent: the 401 comes without the rest.
        request = head(UPLOAD, credentials, 200_000_000)
        if credentials and credentials.startswith("Basic"):
            request = request.replace("Bearer Basic", "Basic")
        status, problem = exchange(url, request, prefix_only())
        assert status == 401 and problem["title"] == "Unauthenticated"
        status, _ = exchange(url, head(UPLOAD, credentials, None), chunked(200_000_000))
        assert status == 401
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
    assert local_ws.datasets.list() == []


def test_a_declared_length_over_the_limit_is_refused_before_it_is_read(
    local_ws: goldenpath.Workspace, token: str
) -> None:
    limits = local_ws.stack.limits
    too_big = limits.upload_max_bytes + limits.body_max_bytes + 1
    with serving(local_ws) as url:
        status, problem = exchange(url, head(UPLOAD, token, too_big), prefix_only())
        assert status == 413 and problem["title"] == "ContentTooLarge"
        assert "upload_max_bytes" in problem["hint"]
        json_head = head("/api/v1/grants", token, limits.body_max_bytes + 1, multipart=False)
        status, problem = exchange(url, json_head, iter([b'{"role": "' + b"x" * 1000]))
        assert status == 413 and "body_max_bytes" in problem["hint"]
    assert local_ws.datasets.list() == []


def test_a_streamed_body_is_counted_and_cut_at_the_limit(
    local_ws: goldenpath.Workspace, token: str
) -> None:
    small = Limits(upload_max_bytes=256 * 1024, body_max_bytes=16 * 1024)
    app = create_app(dataclasses.replace(local_ws.stack, limits=small), local_ws.store)
    with serving(local_ws, app) as url:
        # Chunked: no length declared, so only counting the bytes can stop it.
        status, problem = exchange(url, head(UPLOAD, token, None), chunked(50_000_000))
        assert status == 413 and problem["title"] == "ContentTooLarge"
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        # Within the limit, an upload still works.
        fine = httpx.post(
            f"{url}{UPLOAD}",
            headers={"Authorization": f"Bearer {token}"},
            files={"file": ("big.csv", b"id\n1\n")},
            timeout=120,
        )
        assert fine.status_code == 201, fine.text
    assert [v.version for v in local_ws.datasets.history("big")] == [1]
