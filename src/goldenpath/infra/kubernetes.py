"""Kubernetes as a deployment target: manifests for one model deployment, and applying them.

:func:`render` turns a :class:`KubernetesTarget` into plain dicts: a Deployment, a Service and a
HorizontalPodAutoscaler (``serving="deployment"``), or one KServe InferenceService
(``serving="kserve"``). Both run the model as a non-root user on a read-only root file system,
with readiness and liveness probes on the Open Inference Protocol's health routes. The
manifests are data, not client objects, so ``--dry-run -o yaml`` needs no Kubernetes package
and the tests can validate them against the official schemas.

:class:`KubernetesRuntime` applies them with server-side apply (one PATCH per object, content
type ``application/apply-patch+yaml``, a field manager and ``force=true``), through the
official ``kubernetes`` client's ``ApiClient``, so kubeconfig, tokens and TLS work as
``kubectl`` does. That package is optional (``goldenpath[kubernetes]``) and imported only
here, lazily. Objects are addressed by a fixed table of the kinds we render, so no discovery
round trips are needed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import yaml

from goldenpath.core.errors import (
    BackendUnavailable,
    Conflict,
    GoldenpathError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from goldenpath.core.names import MAX_VERSION, validate_name

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

SERVING_MODES = ("deployment", "kserve")
DEFAULT_IMAGE = "ghcr.io/goldenpath/serving:0.1.0"
DEFAULT_MODEL_PVC = "goldenpath-models"
MODEL_URI_SCHEMES = ("s3://", "pvc://", "https://")
MODEL_URI_MAX = 2048
MAX_REPLICAS_LIMIT = 1000
RUN_AS_USER = 10001
SERVICE_PORT = 80
TMP_SIZE = "64Mi"
READY_PATH = "/v2/health/ready"
LIVE_PATH = "/v2/health/live"
INSTALL_HINT = "pip install 'goldenpath[kubernetes]'"
APPLY_CONTENT_TYPE = "application/apply-patch+yaml"

# Labels we set on every object; extra labels may not override them.
LABEL_NAME = "app.kubernetes.io/name"
LABEL_INSTANCE = "app.kubernetes.io/instance"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_MODEL = "goldenpath.dev/model"
LABEL_MODEL_VERSION = "goldenpath.dev/model-version"
ANNOTATION_DIGEST = "goldenpath.dev/onnx-sha256"
APP_NAME = "goldenpath-serving"
_RESERVED_LABEL_PREFIXES = ("app.kubernetes.io/", "goldenpath.dev/")

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_KEY_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_IMAGE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]{0,254}$")
_URI_TEXT = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces
_CPU = re.compile(r"^(?P<n>[0-9]+(\.[0-9]{1,3})?)(?P<unit>m?)$")
_MEMORY = re.compile(r"^(?P<n>[0-9]+(\.[0-9]+)?)(?P<unit>Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_MEMORY_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
    "Ei": 2**60,
}


def _refuse(field_name: str, problem: str, hint: str) -> InvalidInput:
    return InvalidInput(f"kubernetes target: {field_name} {problem}", hint=hint)


def _cpu(field_name: str, text: str) -> Decimal:
    """A CPU quantity (``250m``, ``1``, ``1.5``) in cores; anything else is refused."""
    match = _CPU.fullmatch(text) if isinstance(text, str) else None
    if match is None or (match["unit"] == "m" and "." in match["n"]):
        raise _refuse(
            field_name,
            f"{text!r} is not a CPU quantity",
            "write cores (1, 0.5) or millicores (250m)",
        )
    cores = Decimal(match["n"]) / (1000 if match["unit"] else 1)
    if cores <= 0:
        raise _refuse(field_name, f"{text!r} must be more than zero", "for example: 250m")
    return cores


def _memory(field_name: str, text: str) -> Decimal:
    """A memory quantity (``256Mi``, ``1Gi``, ``500M``) in bytes; anything else is refused."""
    match = _MEMORY.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise _refuse(
            field_name,
            f"{text!r} is not a memory quantity",
            "write bytes with a unit: 256Mi, 1Gi, 500M",
        )
    try:
        amount = Decimal(match["n"]) * _MEMORY_UNITS[match["unit"] or ""]
    except InvalidOperation:  # pragma: no cover - the pattern admits only plain decimals
        raise _refuse(field_name, f"{text!r} is not a number", "for example: 256Mi") from None
    if amount <= 0:
        raise _refuse(field_name, f"{text!r} must be more than zero", "for example: 256Mi")
    return amount


def _integer(field_name: str, value: object, low: int, high: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _refuse(field_name, f"must be an integer from {low} to {high}, not {value!r}", hint)
    return value


def _check_label(key: object, value: object) -> None:
    if not isinstance(key, str) or not isinstance(value, str):
        raise _refuse(
            "labels", f"{key!r}: keys and values must be strings", "for example: team=risk"
        )
    prefix, _, name = key.rpartition("/")
    if (
        len(name) > 63
        or not _LABEL_KEY_NAME.fullmatch(name)
        or (prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.fullmatch(prefix)))
    ):
        raise _refuse(
            "labels",
            f"key {key!r} is not a Kubernetes label key",
            "use [prefix/]name: name up to 63 letters, digits, '-', '_' or '.', "
            "prefix a DNS subdomain (for example: team, example.com/cost-center)",
        )
    if key.startswith(_RESERVED_LABEL_PREFIXES):
        raise _refuse(
            "labels",
            f"key {key!r} is set by goldenpath",
            "choose a key outside app.kubernetes.io/ and goldenpath.dev/",
        )
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        raise _refuse(
            "labels",
            f"value {value!r} of {key!r} is not a Kubernetes label value",
            "use up to 63 letters, digits, '-', '_' or '.', starting and ending with a "
            "letter or digit",
        )


def _check_model_uri(uri: object) -> None:
    if (
        not isinstance(uri, str)
        or not uri.startswith(MODEL_URI_SCHEMES)
        or len(uri) > MODEL_URI_MAX
        or not _URI_TEXT.fullmatch(uri)
        or uri.split("://", 1)[1] in ("", "/")
    ):
        shown = uri if isinstance(uri, str) and len(uri) <= 80 else f"{str(uri)[:60]}..."
        raise _refuse(
            "model_uri",
            f"{shown!r} is not a model location the pod can read",
            f"use an s3://, pvc:// or https:// URI of at most {MODEL_URI_MAX} characters "
            f"without spaces (default: pvc://{DEFAULT_MODEL_PVC}/sha256/<digest>)",
        )


@dataclass(frozen=True)
class KubernetesTarget:
    """What to deploy, and how, on Kubernetes. Every field is checked when the target is
    built, so a bad one is refused here, with its name, and not by the API server later.

    ``name`` is a goldenpath name (``^[a-z][a-z0-9_-]{0,62}$``); Kubernetes object names are
    DNS-1123 labels, which have no ``_``, so :attr:`object_name` maps ``_`` to ``-``
    (``fraud_api`` becomes ``fraud-api``). ``model_uri`` defaults to the artifact's content
    address on a PersistentVolumeClaim: ``pvc://goldenpath-models/sha256/<onnx_digest>``.
    """

    name: str
    model: str
    version: int
    onnx_digest: str
    namespace: str = "default"
    model_uri: str = ""
    image: str = DEFAULT_IMAGE
    port: int = 8080
    replicas: int = 1
    max_replicas: int = 4
    target_cpu_percent: int = 70
    cpu_request: str = "250m"
    cpu_limit: str = "1"
    memory_request: str = "256Mi"
    memory_limit: str = "1Gi"
    serving: str = "deployment"
    labels: Mapping[str, str] = field(default_factory=dict)
    canary_percent: int | None = None

    def __post_init__(self) -> None:
        validate_name(self.name, kind="deployment name")
        if self.name[-1] in "-_":
            raise _refuse(
                "name",
                f"{self.name!r} ends with {self.name[-1]!r}; a Kubernetes name must end with "
                "a letter or digit",
                f"for example: {self.name.rstrip('-_') or 'fraud-api'}",
            )
        if (
            not isinstance(self.namespace, str)
            or len(self.namespace) > 63
            or not _DNS_LABEL.fullmatch(self.namespace)
        ):
            raise _refuse(
                "namespace",
                f"{self.namespace!r} is not a Kubernetes namespace name",
                "use 1-63 lower-case letters, digits or '-', starting and ending with a "
                "letter or digit (for example: default, ml-serving)",
            )
        validate_name(self.model, kind="model name")
        if not _LABEL_VALUE.fullmatch(self.model):
            raise _refuse(
                "model",
                f"{self.model!r} cannot be a label value (it must end with a letter or digit)",
                "register the model under a name that ends with a letter or digit",
            )
        _integer("version", self.version, 1, MAX_VERSION, "a registered version, e.g. 3")
        if not isinstance(self.onnx_digest, str) or not _DIGEST.fullmatch(self.onnx_digest):
            raise _refuse(
                "onnx_digest",
                f"{str(self.onnx_digest)[:80]!r} is not a sha256 digest",
                "pass the model version's ONNX digest: 64 lower-case hex characters",
            )
        if self.model_uri == "":
            default = f"pvc://{DEFAULT_MODEL_PVC}/sha256/{self.onnx_digest}"
            object.__setattr__(self, "model_uri", default)
        _check_model_uri(self.model_uri)
        if not isinstance(self.image, str) or not _IMAGE.fullmatch(self.image):
            raise _refuse(
                "image",
                f"{str(self.image)[:80]!r} is not a container image reference",
                f"for example: {DEFAULT_IMAGE}",
            )
        _integer("port", self.port, 1024, 65535, "a non-root server listens on 1024 or above")
        _integer("replicas", self.replicas, 1, MAX_REPLICAS_LIMIT, "at least 1, e.g. 2")
        _integer(
            "max_replicas",
            self.max_replicas,
            1,
            MAX_REPLICAS_LIMIT,
            f"at least replicas, at most {MAX_REPLICAS_LIMIT}",
        )
        if self.replicas > self.max_replicas:
            raise _refuse(
                "replicas",
                f"({self.replicas}) is more than max_replicas ({self.max_replicas})",
                f"raise max_replicas to at least {self.replicas} or lower replicas",
            )
        _integer("target_cpu_percent", self.target_cpu_percent, 1, 100, "a percentage, e.g. 70")
        if _cpu("cpu_request", self.cpu_request) > _cpu("cpu_limit", self.cpu_limit):
            raise _refuse(
                "cpu_request",
                f"({self.cpu_request}) is more than cpu_limit ({self.cpu_limit})",
                "Kubernetes refuses a request above its limit: lower it or raise the limit",
            )
        if _memory("memory_request", self.memory_request) > _memory(
            "memory_limit", self.memory_limit
        ):
            raise _refuse(
                "memory_request",
                f"({self.memory_request}) is more than memory_limit ({self.memory_limit})",
                "Kubernetes refuses a request above its limit: lower it or raise the limit",
            )
        if self.serving not in SERVING_MODES:
            raise _refuse(
                "serving",
                f"must be 'deployment' or 'kserve', not {self.serving!r}",
                "set serving: kserve in the stack to render a KServe InferenceService",
            )
        if not isinstance(self.labels, Mapping):
            raise _refuse("labels", "must be a mapping of strings", "for example: team=risk")
        for key, value in self.labels.items():
            _check_label(key, value)
        object.__setattr__(self, "labels", dict(self.labels))
        if self.canary_percent is not None:
            if self.serving != "kserve":
                raise _refuse(
                    "canary_percent",
                    "needs serving 'kserve' (a Deployment has no traffic split)",
                    "set serving: kserve, or leave canary_percent unset",
                )
            _integer("canary_percent", self.canary_percent, 0, 100, "a percentage, e.g. 10")

    @property
    def object_name(self) -> str:
        """The Kubernetes name of every object: ``name`` with ``_`` mapped to ``-``."""
        return self.name.replace("_", "-")


def _labels(target: KubernetesTarget) -> dict[str, str]:
    return {
        LABEL_NAME: APP_NAME,
        LABEL_INSTANCE: target.object_name,
        LABEL_MANAGED_BY: "goldenpath",
        LABEL_MODEL: target.model,
        LABEL_MODEL_VERSION: str(target.version),
        **target.labels,
    }


def _selector(target: KubernetesTarget) -> dict[str, str]:
    """The Deployment's selector: immutable once created, so never the model version."""
    return {LABEL_NAME: APP_NAME, LABEL_INSTANCE: target.object_name}


def _metadata(target: KubernetesTarget) -> dict[str, Any]:
    return {"name": target.object_name, "namespace": target.namespace, "labels": _labels(target)}


def _resources(target: KubernetesTarget) -> dict[str, Any]:
    return {
        "requests": {"cpu": target.cpu_request, "memory": target.memory_request},
        "limits": {"cpu": target.cpu_limit, "memory": target.memory_limit},
    }


def _probe(path: str, *, period: int, initial_delay: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "initialDelaySeconds": initial_delay,
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": 3,
    }


def _security_context() -> dict[str, Any]:
    """The container's: no root, no writes outside the mounted volumes, no privileges."""
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "readOnlyRootFilesystem": True,
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS_USER,
        "runAsGroup": RUN_AS_USER,
        "fsGroup": RUN_AS_USER,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _env(target: KubernetesTarget) -> list[dict[str, str]]:
    return [
        {"name": "GP_DEPLOYMENT", "value": target.name},
        {"name": "GP_MODEL_NAME", "value": target.model},
        {"name": "GP_MODEL_VERSION", "value": str(target.version)},
        {"name": "GP_MODEL_URI", "value": target.model_uri},
        {"name": "GP_MODEL_SHA256", "value": target.onnx_digest},
        {"name": "GP_PORT", "value": str(target.port)},
    ]


def _tmp_volume() -> dict[str, Any]:
    return {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE}}


def _container(target: KubernetesTarget) -> dict[str, Any]:
    return {
        "name": "server",
        "image": target.image,
        "ports": [{"name": "http", "containerPort": target.port, "protocol": "TCP"}],
        "env": _env(target),
        "resources": _resources(target),
        "readinessProbe": _probe(READY_PATH, period=5, initial_delay=2),
        "livenessProbe": _probe(LIVE_PATH, period=10, initial_delay=10),
        "securityContext": _security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }


def _deployment(target: KubernetesTarget) -> dict[str, Any]:
    # No spec.replicas: the HorizontalPodAutoscaler owns the count, and a replicas field in our
    # applied configuration would reset it on every apply.
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(target),
        "spec": {
            "selector": {"matchLabels": _selector(target)},
            "revisionHistoryLimit": 5,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1},
            },
            "template": {
                "metadata": {
                    "labels": _labels(target),
                    "annotations": {ANNOTATION_DIGEST: target.onnx_digest},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": _pod_security_context(),
                    "containers": [_container(target)],
                    "volumes": [_tmp_volume()],
                },
            },
        },
    }


def _service(target: KubernetesTarget) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(target),
        "spec": {
            "type": "ClusterIP",
            "selector": _selector(target),
            "ports": [
                {"name": "http", "port": SERVICE_PORT, "targetPort": "http", "protocol": "TCP"}
            ],
        },
    }


def _autoscaler(target: KubernetesTarget) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(target),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": target.object_name,
            },
            "minReplicas": target.replicas,
            "maxReplicas": target.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {
                            "type": "Utilization",
                            "averageUtilization": target.target_cpu_percent,
                        },
                    },
                }
            ],
        },
    }


def _inference_service(target: KubernetesTarget) -> dict[str, Any]:
    """KServe's InferenceService: KServe fetches ``storageUri`` into the pod and serves it with
    the serving runtime it has for ONNX over the V2 protocol; our image, env and /tmp volume
    are not used here, the security context and probes are."""
    predictor: dict[str, Any] = {
        "minReplicas": target.replicas,
        "maxReplicas": target.max_replicas,
    }
    if target.canary_percent is not None:
        predictor["canaryTrafficPercent"] = target.canary_percent
    predictor.update(
        {
            "automountServiceAccountToken": False,
            "securityContext": _pod_security_context(),
            "model": {
                "modelFormat": {"name": "onnx"},
                "protocolVersion": "v2",
                "storageUri": target.model_uri,
                "ports": [{"name": "http", "containerPort": target.port, "protocol": "TCP"}],
                "resources": _resources(target),
                "readinessProbe": _probe(READY_PATH, period=5, initial_delay=2),
                "livenessProbe": _probe(LIVE_PATH, period=10, initial_delay=10),
                "securityContext": _security_context(),
            },
        }
    )
    metadata = _metadata(target)
    metadata["annotations"] = {ANNOTATION_DIGEST: target.onnx_digest}
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": metadata,
        "spec": {"predictor": predictor},
    }


def render(target: KubernetesTarget) -> list[dict[str, Any]]:
    """The manifests for ``target``, in apply order: Deployment, Service and
    HorizontalPodAutoscaler, or one InferenceService when ``serving`` is ``kserve``."""
    if target.serving == "kserve":
        return [_inference_service(target)]
    return [_deployment(target), _service(target), _autoscaler(target)]


def to_yaml(manifests: Sequence[Mapping[str, Any]]) -> str:
    """Multi-document YAML (``---`` between objects), keys in the order rendered."""
    return "---\n".join(
        yaml.safe_dump(dict(m), sort_keys=False, default_flow_style=False) for m in manifests
    )


def to_json(manifests: Sequence[Mapping[str, Any]]) -> str:
    """A Kubernetes ``List`` of the manifests, as JSON (``kubectl apply -f`` reads it)."""
    return json.dumps({"apiVersion": "v1", "kind": "List", "items": list(manifests)}, indent=2)


# The REST collection of each kind we render: (path prefix, plural).
_COLLECTIONS: dict[tuple[str, str], tuple[str, str]] = {
    ("apps/v1", "Deployment"): ("/apis/apps/v1", "deployments"),
    ("v1", "Service"): ("/api/v1", "services"),
    ("autoscaling/v2", "HorizontalPodAutoscaler"): (
        "/apis/autoscaling/v2",
        "horizontalpodautoscalers",
    ),
    ("serving.kserve.io/v1beta1", "InferenceService"): (
        "/apis/serving.kserve.io/v1beta1",
        "inferenceservices",
    ),
}
_DEPLOYMENT_KINDS = [
    ("autoscaling/v2", "HorizontalPodAutoscaler"),
    ("v1", "Service"),
    ("apps/v1", "Deployment"),
]
_KSERVE_KIND = ("serving.kserve.io/v1beta1", "InferenceService")


def object_path(api_version: str, kind: str, namespace: str, name: str) -> str:
    """The REST path of one namespaced object of a kind :func:`render` produces."""
    collection = _COLLECTIONS.get((api_version, kind))
    if collection is None:
        raise InvalidInput(
            f"cannot apply {kind} ({api_version}): goldenpath applies only "
            + ", ".join(k for _, k in _COLLECTIONS),
            hint="apply other objects with kubectl",
        )
    prefix, plural = collection
    return f"{prefix}/namespaces/{namespace}/{plural}/{name}"


@dataclass(frozen=True)
class RolloutStatus:
    """Whether a deployment serves: ready replicas of the Deployment, or the
    InferenceService's Ready condition."""

    kind: str
    name: str
    namespace: str
    ready: bool
    ready_replicas: int
    replicas: int
    message: str = ""


def _server_message(body: bytes) -> str:
    """The message of a Kubernetes ``Status`` body, or the start of whatever came back."""
    text = body.decode("utf-8", "replace")
    try:
        status = json.loads(text)
    except ValueError:
        return text.strip()[:300] or "no message"
    message = status.get("message") if isinstance(status, dict) else None
    if isinstance(message, str):
        return message[:1000]
    return text.strip()[:300]


def _api_error(status: int, body: bytes, what: str) -> GoldenpathError:
    message = f"Kubernetes API refused {what} (HTTP {status}): {_server_message(body)}"
    if status == 401:
        return Unauthenticated(message, hint="check the kubeconfig's credentials")
    if status == 403:
        return PermissionDenied(
            message, hint="ask a cluster admin for a Role that allows this in the namespace"
        )
    if status == 404:
        return NotFound(
            message,
            hint="check the namespace exists (and, for kserve, that KServe is installed)",
        )
    if status == 409:
        return Conflict(message, hint="another field manager owns these fields; retry or check")
    if status in (400, 415, 422):
        return InvalidInput(message, hint="the manifest does not fit this cluster's API")
    return BackendUnavailable(message, hint="check the cluster is up and reachable")


class KubernetesRuntime:
    """Deployments on a Kubernetes cluster, through the official client's ``ApiClient``."""

    def __init__(self, api_client: ApiClient, *, timeout: float = 30.0) -> None:
        self._api = api_client
        self._timeout = timeout

    @classmethod
    def from_kubeconfig(
        cls, path: str | None = None, *, context: str | None = None
    ) -> KubernetesRuntime:
        """A runtime for the cluster a kubeconfig names (``~/.kube/config`` or
        ``$KUBECONFIG`` by default; ``context`` picks one of its contexts)."""
        client, config = _kubernetes()
        try:
            api = config.new_client_from_config(config_file=path, context=context)
        except (config.ConfigException, OSError, TypeError, ValueError) as exc:
            raise InvalidInput(
                f"cannot load the kubeconfig: {exc}",
                hint="point KUBECONFIG at a valid file, or pass --context with one it defines",
            ) from None
        assert isinstance(api, client.ApiClient)
        return cls(api)

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        query: list[tuple[str, str]] | None = None,
        body: str | None = None,
        content_type: str | None = None,
    ) -> tuple[int, bytes]:
        """One call; returns (status, body) for 2xx, raises one of our errors otherwise."""
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        api: Any = self._api  # the generated client is only partly typed
        try:
            _, url, headers, _, _ = api.param_serialize(
                method,
                path,
                query_params=query or None,
                header_params=headers,
                auth_settings=["BearerToken"],
            )
            response = api.call_api(
                method, url, header_params=headers, body=body, _request_timeout=self._timeout
            )
            data = response.read()
        except GoldenpathError:
            raise
        except Exception as exc:  # urllib3 / ssl / socket errors: the cluster is not there
            host = getattr(self._api.configuration, "host", "?")
            raise BackendUnavailable(
                f"cannot reach the Kubernetes API at {host} for {what}: "
                f"{str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}",
                hint="check the cluster is running and the kubeconfig's server address",
            ) from None
        status = int(response.status)
        if not 200 <= status < 300:
            raise _api_error(status, data, what)
        return status, data

    def apply(
        self, manifests: Sequence[Mapping[str, Any]], *, field_manager: str = "goldenpath"
    ) -> list[dict[str, Any]]:
        """Server-side apply each manifest in order (one PATCH each, ``force=true``: we own
        the fields we render); returns the objects as the server stored them."""
        applied = []
        for manifest in manifests:
            metadata = manifest.get("metadata") or {}
            kind = str(manifest.get("kind", ""))
            name = str(metadata.get("name", ""))
            path = object_path(
                str(manifest.get("apiVersion", "")),
                kind,
                str(metadata.get("namespace", "default")),
                name,
            )
            _, data = self._request(
                "PATCH",
                path,
                what=f"applying {kind} {name}",
                query=[("fieldManager", field_manager), ("force", "true")],
                # JSON is YAML: the apply content type takes it as it is.
                body=json.dumps(manifest),
                content_type=APPLY_CONTENT_TYPE,
            )
            applied.append(_json_object(data))
        return applied

    def delete(self, name: str, namespace: str = "default") -> list[str]:
        """Delete every object a deployment of either serving mode has; returns the kinds
        that existed. Deleting what is already gone is not an error."""
        target_name = name.replace("_", "-")
        deleted = []
        for api_version, kind in [*_DEPLOYMENT_KINDS, _KSERVE_KIND]:
            path = object_path(api_version, kind, namespace, target_name)
            try:
                self._request(
                    "DELETE",
                    path,
                    what=f"deleting {kind} {target_name}",
                    query=[("propagationPolicy", "Foreground")],
                )
            except NotFound:
                continue
            deleted.append(kind)
        return deleted

    def status(self, name: str, namespace: str = "default") -> RolloutStatus:
        """The Deployment's ready replicas, or else the InferenceService's Ready condition."""
        target_name = name.replace("_", "-")
        try:
            _, data = self._request(
                "GET",
                object_path("apps/v1", "Deployment", namespace, target_name),
                what=f"reading Deployment {target_name}",
            )
        except NotFound:
            pass
        else:
            obj = _json_object(data)
            spec, state = obj.get("spec") or {}, obj.get("status") or {}
            wanted = int(spec.get("replicas") or 0)
            ready = int(state.get("readyReplicas") or 0)
            return RolloutStatus(
                "Deployment", target_name, namespace, wanted > 0 and ready >= wanted, ready, wanted
            )
        try:
            _, data = self._request(
                "GET",
                object_path(*_KSERVE_KIND, namespace, target_name),
                what=f"reading InferenceService {target_name}",
            )
        except NotFound:
            raise NotFound(
                f"no deployment {target_name!r} in namespace {namespace!r} on the cluster",
                hint="deploy it with: gp deploy MODEL@ALIAS --target kubernetes",
            ) from None
        obj = _json_object(data)
        state = obj.get("status") or {}
        ready_condition: dict[str, Any] = next(
            (c for c in state.get("conditions") or [] if c.get("type") == "Ready"), {}
        )
        ready = ready_condition.get("status") == "True"
        return RolloutStatus(
            "InferenceService",
            target_name,
            namespace,
            ready,
            1 if ready else 0,
            1,
            str(ready_condition.get("message") or ready_condition.get("reason") or ""),
        )


def _json_object(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data or b"{}")
    except ValueError:
        raise BackendUnavailable(
            "the Kubernetes API answered with something that is not JSON",
            hint="check the kubeconfig's server address points at a Kubernetes API server",
        ) from None
    return value if isinstance(value, dict) else {}


def _kubernetes() -> tuple[Any, Any]:
    """The ``kubernetes`` package's client and config modules, imported only when applying."""
    try:
        from kubernetes import client, config
    except ImportError:
        raise InvalidInput(
            "applying to Kubernetes needs the kubernetes package, which is not installed",
            hint=INSTALL_HINT,
        ) from None
    return client, config


def api_client_for(host: str, *, token: str | None = None, verify_ssl: bool = True) -> ApiClient:
    """An ``ApiClient`` for one API server address (tests, or a cluster without kubeconfig)."""
    client, _ = _kubernetes()
    configuration = client.Configuration()
    configuration.host = host
    configuration.verify_ssl = verify_ssl
    if token:
        configuration.api_key = {"authorization": token}
        configuration.api_key_prefix = {"authorization": "Bearer"}
    api: ApiClient = client.ApiClient(configuration)
    return api
