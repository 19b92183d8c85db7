"""A deployment's runtime folder and the spec its server loads.

``<workspace>/deployments/<name>/``:

- ``spec.json``: what to serve (written atomically by ``ws.deployments``; the server reloads
  it when its ``generation`` changes, so a version swap needs no restart);
- ``state.json``: what the server has loaded (written by the server: generation, pid, port);
- ``supervisor.pid``, ``supervisor.log``, ``server.log``;
- ``spool/``: prediction-log batches the supervisor moves into the Delta table;
- ``spool.dead-letter/``: the records a flush could not append (they did not fit the log's
  schema), one file per spool batch, one JSON line each with the reason; and each spool file
  the flush could not read at all, moved there as it was (``<batch>.unreadable``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from goldenpath.core.atomic import write_atomically
from goldenpath.core.names import validate_name

SPEC = "spec.json"
DEAD_LETTER_SUFFIX = ".dead-letter"
"""Beside the spool ``DIR``, ``DIR.dead-letter/`` holds the records a flush could not append."""
_BATCH_FILE = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}\.ndjson")
UNREADABLE_SUFFIX = ".unreadable"
"""A spool file the flush could not read is moved into the dead letters under its name + this."""
_UNREADABLE_FILE = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}\.ndjson\.unreadable")
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
    monitor_interval: float = 30.0  # seconds between the supervisor's monitor runs
    monitor_window: float = 300.0  # seconds of the log each run judges
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


def dead_letter_dir(spool_dir: Path) -> Path:
    """Where the flush of ``spool_dir`` puts the records it could not append (beside it)."""
    spool_dir = Path(spool_dir)
    return spool_dir.with_name(spool_dir.name + DEAD_LETTER_SUFFIX)


_dead_letter_lines: dict[tuple[str, int, int], int] = {}


def dead_letter_count(spool_dir: Path) -> int:
    """The records the flushes of ``spool_dir`` could not append, an unreadable spool file
    counting as one (its records are unknown). Cheap when there are none: one failed directory
    listing; each file is counted once."""
    try:
        entries = list(os.scandir(dead_letter_dir(spool_dir)))
    except (FileNotFoundError, NotADirectoryError):
        return 0
    total = 0
    for entry in entries:
        if _UNREADABLE_FILE.fullmatch(entry.name):
            total += 1
            continue
        if not _BATCH_FILE.fullmatch(entry.name):
            continue
        try:
            info = entry.stat()
            key = (entry.path, info.st_size, info.st_mtime_ns)
            count = _dead_letter_lines.get(key)
            if count is None:
                with open(entry.path, "rb") as handle:
                    count = _dead_letter_lines[key] = handle.read().count(b"\n")
        except FileNotFoundError:
            continue
        total += count
    return total
