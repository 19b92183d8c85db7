"""``python -m goldenpath.server.worker``: the process that parses and writes uploads.

The server keeps one or more of these warm (see :mod:`goldenpath.server.uploads`) and hands
each upload to one, so a crash in a native reader or writer (a file nested 5,000 deep took the
Delta writer down with SIGSEGV) ends this process and fails one request, not the server.

The protocol is JSON Lines over stdin/stdout, never pickle: the first line is the stack to
open; every later line is one request, answered by one line. The worker opens the same
workspace as the server and acts as the request's principal by authenticating the request's
own bearer token, so it enforces exactly what the server would. Anything a library prints goes
to stderr: stdout carries the protocol only.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import IO, Any

from goldenpath.core.config import Stack
from goldenpath.core.errors import GoldenpathError, PolicyDenied
from goldenpath.core.limits import Limits


def stack_as_json(stack: Stack) -> dict[str, Any]:
    """What the worker needs to open the server's workspace exactly as the server did."""
    return {
        "home": str(stack.home),
        "metadata": stack.metadata,
        "storage": stack.storage,
        "online": stack.online,
        "runtime": stack.runtime,
        "limits": stack.limits.model_dump(),
    }


def stack_from_json(value: dict[str, Any]) -> Stack:
    return Stack(
        home=Path(value["home"]),
        metadata=value["metadata"],
        storage=value["storage"],
        online=value["online"],
        runtime=value["runtime"],
        limits=Limits.model_validate(value["limits"]),
    )


def error_as_json(exc: GoldenpathError) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": type(exc).__name__, "message": exc.message, "hint": exc.hint}
    if isinstance(exc, PolicyDenied):
        body.update(policy=exc.policy, request_id=exc.request_id)
    return body


class _Handler:
    """Runs requests against the workspace opened once, at start."""

    def __init__(self, stack: Stack) -> None:
        from goldenpath.server.auth import Context
        from goldenpath.store.engine import open_store

        self.context = Context(stack, open_store(stack.metadata))
        # Load the data engines now, not on the first upload (the worker is kept warm).
        import goldenpath.data.service  # noqa: F401

    def __call__(self, request: dict[str, Any]) -> Any:
        from fastapi.encoders import jsonable_encoder

        ws = self.context.workspace(f"Bearer {request['token']}", request.get("project"))
        contract = Path(request["contract"]) if request.get("contract") else None
        if request["op"] == "ingest":
            ingested = ws.datasets.ingest(
                request["name"],
                Path(request["path"]),
                mode=request["mode"],
                contract=contract,
                allow_breaking=bool(request["allow_breaking"]),
                force=bool(request.get("force", False)),
            )
            return jsonable_encoder(ingested.as_dict())
        if request["op"] == "validate":
            report = ws.datasets.validate(request["name"], Path(request["path"]), contract=contract)
            return jsonable_encoder(report.as_dict())
        raise ValueError(f"unknown operation {request['op']!r}")


def _answer(out: IO[str], body: dict[str, Any]) -> None:
    out.write(json.dumps(body) + "\n")
    out.flush()


def main() -> None:
    # Keep the real stdout for the protocol and point fd 1 at stderr, so that a native library
    # writing to stdout cannot corrupt an answer.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    # Ctrl-C at the server's terminal reaches the whole process group; the server decides when
    # its workers stop (it closes their stdin).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    handler = _Handler(stack_from_json(json.loads(sys.stdin.readline())))
    _answer(protocol, {"ready": True, "pid": os.getpid()})
    # End of input means the server has gone: exit with it.
    for line in sys.stdin:
        try:
            _answer(protocol, {"ok": handler(json.loads(line))})
        except GoldenpathError as exc:
            _answer(protocol, {"error": error_as_json(exc)})
        except Exception:
            traceback.print_exc(file=sys.stderr)
            _answer(protocol, {"error": {"kind": "internal"}})


if __name__ == "__main__":
    main()
