"""``gp server``: the control-plane HTTP API."""

from __future__ import annotations

import ipaddress
import os
import threading
from pathlib import Path

import typer

from goldenpath.cli import render
from goldenpath.cli.context import state
from goldenpath.core.errors import InvalidInput

LOOPBACK_NAMES = {"localhost"}


def is_loopback(host: str) -> bool:
    """Whether ``host`` only accepts connections from this machine."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, tls: bool, insecure_bind: bool) -> None:
    """Refuse to listen beyond this machine without TLS, unless told so explicitly."""
    if not is_loopback(host) and not tls and not insecure_bind:
        raise InvalidInput(
            f"refusing to serve plain HTTP on {host}: tokens would cross the network in clear",
            hint="give --tls-cert and --tls-key, or --insecure-bind behind a TLS proxy",
        )


def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback unless told)."),
    port: int = typer.Option(8700, min=1, max=65535, help="Port."),
    tls_cert: Path | None = typer.Option(None, help="TLS certificate (PEM)."),
    tls_key: Path | None = typer.Option(None, help="TLS private key (PEM)."),
    insecure_bind: bool = typer.Option(
        False, "--insecure-bind", help="Allow plain HTTP on a non-loopback address."
    ),
    checkpoint_every: int = typer.Option(
        3600, min=0, help="Seconds between signed audit checkpoints (0: never)."
    ),
    workers: int = typer.Option(
        1, min=1, max=64, help="Server processes: each uses one core (default 1)."
    ),
) -> None:
    """Serve the platform's API (OpenAPI at /docs) with bearer-token authentication.

    Example: gp server --port 8700  # needs: serves until stopped (Ctrl-C)
    """
    import uvicorn

    from goldenpath.core.config import resolve_stack
    from goldenpath.server.app import create_app
    from goldenpath.workspace import open_workspace

    if (tls_cert is None) != (tls_key is None):
        raise InvalidInput("give both --tls-cert and --tls-key")
    check_bind(host, tls_cert is not None, insecure_bind)
    ws = open_workspace(state.workspace)  # the operator: must be a known principal
    stack = resolve_stack(ws.stack.home)
    if checkpoint_every:
        _checkpoint_periodically(ws, checkpoint_every)
    scheme = "https" if tls_cert else "http"
    render.err.print(f"serving {stack.home} on {scheme}://{host}:{port} (docs: /docs)")
    certfile, keyfile = (str(tls_cert), str(tls_key)) if tls_cert else (None, None)
    if workers > 1:
        # Each worker process builds its own app (and engine) for the same workspace; this
        # one supervises them and signs the checkpoints.
        os.environ["GP_HOME"] = str(stack.home)
        uvicorn.run(
            "goldenpath.server.app:app_from_environment",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level="warning",
            ssl_certfile=certfile,
            ssl_keyfile=keyfile,
        )
        return
    uvicorn.run(
        create_app(stack, ws.store),
        host=host,
        port=port,
        log_level="warning",
        ssl_certfile=certfile,
        ssl_keyfile=keyfile,
    )


def _checkpoint_periodically(ws: object, seconds: int) -> threading.Event:
    """Sign the audit head every ``seconds`` in a daemon thread; set the event to stop."""
    from goldenpath.workspace import Workspace

    assert isinstance(ws, Workspace)
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            try:
                ws.audit.checkpoint()
            except Exception as exc:  # keep serving; the next round tries again
                render.err.print(f"audit checkpoint failed: {exc}")

    threading.Thread(target=loop, name="audit-checkpoint", daemon=True).start()
    return stop
