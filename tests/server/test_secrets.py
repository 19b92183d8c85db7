"""A planted token never shows up in audit rows, logs, error messages or status output."""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

import goldenpath
from goldenpath.core.redact import redact
from tests.conftest import write
from tests.server.conftest import Running


def test_a_planted_token_appears_nowhere(
    server: Running, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ws = server.ws
    ws.principals.add("bob")
    ws.access.grant("contributor", "bob", project="default")
    planted = ws.principals.create_token("bob", expires_in="1h")
    token = planted.secret
    seen: list[str] = []

    # The token inside a file name: the source path lands in the audit details.
    folder = tmp_path / f"token={token}"
    folder.mkdir()
    data = write(folder / "d.csv", "id\n1\n")
    ws.datasets.ingest("tx", data)
    # The token used over HTTP, valid and then revoked, and in a query string.
    headers = {"Authorization": f"Bearer {token}"}
    seen.append(httpx.get(server.url + "/api/v1/datasets", headers=headers).text)
    seen.append(
        httpx.get(server.url + f"/api/v1/datasets/nope?token={token}", headers=headers).text
    )
    ws.principals.revoke_token(planted.info.id)
    seen.append(httpx.get(server.url + "/api/v1/datasets", headers=headers).text)
    with pytest.raises(goldenpath.Unauthenticated) as caught:
        goldenpath.connect(server.url, token=token)
    seen.append(str(caught.value) + str(caught.value.hint))
    # The CLI: a failing command whose argument holds the token, and gp status.
    gp = Path(sys.executable).parent / "gp"
    env = {
        **os.environ,
        "GP_HOME": str(ws.stack.home),
        "GP_METADATA": ws.stack.metadata,
        "GP_ACTOR": "alice",
    }
    for args in (
        ["data", "ingest", "tx", str(folder / "missing.csv")],
        ["status", "--json"],
        ["audit", "list", "--json", "--limit", "1000"],
    ):
        done = subprocess.run([str(gp), *args], env=env, capture_output=True, text=True, timeout=60)
        seen += [done.stdout, done.stderr]
    with goldenpath.connect(
        server.url.replace("http", "http"),
        token=ws.principals.create_token("alice", expires_in="1h").secret,
    ) as admin:
        seen.append(admin.audit.verify().as_dict().__repr__())
    exported = io.StringIO()
    ws.audit.export(exported)
    seen.append(exported.getvalue())
    # The server's and the platform's logs (the test's own HTTP client logs the URLs it is
    # given, including the query string planted above; that is this test, not the product).
    seen += [r.getMessage() for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]

    assert "token=***/d.csv" in exported.getvalue()  # redaction ran on the planted path
    leaks = [text for text in seen if token in text]
    assert leaks == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("postgresql://gp:hunter2@db/gp", "postgresql://gp:***@db/gp"),
        ("password=hunter2&x=1", "password=***&x=1"),
        ("/data/token=abc/d.csv", "/data/token=***/d.csv"),
        ("Authorization: Bearer abc.def", "Authorization: Bearer ***"),
        ("gp_" + "A" * 43, "gp_***"),
        ("nothing secret here", "nothing secret here"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected
