"""The inference server process: ``python -m goldenpath.server.inference FOLDER``.

Started (and restarted) by the deployment's supervisor (``serving/supervisor.py``). It opens
the workspace as the principal who deployed, loads the spec's versions (ONNX only), serves
them with uvicorn (uvloop, httptools, one process), and every quarter second looks at
``spec.json``: a new generation is loaded beside the current one and swapped in with one
assignment, so requests in flight finish on the old versions and none fails; a generation
that asks for tokens (``--require-token`` on a swap) is enforced from the same moment. The
settings it enforces (bind address, TLS, tokens) are recorded in ``state.json``. On SIGTERM
uvicorn stops accepting, finishes the requests in flight, and the prediction log writes what
it holds. It lives with the shells because it composes a Workspace (tests/test_layering.py).
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

from goldenpath.core.errors import GoldenpathError
from goldenpath.serving.app import Holder, InferenceApp
from goldenpath.serving.loader import (
    TokenCheck,
    describe,
    identity_problem,
    load_traffic,
    record_identity,
    record_state,
)
from goldenpath.serving.metrics import ServerMetrics
from goldenpath.serving.spec import DeploymentSpec

log = logging.getLogger("goldenpath.serving")
WATCH_SECONDS = 0.25


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

    def token_check(wanted: DeploymentSpec) -> Any:
        if not wanted.require_token:
            return None
        return TokenCheck(ws.store, wanted.project, limits.invoke_token_cache_seconds)

    authorize = token_check(spec)
    app = InferenceApp(
        spec.name,
        holder,
        limits=limits,
        metrics=metrics,
        log=plog,
        authorize=authorize,
    )
    holder.traffic = load_traffic(ws, spec)
    metrics.serving(s.model.version for s in holder.traffic.versions)
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

    def enforced() -> dict[str, Any]:
        # The bind address and TLS are the ones uvicorn started with (a swap never changes
        # them: ws.deployments refuses); tokens follow each loaded generation.
        return {
            "host": spec.host,
            "port": spec.port,
            "tls": bool(spec.tls_cert),
            "require_token": app.authorize is not None,
        }

    async def check_identity(known: str | None) -> str | None:
        """Re-read the deployment principal's grants (and whether it is disabled); log and
        record a change of what it may do. Its lookups follow the grants read here."""
        problem = await asyncio.get_running_loop().run_in_executor(
            None, identity_problem, ws, spec.project
        )
        if problem != known:
            if problem is None:
                log.info("the deployment's principal may read online features again")
            else:
                log.error("%s: lookups of online features answer 503", problem)
            record_identity(folder, problem)
        return problem

    async def watch() -> None:
        loaded = spec
        path = folder / "spec.json"
        seen = path.stat().st_mtime_ns
        parent = os.getppid()
        identity: str | None = None
        next_identity = time.monotonic() + limits.deployment_grants_reload_seconds
        while not server.should_exit:
            await asyncio.sleep(WATCH_SECONDS)
            if os.getppid() != parent:  # the supervisor died (SIGKILL): do not outlive it
                log.error("the supervisor is gone: stopping")
                server.should_exit = True
                return
            if time.monotonic() >= next_identity:
                next_identity = time.monotonic() + limits.deployment_grants_reload_seconds
                try:
                    identity = await check_identity(identity)
                except (GoldenpathError, OSError) as exc:
                    log.error("could not re-read the deployment's grants: %s", exc)
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
                if new.require_token != loaded.require_token:
                    app.authorize = token_check(new)  # applies from the next request on
                holder.traffic = traffic  # the swap: one assignment
                metrics.serving(s.model.version for s in traffic.versions)
                loaded = new
                record_state(folder, new, "ready", enforced=enforced())
                log.info("serving generation %s: %s", new.generation, describe(traffic))
            except (GoldenpathError, OSError, ValueError) as exc:
                log.error("could not load the new spec: %s", exc)
                record_state(folder, loaded, "ready", error=str(exc))

    async def run() -> None:
        task = asyncio.create_task(watch())
        original = server.startup

        async def startup(sockets: Any = None) -> None:
            await original(sockets)
            record_state(folder, spec, "ready", enforced=enforced())
            log.info(
                "serving %s on %s:%s: %s",
                spec.name,
                spec.host,
                spec.port,
                describe(holder.traffic),
            )

        server.startup = startup  # type: ignore[method-assign]
        gc.collect()
        gc.freeze()  # a full collection over the loaded modules would be the slowest request
        try:
            await server.serve()
        finally:
            holder.draining = True
            task.cancel()
            app.close()
            plog.close()

    import uvloop

    uvloop.run(run())
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
