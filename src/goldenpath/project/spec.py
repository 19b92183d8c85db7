"""What ``gp up`` reads from a project's ``gp.yaml`` beside ``training:`` (docs/up.md):

``data:`` (each dataset: its file, contract and mode), ``features:`` (the definitions file),
``deploy:`` (the endpoint) and a one-sentence ``intent:``. Each section is strict (unknown
keys and wrong types are refused with the file and line); every path is relative to the
project folder and must stay inside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from goldenpath.core.config import PROJECT_FILE
from goldenpath.core.errors import InvalidInput
from goldenpath.core.yamlfile import parse_yaml_model, read_text

UP_DOCS = "docs/up.md"


class DataSpec(BaseModel):
    """One dataset of the project: ingested from ``source`` at each ``gp up`` (a batch already
    in the dataset is recognised and writes nothing)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    source: str = Field(min_length=1, max_length=1_000)
    contract: str | None = Field(None, min_length=1, max_length=1_000)
    mode: Literal["append", "overwrite"] = "append"


class DeploySpec(BaseModel):
    """The project's endpoint: the first ``gp up`` serves the model it trains; a later one
    with a new model starts it as a canary on ``canary`` percent of the traffic."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=63)
    port: int | None = Field(None, ge=1024, le=65535)
    stage: Literal["dev", "prod"] = "dev"
    canary: int = Field(10, ge=1, le=99)


class ProjectSpec(BaseModel):
    """The sections of ``gp.yaml`` that ``gp up`` reads (``training:`` is training's)."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = Field(None, min_length=1, max_length=63)
    intent: str | None = Field(None, max_length=500)
    data: dict[str, DataSpec] = Field(default_factory=dict, max_length=50)
    features: str | None = Field(None, min_length=1, max_length=1_000)
    deploy: DeploySpec | None = None


def load_project_spec(project_dir: Path) -> ProjectSpec:
    """The project's ``gp.yaml`` sections for ``gp up``; a clear error if it is missing."""
    path = project_dir / PROJECT_FILE
    if not path.is_file():
        raise InvalidInput(
            f"no {PROJECT_FILE} in {project_dir}: gp up runs in a project folder",
            hint=f"cd into one, or name it: gp up DIR ({UP_DOCS} shows a gp.yaml)",
        )
    return parse_yaml_model(read_text(path), ProjectSpec, source=str(path), docs=UP_DOCS)


def inside(project_dir: Path, relative: str, what: str) -> Path:
    """``relative`` resolved in ``project_dir``; refused if it leaves the folder or is not a
    file."""
    root = project_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        raise InvalidInput(
            f"{PROJECT_FILE}: {what} {relative!r} is outside the project folder",
            hint="paths in gp.yaml are relative to the project folder and stay inside it",
        )
    if not path.is_file():
        raise InvalidInput(f"{PROJECT_FILE}: {what} {relative!r}: no such file in {root}")
    return path
