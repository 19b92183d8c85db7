"""The inference server process: ``python -m goldenpath.serving.server FOLDER``.

Started (and restarted) by the deployment's supervisor. It opens the workspace as the
principal who deployed, loads the spec's versions (ONNX only), serves them with uvicorn
(uvloop, httptools, one process), and every quarter second looks at ``spec.json``: a new
generation is loaded beside the current one and swapped in with one assignment, so requests
in flight finish on the old versions and none fails. On SIGTERM uvicorn stops accepting,
finishes the requests in flight, and the prediction log writes what it holds.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from goldenpath.core.errors import GoldenpathError, PermissionDenied, Unauthenticated
from goldenpath.serving.app import Holder, InferenceApp
from goldenpath.serving.contract_check import row_checks
from goldenpath.serving.features import plan_for
from goldenpath.serving.metrics import ServerMetrics
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


def main(folder: Path) -> int:
    import uvicorn

    from goldenpath.core.actor import Actor
    from goldenpath.serving.prediction_log import PredictionLog
    from goldenpath.workspace import open_workspace

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    spec = DeploymentSpec.read(folder)
    ws = open_workspace(
        os.environ.get("GP_HOME"), actor=Actor(spec.principal), project=spec.project
    )
    holder = Holder()
    metrics = ServerMetrics(spec.name)
    limits = ws.stack.limits
    plog = PredictionLog(folder / "spool", queue_max=limits.prediction_log_queue_max)

    def lookup(rows: Any, refs: list[str], definitions: Path | None) -> Any:
        return ws.features.online(rows, refs, definitions=definitions)

    authorize = (
        TokenCheck(ws.store, spec.project, limits.invoke_token_cache_seconds)
        if spec.require_token
        else None
    )
    app = InferenceApp(
        spec.name,
        holder,
        limits=limits,
        metrics=metrics,
        lookup=lookup,
        log=plog,
        authorize=authorize,
    )
    holder.traffic = load_traffic(ws, spec)
    config = uvicorn.Config(
        app,
        host=spec.host,
        port=spec.port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        access_log=False,
        log_level="warning",
        timeout_graceful_shutdown=10,
        ssl_certfile=spec.tls_cert,
        ssl_keyfile=spec.tls_key,
        backlog=2048,
    )
    server = uvicorn.Server(config)

    async def watch() -> None:
        loaded = spec
        path = folder / "spec.json"
        seen = path.stat().st_mtime_ns
        while not server.should_exit:
            await asyncio.sleep(WATCH_SECONDS)
            try:
                mtime = path.stat().st_mtime_ns
                if mtime == seen:
                    continue
                seen = mtime
                new = DeploymentSpec.read(folder)
                if new.generation == loaded.generation:
                    continue
                traffic = await asyncio.get_running_loop().run_in_executor(
                    None, load_traffic, ws, new, holder.traffic
                )
                holder.traffic = traffic  # the swap: one assignment
                loaded = new
                _state(folder, new, "ready")
                log.info("serving generation %s: %s", new.generation, _describe(traffic))
            except (GoldenpathError, OSError, ValueError) as exc:
                log.error("could not load the new spec: %s", exc)
                _state(folder, loaded, "ready", error=str(exc))

    async def run() -> None:
        task = asyncio.create_task(watch())
        original = server.startup

        async def startup(sockets: Any = None) -> None:
            await original(sockets)
            _state(folder, spec, "ready")
            log.info(
                "serving %s on %s:%s: %s",
                spec.name,
                spec.host,
                spec.port,
                _describe(holder.traffic),
            )

        server.startup = startup  # type: ignore[method-assign]
        gc.collect()
        gc.freeze()  # a full collection over the loaded modules would be the slowest request
        try:
            await server.serve()
        finally:
            holder.draining = True
            task.cancel()
            plog.close()

    import uvloop

    uvloop.run(run())
    return 0


def _describe(traffic: Traffic | None) -> str:
    if traffic is None:
        return "nothing"
    text = f"{traffic.primary.model.name}@{traffic.primary.model.version}"
    if traffic.candidate is not None:
        text += f", {traffic.mode} {traffic.candidate.model.name}@{traffic.candidate.model.version}"
        if traffic.mode == "canary":
            text += f" ({traffic.percent}%)"
    return text


def _state(folder: Path, spec: DeploymentSpec, status: str, error: str | None = None) -> None:
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
        },
    )


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
