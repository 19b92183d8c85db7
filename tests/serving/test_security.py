"""Who may call a deployment: tokens with deployment.invoke (checked against the metadata
store, revocation honoured within seconds), TLS, and binding beyond 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import httpx
import pytest

from goldenpath.core.errors import InvalidInput
from goldenpath.workspace import Workspace

BODY = {"entities": {"user_id": 5}, "request": {"currency": "EUR"}}


def _principal(ws: Workspace, name: str, role: str) -> str:
    if not any(p.name == name for p in ws.principals.list()):
        ws.principals.add(name, kind="service")
        ws.access.grant(role, name, project="default")
    return ws.principals.create_token(name).secret


def test_tokens_with_invoke_are_required_and_revocation_is_honoured(sws: Workspace) -> None:
    info = sws.deployments.deploy("fraud@1", "token-api", require_token=True)
    try:
        url = f"{info.url}/v1/predict"
        anonymous = httpx.post(url, json=BODY)
        assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
        assert anonymous.headers["content-type"] == "application/problem+json"
        bad = httpx.post(url, json=BODY, headers={"Authorization": "Bearer gp_nonsense"})
        assert bad.status_code == 401
        caller = _principal(sws, "fraud-caller", "viewer")
        approver = _principal(sws, "fraud-approver", "approver")
        ok = httpx.post(url, json=BODY, headers={"Authorization": f"Bearer {caller}"})
        assert ok.status_code == 200, ok.text
        v2 = httpx.get(
            f"{info.url}/v2/models/fraud", headers={"Authorization": f"Bearer {approver}"}
        )
        assert v2.status_code == 403 and "deployment.invoke" in v2.json()["detail"]
        # Probes stay open (a kubelet has no token); they say nothing about the model.
        assert httpx.get(f"{info.url}/v2/health/ready").status_code == 200
        # Authentication comes before the body is read: a huge body without a token is a 401.
        huge = httpx.post(url, content=b"x" * (4 << 20))
        assert huge.status_code == 401
        token_id = next(t.id for t in sws.principals.tokens("fraud-caller"))
        sws.principals.revoke_token(token_id)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            again = httpx.post(url, json=BODY, headers={"Authorization": f"Bearer {caller}"})
            if again.status_code == 401:
                break
            time.sleep(0.2)
        assert again.status_code == 401
        assert time.monotonic() - (deadline - 10) < 4  # within limits.invoke_token_cache_seconds
    finally:
        sws.deployments.stop("token-api")


def _certificate(folder: Path) -> tuple[Path, Path]:
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def test_tls(sws: Workspace, tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    info = sws.deployments.deploy("fraud@1", "tls-api", tls_cert=cert, tls_key=key)
    try:
        assert info.url.startswith("https://127.0.0.1:")
        import ssl

        context = ssl.create_default_context(cafile=str(cert))
        answer = httpx.post(f"{info.url}/v1/predict", json=BODY, verify=context)
        assert answer.status_code == 200, answer.text
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"http://127.0.0.1:{info.port}/v1/predict", json=BODY)
    finally:
        sws.deployments.stop("tls-api")


def test_binding_beyond_loopback_needs_tls_or_insecure_bind(sws: Workspace) -> None:
    for host in ("0.0.0.0", "::", "10.1.2.3"):
        with pytest.raises(InvalidInput, match="needs TLS"):
            sws.deployments.deploy("fraud@1", "open-api", host=host)
    with pytest.raises(InvalidInput, match="both --tls-cert and --tls-key"):
        sws.deployments.deploy("fraud@1", "open-api", host="0.0.0.0", tls_cert="x.pem")
    assert not any(d.name == "open-api" for d in sws.deployments.list())


def test_the_serving_process_loads_only_onnx(serving_home: Path) -> None:
    """Loading a version as the server does never imports a native-model loader (skops,
    joblib): serving loads ONNX only (DESIGN.md). (pyarrow imports cloudpickle for its own
    pickling support; nothing here unpickles.)"""
    import subprocess
    import sys

    script = """
import sys
import goldenpath
from goldenpath.serving.loader import load_served
from goldenpath.serving.spec import DeploymentSpec
ws = goldenpath.connect(sys.argv[1], actor="alice")
spec = DeploymentSpec("x", "default", "fraud", 1, "127.0.0.1", 1, "alice", "dev", 1)
served = load_served(ws, spec, 1)
assert served.model.session is not None
loaders = ("skops", "joblib", "lightgbm", "xgboost")
print(sorted(m for m in sys.modules if m.split(".")[0] in loaders))
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(serving_home)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
