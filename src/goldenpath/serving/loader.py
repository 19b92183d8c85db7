"""What the inference server process is made of: loading a spec's versions (ONNX only) into
:class:`Traffic`, and checking invoke tokens. The process itself
(``python -m goldenpath.server.inference FOLDER``) composes these with a Workspace.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from goldenpath.core.clock import utcnow
from goldenpath.core.errors import PermissionDenied, Unauthenticated
from goldenpath.serving.contract_check import row_checks
from goldenpath.serving.features import plan_for
from goldenpath.serving.models import ServedModel
from goldenpath.serving.problem import Problem
from goldenpath.serving.spec import DeploymentSpec, read_state, write_state
from goldenpath.serving.traffic import Served, Traffic

log = logging.getLogger("goldenpath.serving")
WATCH_SECONDS = 0.25


def load_served(ws: Any, spec: DeploymentSpec, version: int) -> Served:
    """One version, ready to serve: its ONNX session, feature plan and contract checks."""
    info, onnx = ws.models.onnx(f"{spec.model}@{version}")
    model = ServedModel.load(
        info.name, info.version, info.task, info.signature, onnx, info.onnx_digest
    )
    definitions = Path(spec.definitions) if spec.definitions else None
    plan = plan_for(model.inputs, info.lineage, ws.features, definitions)
    contract = None
    datasets = info.lineage.get("datasets") or []
    if datasets:
        contract = ws.datasets.contract(str(datasets[0]["ref"]))
    return Served(model, plan, row_checks(contract, model.inputs))


def load_traffic(ws: Any, spec: DeploymentSpec, current: Traffic | None = None) -> Traffic:
    loaded = {s.model.version: s for s in current.versions} if current else {}
    primary = loaded.get(spec.primary) or load_served(ws, spec, spec.primary)
    candidate = None
    if spec.candidate is not None:
        candidate = loaded.get(spec.candidate) or load_served(ws, spec, spec.candidate)
    return Traffic(spec.generation, primary, candidate, spec.mode, spec.percent)


class TokenCheck:
    """Bearer tokens with ``deployment.invoke`` on the deployment's project, each re-read
    from the metadata store at most every ``seconds`` (revocation honoured within that)."""

    def __init__(self, store: Any, project: str, seconds: float) -> None:
        self.store = store
        self.project = project
        self.seconds = seconds
        self._cache: dict[str, tuple[float, Problem | None]] = {}

    def __call__(self, header: str | None) -> None:
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Problem(
                401,
                "this deployment needs a bearer token with deployment.invoke",
                headers={"WWW-Authenticate": "Bearer"},
            )
        now = time.monotonic()
        cached = self._cache.get(token)
        if cached is None or cached[0] <= now:
            cached = (now + self.seconds, self._check(token))
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = cached
        if cached[1] is not None:
            raise cached[1]

    def _check(self, token: str) -> Problem | None:
        from goldenpath.governance.access import AccessControl
        from goldenpath.governance.principals import authenticate

        try:
            AccessControl.of(self.store, authenticate(self.store, token)).require(
                "deployment.invoke", self.project
            )
        except Unauthenticated as exc:
            return Problem(401, str(exc), headers={"WWW-Authenticate": "Bearer"})
        except PermissionDenied as exc:
            return Problem(403, str(exc))
        return None


def describe(traffic: Traffic | None) -> str:
    if traffic is None:
        return "nothing"
    text = f"{traffic.primary.model.name}@{traffic.primary.model.version}"
    if traffic.candidate is not None:
        text += f", {traffic.mode} {traffic.candidate.model.name}@{traffic.candidate.model.version}"
        if traffic.mode == "canary":
            text += f" ({traffic.percent}%)"
    return text


def record_state(
    folder: Path,
    spec: DeploymentSpec,
    status: str,
    error: str | None = None,
    enforced: dict[str, Any] | None = None,
) -> None:
    """What the server has loaded, and (``enforced``) the security settings it applies now:
    the address it is bound to, TLS, and whether it asks for tokens."""
    previous = read_state(folder) or {}
    write_state(
        folder,
        {
            "generation": spec.generation,
            "status": status,
            "pid": os.getpid(),
            "port": spec.port,
            "error": error,
            "restarts": previous.get("restarts", 0),
            "enforced": enforced if enforced is not None else previous.get("enforced"),
            "identity": previous.get("identity"),
        },
    )


def identity_problem(ws: Any, project: str) -> str | None:
    """Why the deployment's principal (the Workspace's actor) may not read online features
    of ``project`` now, after re-reading its grants; None if it may."""
    access = ws.access_control
    access.reload()
    name = access.principal.name
    if not access.principal.usable(utcnow()):
        return f"the deployment's principal {name} is disabled or expired"
    if not access.allowed("feature.read_online", project):
        return (
            f"the deployment's principal {name} may no longer read online features of "
            f"project {project} (its grant was revoked)"
        )
    return None


def record_identity(folder: Path, problem: str | None) -> None:
    """Record in ``state.json`` why the deployment's principal may not serve (None: it may)."""
    state = read_state(folder) or {}
    write_state(folder, {**state, "identity": problem})
