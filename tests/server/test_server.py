"""The control plane over real HTTP: authentication, object-level authorization, problems."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

import goldenpath
from goldenpath.cli.server import check_bind, is_loopback
from goldenpath.core.clock import utcnow
from goldenpath.store.tables import tokens
from tests.conftest import write
from tests.server.conftest import Running

# Every route that reads or changes one object of a project: OWASP API1 (BOLA) surface, with
# the status its owner gets (bob, a contributor on 'fraud': he reads grants but may not grant).
OBJECT_ROUTES = [
    ("GET", "/api/v1/datasets/fraud_tx", None, 200),
    ("GET", "/api/v1/datasets/fraud_tx?version=1", None, 200),
    ("GET", "/api/v1/datasets/fraud_tx/versions", None, 200),
    ("GET", "/api/v1/datasets/fraud_tx/head", None, 200),
    ("GET", "/api/v1/datasets/fraud_tx/data", None, 200),
    ("GET", "/api/v1/datasets/fraud_tx/profile", None, 200),
    ("GET", "/api/v1/datasets/fraud_tx/validation", None, 200),
    ("GET", "/api/v1/datasets/fraud_tx/quarantine", None, 200),
    ("POST", "/api/v1/datasets/fraud_tx/versions", "upload", 201),
    ("POST", "/api/v1/datasets/fraud_tx/validate", "upload", 200),
    ("GET", "/api/v1/grants?project=fraud", None, 200),
    ("POST", "/api/v1/grants", {"role": "viewer", "principal": "carol", "project": "fraud"}, 403),
]
WORKSPACE_ROUTES = [
    ("GET", "/api/v1/audit/events"),
    ("GET", "/api/v1/audit/verify"),
    ("POST", "/api/v1/audit/checkpoint"),
    ("GET", "/api/v1/audit/export"),
    ("GET", "/api/v1/principals"),
]


@pytest.fixture
def org(server: Running, tmp_path: Path) -> dict[str, str]:
    """bob contributes to 'fraud', carol to 'churn'; each gets a token; fraud_tx exists."""
    ws = server.ws
    tokens = {}
    for name, project, team in (("bob", "fraud", "risk"), ("carol", "churn", "growth")):
        ws.access.create_project(project, team=team)
        ws.principals.add(name)
        ws.access.grant("contributor", name, project=project)
        tokens[name] = ws.principals.create_token(name, expires_in="1h").secret
    contract = write(tmp_path / "c.yaml", "columns:\n  amount: {min: 0}\n")
    goldenpath.connect(
        ws.stack.home, metadata=ws.stack.metadata, actor="bob", project="fraud"
    ).datasets.ingest(
        "fraud_tx", write(tmp_path / "d.csv", "id,amount\n1,2.0\n2,3.0\n"), contract=contract
    )
    return tokens


def call(
    url: str, method: str, path: str, token: str | None, body: object, tmp_path: Path
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body == "upload":
        csv = write(tmp_path / "up.csv", "id,amount\n9,1.0\n")
        with open(csv, "rb") as handle:
            # Uploads run in a worker process that may still be warming up (seconds on a busy
            # machine): the SDK's timeout, not httpx's 5 s default.
            return httpx.request(
                method,
                url + path,
                headers=headers,
                files={"file": ("up.csv", handle)},
                timeout=60,
            )
    return httpx.request(
        method, url + path, headers=headers, json=body if isinstance(body, dict) else None
    )


@pytest.mark.parametrize(("method", "path", "body", "for_owner"), OBJECT_ROUTES)
def test_every_object_route_needs_a_token_and_the_right_project(
    server: Running,
    org: dict[str, str],
    tmp_path: Path,
    method: str,
    path: str,
    body: object,
    for_owner: int,
) -> None:
    anonymous = call(server.url, method, path, None, body, tmp_path)
    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    other_team = call(server.url, method, path, org["carol"], body, tmp_path)
    if method == "GET" and path.startswith("/api/v1/datasets/"):
        # An object carol may not read answers as a missing one (no existence oracle).
        assert other_team.status_code == 404, other_team.text
        assert other_team.json()["title"] == "NotFound"
    else:
        assert other_team.status_code == 403, other_team.text
        assert other_team.json()["title"] == "PermissionDenied"
    owner = call(server.url, method, path, org["bob"], body, tmp_path)
    assert owner.status_code == for_owner, owner.text


@pytest.mark.parametrize(("method", "path"), WORKSPACE_ROUTES)
def test_workspace_routes_are_for_admins(
    server: Running, org: dict[str, str], tmp_path: Path, method: str, path: str
) -> None:
    assert call(server.url, method, path, None, None, tmp_path).status_code == 401
    assert call(server.url, method, path, org["bob"], None, tmp_path).status_code == 403
    admin = server.ws.principals.create_token("alice", expires_in="1h").secret
    assert call(server.url, method, path, admin, None, tmp_path).status_code == 200


def test_expired_revoked_and_malformed_tokens_get_401(server: Running, org: dict[str, str]) -> None:
    revoked = server.ws.principals.create_token("bob", expires_in="1h")
    server.ws.principals.revoke_token(revoked.info.id)
    expired = server.ws.principals.create_token("bob", expires_in="1h")
    valid = {"Authorization": f"Bearer {expired.secret}"}
    assert httpx.get(server.url + "/api/v1/datasets", headers=valid).status_code == 200
    # Expired a minute ago: the row as a token past its expiry looks (no waiting in a test).
    with server.ws.store.begin() as conn:
        conn.execute(
            update(tokens)
            .where(tokens.c.id == expired.info.id)
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    secrets = (revoked.secret, expired.secret)
    for header in (*(f"Bearer {s}" for s in secrets), "Bearer gp_nope", "Basic abc", "Bearer"):
        response = httpx.get(server.url + "/api/v1/datasets", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert all(secret not in response.text for secret in secrets)


def test_the_remote_sdk_is_the_same_sdk(
    server: Running, org: dict[str, str], tmp_path: Path
) -> None:
    with goldenpath.connect(server.url, token=org["bob"], project="fraud") as bob:
        assert bob.actor.name == "bob"
        assert [d.name for d in bob.datasets.list()] == ["fraud_tx"]
        result = bob.datasets.ingest("fraud_tx", write(tmp_path / "b.csv", "id,amount\n3,1.0\n"))
        assert result.version.ref == "fraud_tx@2"
        # The same batch again: unchanged, naming its version (issue 12, point 4); 200 over
        # HTTP, not 201, since nothing was created. force records it anyway.
        same = bob.datasets.ingest("fraud_tx", tmp_path / "b.csv")
        assert (same.outcome, same.version.ref, same.warnings) == ("unchanged", "fraud_tx@2", ())
        assert same.version.batch_fingerprint == result.version.batch_fingerprint is not None
        with open(tmp_path / "b.csv", "rb") as handle:
            answer = httpx.post(
                f"{server.url}/api/v1/datasets/fraud_tx/versions",
                headers={"Authorization": f"Bearer {org['bob']}", "X-GP-Project": "fraud"},
                files={"file": ("b.csv", handle)},
                timeout=60,
            )
        assert (answer.status_code, answer.json()["ref"]) == (200, "fraud_tx@2"), answer.text
        forced = bob.datasets.ingest("fraud_tx", tmp_path / "b.csv", force=True)
        assert (forced.outcome, forced.version.ref) == ("accepted", "fraud_tx@3")
        assert bob.datasets.read("fraud_tx@1").to_pylist() == [
            {"id": 1, "amount": 2.0},
            {"id": 2, "amount": 3.0},
        ]
        assert bob.datasets.history("fraud_tx")[1].row_count == 3
        assert bob.datasets.history("fraud_tx")[2].row_count == 4
        assert bob.datasets.profile("fraud_tx@1")["rows"] == 2
        assert bob.datasets.head("fraud_tx@1", 1).num_rows == 1
        with pytest.raises(goldenpath.ValidationFailed, match=r"amount\.min"):
            bob.datasets.ingest(
                "fraud_tx",
                write(tmp_path / "c.csv", "id,amount\n4,-5\n"),
                contract=write(tmp_path / "strict.yaml", "columns:\n  amount: {min: 0}\n"),
            )
        with pytest.raises(goldenpath.NotFound, match="no version 9"):
            bob.datasets.get("fraud_tx@9")
        with pytest.raises(goldenpath.PermissionDenied):
            bob.audit.list()
    with pytest.raises(goldenpath.Unauthenticated):
        goldenpath.connect(server.url, token="gp_" + "a" * 43)


def test_the_cli_uses_the_server_when_gp_server_is_set(
    server: Running, org: dict[str, str], tmp_path: Path
) -> None:
    gp = Path(sys.executable).parent / "gp"
    env = {**os.environ, "GP_SERVER": server.url, "GP_TOKEN": org["carol"], "GP_HOME": "/none"}
    listed = subprocess.run(
        [str(gp), "data", "list", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "[]"
    denied = subprocess.run(
        [str(gp), "data", "show", "fraud_tx"], env=env, capture_output=True, text=True, timeout=60
    )
    assert denied.returncode == 4  # not found: carol may not read it, so it is as if missing
    assert denied.stderr.startswith("error: no dataset named 'fraud_tx'")


def test_openapi_is_served(server: Running) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    assert "/api/v1/datasets/{name}/versions" in spec["paths"]
    assert httpx.get(server.url + "/healthz").json()["status"] == "ok"


def test_binding_beyond_loopback_needs_tls_or_an_explicit_flag() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.5")
    check_bind("127.0.0.1", tls=False, insecure_bind=False)
    check_bind("0.0.0.0", tls=True, insecure_bind=False)
    check_bind("0.0.0.0", tls=False, insecure_bind=True)
    with pytest.raises(goldenpath.InvalidInput, match="refusing to serve plain HTTP"):
        check_bind("0.0.0.0", tls=False, insecure_bind=False)


def test_the_server_checkpoints_the_audit_trail_periodically(server: Running) -> None:
    import time

    from goldenpath.cli.server import _checkpoint_periodically

    stop = _checkpoint_periodically(server.ws, 1)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if server.ws.audit.verify().checkpoint is not None:
                break
            time.sleep(0.2)
    finally:
        stop.set()
    result = server.ws.audit.verify()
    assert result.ok and result.checkpoint is not None


def _children(pid: int) -> set[int]:
    """Live child processes of ``pid`` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads the process table from /proc")
def test_gp_server_with_workers_serves_from_several_processes(
    ws: goldenpath.Workspace, tmp_path: Path
) -> None:
    import time

    from tests.server.conftest import free_port

    token = ws.principals.create_token("alice", expires_in="1h").secret
    port = free_port()
    gp = Path(sys.executable).parent / "gp"
    env = {
        **os.environ,
        "GP_HOME": str(ws.stack.home),
        "GP_METADATA": ws.stack.metadata,
        "GP_ACTOR": "alice",
    }
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [str(gp), "server", "--port", str(port), "--workers", "2", "--checkpoint-every", "0"],
            env=env,
            stdout=out,
            stderr=out,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        auth = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=auth) as client:
            assert {client.get("/api/v1/whoami").status_code for _ in range(20)} == {200}
        workers = _children(process.pid)
        assert len(workers) >= 2  # the workers (and multiprocessing's tracker)
        assert httpx.get(url + "/api/v1/whoami").status_code == 401
    finally:
        process.terminate()
        process.wait(timeout=20)
    deadline = time.monotonic() + 10  # stopping the server stops its workers: no orphans
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()]


def test_status_shows_paths_and_counts_only_to_workspace_admins(
    server: Running, org: dict[str, str]
) -> None:
    def status(token: str) -> dict[str, object]:
        response = httpx.get(
            server.url + "/api/v1/status", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    home = str(server.ws.stack.home)
    bob = status(org["bob"])
    assert bob == {"version": goldenpath.__version__, "principal": "bob", "project": "default"}
    assert home not in str(bob)
    admin = status(server.ws.principals.create_token("alice", expires_in="1h").secret)
    assert admin["home"] == home
    assert admin["principal"] == "alice"
    assert set(admin["counts"]) == {  # type: ignore[arg-type]
        "datasets",
        "dataset_versions",
        "feature_views",
        "runs",
        "models",
        "model_versions",
        "deployments",
        "principals",
        "audit_events",
    }
    assert admin["stack"]["storage"] == str(server.ws.stack.storage)  # type: ignore[index]
    # The remote SDK reads the same answer.
    with goldenpath.connect(server.url, token=org["bob"]) as remote:
        assert remote.status().counts is None


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/datasets/fraud_tx?version=99999999999999999999999",
        "/api/v1/datasets/fraud_tx@99999999999999999999999",
        "/api/v1/datasets/fraud_tx@99999999999999999999999/profile",
        "/api/v1/datasets/fraud_tx/profile?version=2147483648",
        "/api/v1/datasets/fraud_tx@%D9%A3/head",
        "/api/v1/datasets/fraud_tx@%EF%BC%93/profile",
    ],
)
def test_out_of_range_and_non_ascii_versions_are_a_422(
    server: Running, org: dict[str, str], path: str
) -> None:
    headers = {"Authorization": f"Bearer {org['bob']}"}
    response = httpx.get(server.url + path, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
