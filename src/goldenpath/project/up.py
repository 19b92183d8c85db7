"""``gp up``: a project folder carried to a served, checked endpoint (docs/up.md).

It makes the same service calls the single commands make, in order, and adds only the ordering
and the change detection: ingest each ``data:`` entry (a batch already in its dataset writes
nothing) -> apply ``features.py`` -> if anything that feeds the model changed since the last
``gp up`` (a dataset version, a feature definition, ``gp.yaml``, the project's Python files),
train (contract, training set, split, train, evaluate, register) -> materialise -> deploy ->
one prediction through the endpoint, waited for in the prediction log.

The first ``gp up`` promotes the version it trained to ``champion`` through its gates and
serves it. A later one, with a deployment serving, starts the new version as a canary on
``deploy.canary`` percent of the traffic and leaves the decision to ``gp deployments promote``
(or ``rollback``); automatic promotion on canary analysis comes with the monitor. With nothing
changed it trains nothing and says so. A failed step raises with nothing after it done: the
version being served is left as it was. Two ``gp up`` of one project take turns (a lock).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from goldenpath.core.atomic import write_atomically
from goldenpath.core.config import PROJECT_FILE
from goldenpath.core.errors import GoldenpathError, InvalidInput, NotFound
from goldenpath.core.locks import file_lock
from goldenpath.core.names import validate_name
from goldenpath.project.spec import DeploySpec, ProjectSpec, inside, load_project_spec

if TYPE_CHECKING:
    from goldenpath.data.versions import IngestResult
    from goldenpath.serving.service import DeploymentInfo
    from goldenpath.training.pipeline import StepEvent, TrainResult
    from goldenpath.workspace import Workspace

STATE_DIR = "up"  # in the workspace: <home>/up/<project>.json and .lock
CODE_FILES_MAX = 200  # Python files of a project read for its change detection
LOGGED_WAIT_SECONDS = 10.0


@dataclass(frozen=True)
class UpEvent:
    """One finished step of ``gp up``: its name, what it did in one line, its duration."""

    step: str
    detail: str
    seconds: float
    ingested: IngestResult | None = None  # a data step's ingest, for its details


@dataclass
class UpResult:
    """What one ``gp up`` did. ``changed`` is False when nothing fed the model anew (then no
    training and no deploy happened); ``canary`` when the new version went out as a canary."""

    project: str
    changed: bool
    events: builtins.list[UpEvent] = field(default_factory=list)
    ingested: builtins.list[IngestResult] = field(default_factory=list)
    trained: TrainResult | None = None
    deployment: DeploymentInfo | None = None
    canary: bool = False
    request_id: str | None = None
    prediction: Any = None
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "changed": self.changed,
            "steps": [
                {"step": e.step, "detail": e.detail, "seconds": e.seconds} for e in self.events
            ],
            "datasets": [{"ref": r.version.ref, "outcome": r.outcome} for r in self.ingested],
            "model": self.trained.model if self.trained else None,
            "deployment": self.deployment.as_dict() if self.deployment else None,
            "canary": self.canary,
            "request_id": self.request_id,
            "prediction": self.prediction,
            "seconds": self.seconds,
        }


class UpService:
    """``ws.up``: see the module's docstring. Each step is a call of the workspace's own
    services, with their permissions, policies and audit."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def __call__(
        self,
        project_dir: Path | str = ".",
        *,
        on_step: Callable[[UpEvent], None] | None = None,
        on_train_step: Callable[[StepEvent], None] | None = None,
        ingest_options: dict[str, Any] | None = None,
    ) -> UpResult:
        project = Path(project_dir).resolve()
        spec = load_project_spec(project)
        name = spec.name or project.name
        validate_name(name, kind="project name (gp.yaml's name, or the folder's)")
        if spec.deploy is None:
            raise InvalidInput(
                f"{project / PROJECT_FILE} has no deploy: section: gp up needs an endpoint",
                hint="add one, e.g. deploy: {name: fraud-api} (docs/up.md)",
            )
        validate_name(spec.deploy.name, kind="deployment name")
        sources = {
            dataset: (
                inside(project, entry.source, f"data.{dataset}.source"),
                inside(project, entry.contract, f"data.{dataset}.contract")
                if entry.contract
                else None,
            )
            for dataset, entry in spec.data.items()
        }
        features_file = self._features_file(project, spec)
        state_dir = self._ws.stack.home / STATE_DIR
        state_dir.mkdir(exist_ok=True, mode=0o700)
        with file_lock(state_dir / f"{name}.lock"):
            return self._up(
                project,
                name,
                spec,
                spec.deploy,
                sources,
                features_file,
                state_dir / f"{name}.json",
                on_step,
                on_train_step,
                ingest_options or {},
            )

    def _up(
        self,
        project: Path,
        name: str,
        spec: ProjectSpec,
        deploy: DeploySpec,
        sources: dict[str, tuple[Path, Path | None]],
        features_file: Path | None,
        state_path: Path,
        on_step: Callable[[UpEvent], None] | None,
        on_train_step: Callable[[StepEvent], None] | None,
        ingest_options: dict[str, Any],
    ) -> UpResult:
        ws = self._ws
        started = time.perf_counter()
        result = UpResult(project=name, changed=False)

        def done(step: str, detail: str, since: float, ingested: Any = None) -> None:
            event = UpEvent(step, detail, time.perf_counter() - since, ingested)
            result.events.append(event)
            if on_step is not None:
                on_step(event)

        since = time.perf_counter()
        for dataset, (source, contract) in sources.items():
            ingested = ws.datasets.ingest(
                dataset, source, mode=spec.data[dataset].mode, contract=contract, **ingest_options
            )
            result.ingested.append(ingested)
            done("data", f"{ingested.version.ref}: {ingested.outcome}", since, ingested)
            since = time.perf_counter()
        feature_versions: dict[str, int | None] = {}
        if features_file is not None:
            plan = ws.features.apply(features_file)
            feature_versions = {f"{c.kind}:{c.name}": c.version for c in plan.changes}
            pending = [f"{c.kind} {c.name} ({c.status})" for c in plan.pending]
            done("features", ", ".join(pending) if pending else "unchanged", since)

        inputs = _inputs_digest(
            project,
            {r.version.dataset: r.version.version for r in result.ingested},
            feature_versions,
        )
        previous = _read_state(state_path)
        serving = self._serving(deploy.name)
        if (
            previous.get("inputs") == inputs
            and serving is not None
            and previous.get("model") in _refs(serving)
        ):
            done("up", f"nothing changed: {deploy.name} serves {previous['model']}", since)
            result.deployment = serving
            result.seconds = time.perf_counter() - started
            return result

        result.changed = True
        since = time.perf_counter()
        trained = ws.training.train(project, on_step=on_train_step)
        result.trained = trained
        done("train", f"{trained.model} registered (run {trained.run_id})", since)

        since = time.perf_counter()
        first = serving is None
        if first:
            promotion = ws.models.promote(trained.model)
            gates = ", ".join(f"{g.name} passed" for g in promotion.gates) or "no gates"
            done("promote", f"{trained.model} is {promotion.alias} ({gates})", since)
            since = time.perf_counter()
        materialized = ws.features.materialize() if features_file is not None else None
        if materialized is not None:
            written = sum(v.entities_written for v in materialized.views)
            done("materialize", f"{written:,} entities' newest values online", since)
            since = time.perf_counter()
        info = ws.deployments.deploy(
            trained.model,
            deploy.name,
            port=deploy.port,
            stage=deploy.stage,
            canary=None if first else deploy.canary,
            features=features_file,
        )
        result.deployment, result.canary = info, not first
        done(
            "deploy",
            f"{info.name}: serving {info.traffic} at {info.url}"
            + ("" if first else f" (canary {deploy.canary}%)"),
            since,
        )
        since = time.perf_counter()
        result.request_id, result.prediction = self._smoke(info)
        done("smoke", f"one prediction answered and logged (request id {result.request_id})", since)
        _write_state(state_path, {"inputs": inputs, "model": trained.model})
        result.seconds = time.perf_counter() - started
        return result

    @staticmethod
    def _features_file(project: Path, spec: ProjectSpec) -> Path | None:
        if spec.features is not None:
            return inside(project, spec.features, "features")
        default = project / "features.py"
        return default if default.is_file() else None

    def _serving(self, deployment: str) -> DeploymentInfo | None:
        try:
            info = self._ws.deployments.get(deployment)
        except NotFound:
            return None
        return info if info.status == "running" else None

    def _smoke(self, info: DeploymentInfo) -> tuple[str, Any]:
        """One prediction through the endpoint (the deploy's example request), waited for in
        the prediction log, so what is printed can be looked up at once."""
        import httpx

        example = info.example or {"path": "/v1/predict", "body": {"request": {}}}
        answer = httpx.post(info.url + example["path"], json=example["body"], timeout=30)
        if answer.status_code != 200:
            raise GoldenpathError(
                f"the smoke prediction failed: HTTP {answer.status_code}: {answer.text[:300]}",
                hint=f"see the endpoint's log: gp deployments logs {info.name}",
            )
        body = answer.json()
        request_id = str(body.get("request_id") or answer.headers.get("x-request-id", ""))
        deadline = time.monotonic() + LOGGED_WAIT_SECONDS
        while time.monotonic() < deadline:
            try:
                self._ws.predictions.show(request_id)
                break
            except NotFound:
                time.sleep(0.1)
        return request_id, body.get("prediction", body)


def _refs(info: DeploymentInfo) -> set[str]:
    versions = {info.primary_version, info.candidate_version} - {None}
    return {f"{info.model}@{v}" for v in versions}


def _inputs_digest(project: Path, datasets: dict[str, int], features: dict[str, int | None]) -> str:
    """What feeds the model: the dataset versions, the feature definitions' versions, and
    the bytes of gp.yaml and of the project's Python files (the training code)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([datasets, features], sort_keys=True).encode())
    files = sorted(
        p
        for p in project.rglob("*.py")
        if not any(part.startswith((".", "__pycache__")) for part in p.relative_to(project).parts)
    )
    if len(files) > CODE_FILES_MAX:
        raise InvalidInput(
            f"{project} holds more than {CODE_FILES_MAX} Python files",
            hint="gp up reads a project folder's own code; keep data and environments outside it",
        )
    for path in [project / PROJECT_FILE, *files]:
        digest.update(str(path.relative_to(project)).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(path: Path, state: dict[str, Any]) -> None:
    write_atomically(path, json.dumps(state, sort_keys=True).encode(), mode=0o600)
