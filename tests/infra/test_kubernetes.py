"""Kubernetes manifests (validated against the official schemas of every Kubernetes version
kubernetes-validate ships, strict) and server-side apply against a fake API server on
127.0.0.1 that records what the client sends."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import kubernetes_validate
import pytest
import yaml

from goldenpath.core.errors import (
    BackendUnavailable,
    Conflict,
    InvalidInput,
    InvalidName,
    NotFound,
)
from goldenpath.infra.kubernetes import (
    APPLY_CONTENT_TYPE,
    INSTALL_HINT,
    KubernetesRuntime,
    KubernetesTarget,
    api_client_for,
    render,
    to_json,
    to_yaml,
)
from tests.infra.kserve_schema import kubernetes_versions, validator

DIGEST = "3f" * 32
VERSIONS = kubernetes_versions()

TARGETS = {
    "defaults": KubernetesTarget(name="fraud_api", model="fraud", version=3, onnx_digest=DIGEST),
    "tuned": KubernetesTarget(
        name="churn",
        model="churn_model",
        version=12,
        onnx_digest=DIGEST,
        namespace="ml-serving",
        model_uri="s3://models/churn/12/model.onnx",
        image="registry.example.com/team/serving:1.2.3",
        port=9000,
        replicas=3,
        max_replicas=10,
        target_cpu_percent=55,
        cpu_request="0.5",
        cpu_limit="2",
        memory_request="512M",
        memory_limit="2Gi",
        labels={"team": "risk", "example.com/cost-center": "c-42"},
    ),
    "one-replica": KubernetesTarget(
        name="tiny", model="m", version=1, onnx_digest=DIGEST, replicas=1, max_replicas=1
    ),
}
KSERVE_TARGETS = {
    "kserve": KubernetesTarget(
        name="fraud_api", model="fraud", version=3, onnx_digest=DIGEST, serving="kserve"
    ),
    "kserve-canary": KubernetesTarget(
        name="fraud-api",
        model="fraud",
        version=4,
        onnx_digest=DIGEST,
        serving="kserve",
        namespace="prod",
        model_uri="https://models.example.com/fraud/4.onnx",
        replicas=2,
        max_replicas=8,
        canary_percent=10,
        labels={"team": "risk"},
    ),
}


def test_kubernetes_validate_ships_the_versions_we_promise() -> None:
    assert VERSIONS[0] == "1.25"
    assert "1.37" in VERSIONS


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_is_valid_in_strict_mode(version: str) -> None:
    for target in [*TARGETS.values(), *KSERVE_TARGETS.values()]:
        for manifest in render(target):
            if manifest["kind"] == "InferenceService":
                errors = [e.message for e in validator(version).iter_errors(manifest)]
                assert errors == [], (target.name, errors)
            else:
                kubernetes_validate.validate(manifest, version, strict=True)


def test_a_planted_mistake_fails_strict_validation() -> None:
    """The validation can fail: a misspelled field, and a wrong type, are caught."""
    deployment = render(TARGETS["defaults"])[0]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFileSystem"] = True  # wrong case
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)
    service = render(KSERVE_TARGETS["kserve"])[0]
    service["spec"]["predictor"]["model"]["storageURI"] = "s3://x"  # KServe spells storageUri
    service["spec"]["predictor"]["minReplicas"] = "1"
    messages = [e.message for e in validator(VERSIONS[-1]).iter_errors(service)]
    assert any("storageURI" in m for m in messages)
    assert any("'1' is not of type 'integer'" in m for m in messages)
    del service["spec"]["predictor"]["model"]["modelFormat"]
    assert any(
        "'modelFormat' is a required property" in e.message
        for e in validator(VERSIONS[-1]).iter_errors(service)
    )


def test_deployment_service_and_autoscaler() -> None:
    target = TARGETS["tuned"]
    deployment, service, hpa = render(target)
    assert [m["kind"] for m in (deployment, service, hpa)] == [
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
    ]
    labels = {
        "app.kubernetes.io/name": "goldenpath-serving",
        "app.kubernetes.io/instance": "churn",
        "app.kubernetes.io/managed-by": "goldenpath",
        "goldenpath.dev/model": "churn_model",
        "goldenpath.dev/model-version": "12",
        "team": "risk",
        "example.com/cost-center": "c-42",
    }
    for manifest in (deployment, service, hpa):
        metadata = {"name": "churn", "namespace": "ml-serving", "labels": labels}
        assert manifest["metadata"] == metadata
    selector = {
        "app.kubernetes.io/name": "goldenpath-serving",
        "app.kubernetes.io/instance": "churn",
    }
    assert deployment["spec"]["selector"]["matchLabels"] == selector
    assert service["spec"]["selector"] == selector
    pod = deployment["spec"]["template"]
    assert pod["metadata"]["annotations"] == {"goldenpath.dev/onnx-sha256": DIGEST}
    assert "replicas" not in deployment["spec"]  # the autoscaler owns the count
    (container,) = pod["spec"]["containers"]
    assert container["image"] == "registry.example.com/team/serving:1.2.3"
    assert container["ports"] == [{"name": "http", "containerPort": 9000, "protocol": "TCP"}]
    assert container["resources"] == {
        "requests": {"cpu": "0.5", "memory": "512M"},
        "limits": {"cpu": "2", "memory": "2Gi"},
    }
    assert container["readinessProbe"]["httpGet"] == {"path": "/v2/health/ready", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": "http"}
    assert container["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 10001,
        "runAsGroup": 10001,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]
    assert pod["spec"]["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    assert pod["spec"]["automountServiceAccountToken"] is False
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["GP_MODEL_URI"] == "s3://models/churn/12/model.onnx"
    assert env["GP_MODEL_SHA256"] == DIGEST
    assert env["GP_PORT"] == "9000"
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}
    ]
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "churn",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    metric = hpa["spec"]["metrics"][0]["resource"]
    assert metric == {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 55}}


def test_names_map_underscores_and_the_model_uri_defaults_to_the_digest() -> None:
    target = TARGETS["defaults"]
    assert target.object_name == "fraud-api"
    assert target.model_uri == f"pvc://goldenpath-models/sha256/{DIGEST}"
    assert {m["metadata"]["name"] for m in render(target)} == {"fraud-api"}


def test_inference_service_fields() -> None:
    (isvc,) = render(KSERVE_TARGETS["kserve-canary"])
    assert (isvc["apiVersion"], isvc["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    predictor = isvc["spec"]["predictor"]
    assert (predictor["minReplicas"], predictor["maxReplicas"]) == (2, 8)
    assert predictor["canaryTrafficPercent"] == 10
    model = predictor["model"]
    assert model["modelFormat"] == {"name": "onnx"}
    assert model["protocolVersion"] == "v2"
    assert model["storageUri"] == "https://models.example.com/fraud/4.onnx"
    assert model["securityContext"]["readOnlyRootFilesystem"] is True
    assert model["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert "canaryTrafficPercent" not in render(KSERVE_TARGETS["kserve"])[0]["spec"]["predictor"]


@pytest.mark.parametrize("target", [*TARGETS.values(), *KSERVE_TARGETS.values()], ids=str)
def test_yaml_and_json_round_trip_in_order(target: KubernetesTarget) -> None:
    manifests = render(target)
    text = to_yaml(manifests)
    assert text.count("---\n") == len(manifests) - 1
    assert list(yaml.safe_load_all(text)) == manifests
    for document in text.split("---\n"):
        assert [line.split(":")[0] for line in document.splitlines() if line[:1].isalpha()][:3] == [
            "apiVersion",
            "kind",
            "metadata",
        ]
    assert json.loads(to_json(manifests))["items"] == manifests


BAD_TARGETS = [
    ({"name": "Fraud"}, "deployment name", InvalidName),
    ({"name": "fraud_"}, "name", InvalidInput),
    ({"namespace": "Prod"}, "namespace", InvalidInput),
    ({"namespace": "-x"}, "namespace", InvalidInput),
    ({"model": "fraud-"}, "model", InvalidInput),
    ({"version": 0}, "version", InvalidInput),
    ({"version": True}, "version", InvalidInput),
    ({"onnx_digest": "abc"}, "onnx_digest", InvalidInput),
    ({"model_uri": "file:///etc/passwd"}, "model_uri", InvalidInput),
    ({"model_uri": "s3://"}, "model_uri", InvalidInput),
    ({"model_uri": "s3://bucket/a b"}, "model_uri", InvalidInput),
    ({"image": "bad image"}, "image", InvalidInput),
    ({"port": 80}, "port", InvalidInput),
    ({"replicas": 0}, "replicas", InvalidInput),
    ({"replicas": 5, "max_replicas": 4}, "replicas", InvalidInput),
    ({"target_cpu_percent": 101}, "target_cpu_percent", InvalidInput),
    ({"cpu_request": "250x"}, "cpu_request", InvalidInput),
    ({"cpu_request": "1.5m"}, "cpu_request", InvalidInput),
    ({"cpu_limit": "0"}, "cpu_limit", InvalidInput),
    ({"cpu_request": "2", "cpu_limit": "1"}, "cpu_request", InvalidInput),
    ({"memory_request": "256MB"}, "memory_request", InvalidInput),
    ({"memory_limit": "1 Gi"}, "memory_limit", InvalidInput),
    ({"memory_request": "2Gi", "memory_limit": "1Gi"}, "memory_request", InvalidInput),
    ({"serving": "knative"}, "serving", InvalidInput),
    ({"labels": {"app.kubernetes.io/name": "x"}}, "labels", InvalidInput),
    ({"labels": {"bad key!": "x"}}, "labels", InvalidInput),
    ({"labels": {"team": "-risk"}}, "labels", InvalidInput),
    ({"canary_percent": 10}, "canary_percent", InvalidInput),
    ({"serving": "kserve", "canary_percent": 101}, "canary_percent", InvalidInput),
]


@pytest.mark.parametrize(("changes", "field_name", "error"), BAD_TARGETS, ids=str)
def test_bad_targets_are_refused_with_the_field_named(
    changes: dict[str, Any], field_name: str, error: type[Exception]
) -> None:
    arguments: dict[str, Any] = {
        "name": "fraud-api",
        "model": "fraud",
        "version": 3,
        "onnx_digest": DIGEST,
        **changes,
    }
    with pytest.raises(error) as caught:
        KubernetesTarget(**arguments)
    assert caught.type is error
    assert field_name in str(caught.value).splitlines()[0]
    assert getattr(caught.value, "hint", None)


# -- the fake API server ----------------------------------------------------------------------


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    authorization: str
    body: Any


@dataclass
class FakeApiServer:
    """Answers the calls KubernetesRuntime makes, like an API server would: server-side apply
    stores the object, GET returns it with a status, DELETE removes it. ``fail`` maps a path to
    (HTTP status, Status message) to answer instead."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    fail: dict[str, tuple[int, str]] = field(default_factory=dict)
    status: dict[str, dict[str, Any]] = field(default_factory=dict)


def _handler(fake: FakeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _status(self, code: int, message: str, reason: str) -> None:
            self._answer(
                code,
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "status": "Failure",
                    "message": message,
                    "reason": reason,
                    "code": code,
                },
            )

        def _handle(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = yaml.safe_load(raw) if raw else None
            fake.requests.append(
                Recorded(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    self.headers.get("Content-Type", ""),
                    self.headers.get("Authorization", ""),
                    body,
                )
            )
            if parts.path in fake.fail:
                code, message = fake.fail[parts.path]
                self._status(code, message, "Invalid" if code == 422 else "Conflict")
            elif self.command == "PATCH":
                stored = {**body, "metadata": {**body["metadata"], "uid": "u-1"}}
                fake.objects[parts.path] = stored
                self._answer(200, stored)
            elif parts.path not in fake.objects:
                self._status(404, f"{parts.path.rsplit('/', 1)[-1]} not found", "NotFound")
            elif self.command == "GET":
                obj = {**fake.objects[parts.path], "status": fake.status.get(parts.path, {})}
                self._answer(200, obj)
            else:
                del fake.objects[parts.path]
                self._answer(200, {"kind": "Status", "status": "Success"})

        do_GET = do_PATCH = do_DELETE = _handle

    return Handler


@pytest.fixture
def fake_api() -> Iterator[FakeApiServer]:
    fake = FakeApiServer()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield fake
    server.shutdown()
    server.server_close()


def test_apply_sends_one_server_side_apply_patch_per_object(fake_api: FakeApiServer) -> None:
    runtime = KubernetesRuntime(api_client_for(fake_api.url, token="t0ken"))
    manifests = render(TARGETS["tuned"])
    applied = runtime.apply(manifests)
    assert [r.method for r in fake_api.requests] == ["PATCH"] * 3
    assert [r.path for r in fake_api.requests] == [
        "/apis/apps/v1/namespaces/ml-serving/deployments/churn",
        "/api/v1/namespaces/ml-serving/services/churn",
        "/apis/autoscaling/v2/namespaces/ml-serving/horizontalpodautoscalers/churn",
    ]
    for request, manifest in zip(fake_api.requests, manifests, strict=True):
        assert request.query == {"fieldManager": ["goldenpath"], "force": ["true"]}
        assert request.content_type == APPLY_CONTENT_TYPE
        assert request.authorization == "Bearer t0ken"
        assert request.body == manifest
    assert [a["metadata"]["uid"] for a in applied] == ["u-1"] * 3


def test_apply_an_inference_service_with_another_field_manager(fake_api: FakeApiServer) -> None:
    runtime = KubernetesRuntime(api_client_for(fake_api.url))
    runtime.apply(render(KSERVE_TARGETS["kserve-canary"]), field_manager="gp-ci")
    (request,) = fake_api.requests
    assert request.path == (
        "/apis/serving.kserve.io/v1beta1/namespaces/prod/inferenceservices/fraud-api"
    )
    assert request.query["fieldManager"] == ["gp-ci"]


@pytest.mark.parametrize(
    ("code", "error"), [(422, InvalidInput), (409, Conflict)], ids=["invalid", "conflict"]
)
def test_api_errors_become_our_errors_with_the_servers_message(
    fake_api: FakeApiServer, code: int, error: type[Exception]
) -> None:
    message = 'Service "churn" is invalid: spec.ports[0].port: Invalid value: 0'
    fake_api.fail["/api/v1/namespaces/ml-serving/services/churn"] = (code, message)
    runtime = KubernetesRuntime(api_client_for(fake_api.url))
    with pytest.raises(error) as caught:
        runtime.apply(render(TARGETS["tuned"]))
    assert caught.type is error
    assert f"HTTP {code}" in str(caught.value)
    assert message in str(caught.value)
    assert "Service churn" in str(caught.value)
    assert [r.method for r in fake_api.requests] == ["PATCH", "PATCH"]  # stopped at the error


def test_status_and_delete(fake_api: FakeApiServer) -> None:
    runtime = KubernetesRuntime(api_client_for(fake_api.url))
    runtime.apply(render(TARGETS["defaults"]))
    path = "/apis/apps/v1/namespaces/default/deployments/fraud-api"
    fake_api.objects[path]["spec"]["replicas"] = 2
    fake_api.status[path] = {"readyReplicas": 1}
    status = runtime.status("fraud_api")
    assert (status.kind, status.ready, status.ready_replicas, status.replicas) == (
        "Deployment",
        False,
        1,
        2,
    )
    fake_api.status[path] = {"readyReplicas": 2}
    assert runtime.status("fraud_api").ready
    assert runtime.delete("fraud_api") == ["HorizontalPodAutoscaler", "Service", "Deployment"]
    assert fake_api.objects == {}
    with pytest.raises(NotFound, match="no deployment 'fraud-api'"):
        runtime.status("fraud_api")


def test_status_of_an_inference_service(fake_api: FakeApiServer) -> None:
    runtime = KubernetesRuntime(api_client_for(fake_api.url))
    runtime.apply(render(KSERVE_TARGETS["kserve"]))
    path = "/apis/serving.kserve.io/v1beta1/namespaces/default/inferenceservices/fraud-api"
    fake_api.status[path] = {
        "conditions": [{"type": "Ready", "status": "False", "reason": "RevisionMissing"}]
    }
    status = runtime.status("fraud_api")
    assert (status.kind, status.ready, status.message) == (
        "InferenceService",
        False,
        "RevisionMissing",
    )
    fake_api.status[path] = {"conditions": [{"type": "Ready", "status": "True"}]}
    assert runtime.status("fraud_api").ready


def test_an_unreachable_cluster_is_a_clear_error() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()  # nothing listens there now
    runtime = KubernetesRuntime(api_client_for(f"http://127.0.0.1:{port}"), timeout=2)
    with pytest.raises(BackendUnavailable, match=f"cannot reach the Kubernetes API at .*{port}"):
        runtime.apply(render(TARGETS["defaults"]))


def test_without_the_kubernetes_package_applying_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "kubernetes", None)  # import kubernetes -> ImportError
    with pytest.raises(InvalidInput) as caught:
        api_client_for("http://127.0.0.1:1")
    assert caught.value.hint == INSTALL_HINT
    with pytest.raises(InvalidInput, match="kubernetes package"):
        KubernetesRuntime.from_kubeconfig("/nonexistent")
    assert render(TARGETS["defaults"])  # rendering never needs it


def test_a_bad_kubeconfig_is_a_clear_error(tmp_path: Any) -> None:
    path = tmp_path / "config"
    path.write_text("apiVersion: v1\nkind: Config\ncontexts: []\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="cannot load the kubeconfig"):
        KubernetesRuntime.from_kubeconfig(str(path), context="nope")
