"""A strict JSON Schema for KServe's v1beta1 InferenceService, derived from the kserve
package's own Python models, and the validator the tests use with it.

Why derived: the ``kserve`` package cannot be installed next to goldenpath's pinned
dependencies (every release pins python-dateutil<3, pandas<3 and protobuf<7, or an old
starlette, fastapi or httpx; kubernetes>=37 needs python-dateutil>=3), and KServe's CRD YAML is
in no installable package. The kserve wheel's models are OpenAPI-generator classes whose
``openapi_types`` and ``attribute_map`` say every field's JSON key and type, and whose setters
say which fields must not be None. This script reads them from the wheel with ``ast`` (no
kserve code runs), keeps the models an InferenceService can reach, and writes them as JSON
Schema ``$defs`` that refer to Kubernetes' own types (``V1Container`` and so on) in
kubernetes-validate's strict ``_definitions.json``. Every kserve object is closed
(``additionalProperties: false``), so a misspelled or misplaced field fails.

Regenerate (outside the project's venv, with the wheel downloaded by pip)::

    pip download --no-deps kserve==0.21.0 -d /tmp/kserve
    .venv/bin/python -m tests.infra.kserve_schema /tmp/kserve/kserve-0.21.0-py3-none-any.whl
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
import zipfile
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
from referencing import Registry, Resource

SCHEMA = Path(__file__).with_name("kserve_v1beta1_inferenceservice.schema.json")
ROOT = "V1beta1InferenceService"
TABLES = ("openapi_types", "attribute_map")
K8S_DEFS = "https://kubernetes.io/api/_definitions.json"
_REQUIRED = re.compile(r"Invalid value for `(\w+)`, must not be `None`")
_PRIMITIVES: dict[str, dict[str, Any]] = {
    "str": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "datetime": {"type": "string"},
    "object": {},
}


def _models(wheel: Path) -> dict[str, tuple[dict[str, str], dict[str, str], set[str]]]:
    """Every model class in the wheel: (openapi_types, attribute_map, required attributes)."""
    found = {}
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if not (name.startswith("kserve/models/") and name.endswith(".py")):
                continue
            source = archive.read(name).decode("utf-8")
            for node in ast.parse(source).body:
                if not isinstance(node, ast.ClassDef):
                    continue
                tables: dict[str, dict[str, str]] = {}
                for item in node.body:
                    target = item.targets[0] if isinstance(item, ast.Assign) else None
                    if isinstance(target, ast.Name) and target.id in TABLES:
                        tables[target.id] = ast.literal_eval(item.value)  # type: ignore[union-attr]
                if len(tables) == 2:
                    segment = ast.get_source_segment(source, node) or ""
                    required = set(_REQUIRED.findall(segment))
                    found[node.name] = (tables["openapi_types"], tables["attribute_map"], required)
    return found


def _kubernetes_names(k8s_defs: dict[str, Any]) -> dict[str, str]:
    """The client's class name of each Kubernetes definition: ``V1Container`` for
    io.k8s.api.core.v1.Container (core and meta win a clash), and the long form
    ``K8sIoApiAppsV1DeploymentStrategy`` for every definition."""
    names: dict[str, str] = {}
    ranked = sorted(k8s_defs, key=lambda k: (".core.v1." not in k, ".meta.v1." not in k, k))
    for key in ranked:
        parts = key.split(".")
        long = "".join(p[:1].upper() + p[1:] for p in ["k8s", "io", *parts[2:]])
        names.setdefault(long, key)
        names.setdefault(parts[-2].capitalize() + parts[-1], key)
    return names


def derive(wheel: Path, k8s_defs: dict[str, Any]) -> dict[str, Any]:
    """The schema of ``V1beta1InferenceService`` and every kserve model it reaches."""
    models = _models(wheel)
    k8s_names = _kubernetes_names(k8s_defs)
    defs: dict[str, Any] = {}
    pending = [ROOT]
    unchecked: set[str] = set()

    def schema_of(type_name: str) -> dict[str, Any]:
        if type_name in _PRIMITIVES:
            return dict(_PRIMITIVES[type_name])
        if type_name.startswith("list[") and type_name.endswith("]"):
            return {"type": "array", "items": schema_of(type_name[5:-1])}
        if type_name.startswith("dict(str, ") and type_name.endswith(")"):
            return {"type": "object", "additionalProperties": schema_of(type_name[10:-1])}
        if type_name == "ResourceQuantity":
            return {"$ref": f"{K8S_DEFS}#/$defs/io.k8s.apimachinery.pkg.api.resource.Quantity"}
        if type_name in models:
            pending.append(type_name)
            return {"$ref": f"#/$defs/{type_name}"}
        if type_name in k8s_names:
            return {"$ref": f"{K8S_DEFS}#/$defs/{k8s_names[type_name]}"}
        unchecked.add(type_name)  # Knative's types (in the status): not checked
        return {}

    while pending:
        model = pending.pop()
        if model in defs:
            continue
        types, keys, required = models[model]
        defs[model] = {}  # reserve: recursive models
        defs[model] = {
            "type": "object",
            "additionalProperties": False,
            "properties": {keys[attr]: schema_of(kind) for attr, kind in types.items()},
            **({"required": sorted(keys[a] for a in required)} if required else {}),
        }
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:goldenpath:kserve-v1beta1-inferenceservice",
        "description": f"derived by tests/infra/kserve_schema.py from {wheel.name} "
        f"(sha256 {digest}); not checked: {', '.join(sorted(unchecked)) or 'nothing'}",
        "$ref": f"#/$defs/{ROOT}",
        "$defs": dict(sorted(defs.items())),
    }


def kubernetes_versions() -> list[str]:
    """The Kubernetes versions kubernetes-validate ships offline strict schemas for."""
    import kubernetes_validate.utils

    shipped = kubernetes_validate.utils.all_versions()
    return sorted(
        {kubernetes_validate.utils.major_minor(v) for v in shipped},
        key=lambda v: tuple(int(p) for p in v.split(".")),
    )


@cache
def kubernetes_definitions(version: str) -> dict[str, Any]:
    """kubernetes-validate's strict ``_definitions.json`` for ``version`` (``1.37``)."""
    folder = f"kubernetes-json-schema/v{version}.0-local-strict/_definitions.json"
    text = resources.files("kubernetes_validate").joinpath(folder).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def validator(version: str) -> jsonschema.protocols.Validator:
    """A validator of InferenceServices against the derived schema, with the Kubernetes
    types of ``version``."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    registry: Registry[Any] = Registry().with_resources(
        [
            (K8S_DEFS, Resource.from_contents(kubernetes_definitions(version))),
            (schema["$id"], Resource.from_contents(schema)),
        ]
    )
    check: jsonschema.protocols.Validator = jsonschema.Draft202012Validator(
        schema, registry=registry
    )
    return check


if __name__ == "__main__":
    newest = kubernetes_versions()[-1]
    derived = derive(Path(sys.argv[1]), kubernetes_definitions(newest)["$defs"])
    SCHEMA.write_text(json.dumps(derived, indent=1) + "\n", encoding="utf-8")
    print(f"{SCHEMA}: {len(derived['$defs'])} kserve models")
