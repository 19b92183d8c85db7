"""The inference server process: ``python -m goldenpath.server.inference FOLDER``.

Started (and restarted) by the deployment's supervisor (``serving/supervisor.py``). It opens
the workspace as the principal who deployed, loads the spec's versions (ONNX only), serves
them with uvicorn (uvloop, httptools, one process), and every quarter second looks at
``spec.json``: a new generation is loaded beside the current one and swapped in with one
assignment, so requests in flight finish on the old versions and none fails. On SIGTERM
uvicorn stops accepting, finishes the requests in flight, and the prediction log writes what
it holds. It lives with the shells because it composes a Workspace (tests/test_layering.py).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import sys
from pathlib import Path
from typing import Any

from goldenpath.core.errors import GoldenpathError
from goldenpath.serving.app import Holder, InferenceApp
from goldenpath.serving.loader import TokenCheck, describe, load_traffic, record_state
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
        parent = os.getppid()
        while not server.should_exit:
            await asyncio.sleep(WATCH_SECONDS)
            if os.getppid() != parent:  # the supervisor died (SIGKILL): do not outlive it
                log.error("the supervisor is gone: stopping")
                server.should_exit = True
                return
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
                record_state(folder, new, "ready")
                log.info("serving generation %s: %s", new.generation, describe(traffic))
            except (GoldenpathError, OSError, ValueError) as exc:
                log.error("could not load the new spec: %s", exc)
                record_state(folder, loaded, "ready", error=str(exc))

    async def run() -> None:
        task = asyncio.create_task(watch())
        original = server.startup

        async def startup(sockets: Any = None) -> None:
            await original(sockets)
            record_state(folder, spec, "ready")
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
