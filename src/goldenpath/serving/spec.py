"""A deployment's runtime folder and the spec its server loads.

``<workspace>/deployments/<name>/``:

- ``spec.json``: what to serve (written atomically by ``ws.deployments``; the server reloads
  it when its ``generation`` changes, so a version swap needs no restart);
- ``state.json``: what the server has loaded (written by the server: generation, pid, port);
- ``supervisor.pid``, ``supervisor.log``, ``server.log``;
- ``spool/``: prediction-log batches the supervisor moves into the Delta table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from goldenpath.core.atomic import write_atomically
from goldenpath.core.names import validate_name

SPEC = "spec.json"
STATE = "state.json"


@dataclass(frozen=True)
class DeploymentSpec:
    name: str
    project: str
    model: str
    generation: int
    host: str
    port: int
    principal: str
    stage: str
    primary: int
    candidate: int | None = None
    mode: str | None = None  # canary | shadow
    percent: int = 0
    definitions: str | None = None  # features.py, for on-demand features
    require_token: bool = False
    tls_cert: str | None = None
    tls_key: str | None = None
    table_uri: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    def write(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / SPEC, json.dumps(asdict(self), indent=1).encode())

    @classmethod
    def read(cls, folder: Path) -> DeploymentSpec:
        data = json.loads((folder / SPEC).read_text(encoding="utf-8"))
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def folder_of(home: Path, name: str) -> Path:
    return home / "deployments" / validate_name(name, kind="deployment name")


def read_state(folder: Path) -> dict[str, Any] | None:
    try:
        return dict(json.loads((folder / STATE).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def write_state(folder: Path, state: dict[str, Any]) -> None:
    write_atomically(folder / STATE, json.dumps(state).encode())
