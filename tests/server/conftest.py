"""A real control-plane server (uvicorn on 127.0.0.1, a free port) over a test workspace."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import uvicorn
from fastapi import FastAPI

import goldenpath
from goldenpath.server.app import create_app


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    url: str
    ws: goldenpath.Workspace


@contextmanager
def serving(ws: goldenpath.Workspace, app: FastAPI | None = None) -> Iterator[str]:
    """Serve ``ws`` (or ``app``) with uvicorn on a free 127.0.0.1 port; yield its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app or create_app(ws.stack, ws.store), host="127.0.0.1", port=port, log_level="warning"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        running.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def server(ws: goldenpath.Workspace) -> Iterator[Running]:
    with serving(ws) as url:
        yield Running(url, ws)
