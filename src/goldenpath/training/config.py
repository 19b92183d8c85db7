"""A project's ``training:`` section of ``gp.yaml``: what ``gp train`` trains on, and how.

```yaml
training:
  model: fraud                 # the registered model's name
  dataset: transactions        # entity rows and labels (name, or name@N to pin a version)
  timestamp: ts                # each row's instant: features are looked up as of it
  timezone: UTC                # for a timestamp column without a zone
  label: is_fraud
  task: classification         # or regression
  feature_service: fraud       # or features: [view:feature, ...]
  columns: [amount]            # dataset columns the model reads as they are
  entry: train.py:train        # file:function
  split: {by: time, validation: 0.2}   # or by: random
  params: {C: 1.0}             # ctx.params; --param C=0.5 overrides, with the same type
  seed: 42
  threshold: 0.5               # for F1
  segments: [currency]         # metrics per value of these columns, too
  time_limit: 600              # seconds; the training process is killed after it
  limits: {memory: 4GiB, cpu_seconds: 1200, open_files: 1024}   # of the training process
  gates: {...}                 # promotion gates (registry/gates.py)
  card: {intended_use: ..., limitations: ..., owners: [...]}
```

Validated with line numbers (``gp.yaml:7: training.split.by: ...``); unknown keys refused.
Types are strict (pydantic's strict mode): a number is a YAML number, never ``true`` (which lax
validation reads as 1: ``time_limit: true`` was a 1-second limit) nor quoted text; an integer
stands for a float, not the other way round. The ``gates:`` mapping is validated here too
(registry/gates.py), so its errors name their line as well.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from goldenpath.core.config import PROJECT_FILE
from goldenpath.core.errors import InvalidInput
from goldenpath.core.names import validate_name
from goldenpath.core.yamlfile import parse_yaml_model, read_text
from goldenpath.registry.gates import GatesConfig

ParamValue = bool | int | float | str
# The page that lists the keys of gp.yaml's training: section (docs/models.md: its gates).
TRAINING_DOCS = "docs/training.md"
_ENTRY = re.compile(r"(?P<file>[A-Za-z0-9_./-]+\.py)(?::(?P<function>[A-Za-z_][A-Za-z0-9_]*))?")
_PARAM_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")
PARAMS_MAX = 100
TIME_LIMIT_MAX = 7 * 24 * 3600
# The address space the training process needs to start and train the smallest model: Python,
# pandas, pyarrow, scikit-learn and the ONNX converters mapped. Measured here (RLIMIT_AS counts
# reserved memory, not used memory): the example project peaks at 1.9 GiB of address space
# (290 MiB resident); under 1 GiB a LogisticRegression's conversion to ONNX fails, and at
# 512-768 MiB the process wedged until its time limit.
MEMORY_MIN_BYTES = 2 << 30
OPEN_FILES_MIN = 64
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_UNITS = {"": 1, "b": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_MEMORY = re.compile(r"\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def memory_bytes(value: int | str) -> int:
    """Bytes from ``2147483648``, ``"2GiB"``, ``"512 MiB"``, ``"4G"`` (units of 1,024)."""
    if isinstance(value, int):
        return value
    found = _MEMORY.fullmatch(value)
    if found is None:
        raise ValueError(f"{value!r} is not an amount of memory (say 2GiB, 512MiB or bytes)")
    return int(float(found["number"]) * _UNITS[found["unit"].lower()])


def shown_bytes(count: int) -> str:
    """``1 GiB``, ``512 MiB``: how a limit is written back."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= size:
            return f"{count / size:,.{0 if count % size == 0 else 1}f} {unit}"
    return f"{count:,} bytes"


class LimitsConfig(BaseModel):
    """``training.limits``: what the training process (and all it starts) may use."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # Address space (RLIMIT_AS), in bytes or with a unit.
    memory: int | str | None = None
    cpu_seconds: int | None = Field(default=None, ge=1, le=TIME_LIMIT_MAX)  # RLIMIT_CPU
    open_files: int | None = Field(default=None, ge=OPEN_FILES_MIN, le=1 << 20)  # RLIMIT_NOFILE
    wall_seconds: int | None = Field(default=None, ge=1, le=TIME_LIMIT_MAX)  # = time_limit

    @field_validator("memory")
    @classmethod
    def _memory(cls, value: int | str | None) -> int | None:
        if value is None:
            return None
        count = memory_bytes(value)
        if count < MEMORY_MIN_BYTES:
            raise ValueError(
                f"{shown_bytes(count)} is below the {shown_bytes(MEMORY_MIN_BYTES)} of address "
                "space the training process needs to start (Python, pandas, pyarrow, "
                f"scikit-learn): give at least {shown_bytes(MEMORY_MIN_BYTES).replace(' ', '')}"
            )
        return count

    def for_child(self) -> dict[str, int | None]:
        """What the keeper applies (training/containment.py)."""
        memory = self.memory
        assert memory is None or isinstance(memory, int)  # the validator made it bytes
        return {"memory": memory, "cpu_seconds": self.cpu_seconds, "open_files": self.open_files}


class SplitConfig(BaseModel):
    """How rows are split into training and validation."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # time: the newest ``validation`` fraction of rows (by timestamp) validates, so no row
    # from the validation period is trained on; random: a seeded random fraction.
    by: Literal["time", "random"] = "time"
    validation: float = Field(default=0.2, gt=0, lt=1)


class TrainingConfig(BaseModel):
    """The ``training:`` section."""

    model_config = ConfigDict(extra="forbid", strict=True)

    model: str
    dataset: str
    timestamp: str
    label: str
    task: Literal["classification", "regression"] = "classification"
    timezone: str | None = None
    feature_service: str | None = None
    features: list[str] | None = None
    columns: list[str] = Field(default_factory=list, max_length=1000)
    entry: str = "train.py:train"
    split: SplitConfig = SplitConfig()
    params: dict[str, ParamValue] = Field(default_factory=dict)
    seed: int = Field(default=0, ge=0, le=2**32 - 1)
    threshold: float = Field(default=0.5, gt=0, lt=1)
    segments: list[str] = Field(default_factory=list, max_length=20)
    time_limit: int = Field(default=3600, ge=1, le=TIME_LIMIT_MAX)
    limits: LimitsConfig = LimitsConfig()
    # The training process's network (TCP, where Landlock ABI 4+ can refuse it): off unless on.
    network: bool = False
    # Environment variables passed on to train.py beside the locale and thread counts
    # (training/sandbox.py); GP_* ones never are.
    environment: list[str] = Field(default_factory=list, max_length=100)
    gates: GatesConfig | None = None
    card: dict[str, Any] = Field(default_factory=dict)

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        return validate_name(value, kind="model name")

    @field_validator("entry")
    @classmethod
    def _entry(cls, value: str) -> str:
        file = Path(value.split(":")[0])
        if not _ENTRY.fullmatch(value) or file.is_absolute() or ".." in file.parts:
            raise ValueError("entry is file.py or file.py:function, inside the project")
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _ENV_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an environment variable name (A-Z, 0-9, _)")
            if name.startswith("GP_"):
                raise ValueError(
                    f"{name}: GP_* variables (tokens, the audit key, the workspace) are never "
                    "passed to train.py"
                )
        return value

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, ParamValue]) -> dict[str, ParamValue]:
        if len(value) > PARAMS_MAX:
            raise ValueError(f"at most {PARAMS_MAX} parameters")
        for key, item in value.items():
            if not _PARAM_KEY.fullmatch(key):
                raise ValueError(f"parameter name {key!r}: letters, digits, _ . - (up to 100)")
            if isinstance(item, float) and not math.isfinite(item):
                raise ValueError(f"parameter {key!r} is not a finite number")
            if isinstance(item, str) and len(item) > 1000:
                raise ValueError(f"parameter {key!r} is longer than 1,000 characters")
        return value

    @model_validator(mode="after")
    def _features(self) -> TrainingConfig:
        if (self.feature_service is None) == (self.features is None):
            raise ValueError("name a feature_service, or list features (view:feature), not both")
        return self

    @model_validator(mode="after")
    def _wall_seconds(self) -> TrainingConfig:
        wall = self.limits.wall_seconds
        if wall is not None:
            if "time_limit" in self.model_fields_set and self.time_limit != wall:
                raise ValueError(
                    f"time_limit ({self.time_limit}) and limits.wall_seconds ({wall}) are the "
                    "same limit: give one"
                )
            self.time_limit = wall
        return self

    @property
    def entry_file(self) -> str:
        return self.entry.split(":")[0]

    @property
    def entry_function(self) -> str:
        _, _, function = self.entry.partition(":")
        return function or "train"


class _ProjectFile(BaseModel):
    # Other sections are the stack's and later capabilities' (core.config.ProjectConfig
    # refuses keys nobody knows).
    model_config = ConfigDict(extra="ignore")

    training: TrainingConfig | None = None


def load_training_config(project_dir: Path) -> TrainingConfig:
    """The project's ``training:`` section; a clear error if there is none or it is wrong."""
    path = project_dir / PROJECT_FILE
    if not path.is_file():
        raise InvalidInput(
            f"no {PROJECT_FILE} in {project_dir}",
            hint="run gp train in a project directory, or name one with --project DIR "
            "(docs/training.md shows a gp.yaml)",
        )
    text = read_text(path)
    parsed = parse_yaml_model(text, _ProjectFile, source=str(path), docs=TRAINING_DOCS)
    if parsed.training is None:
        raise InvalidInput(
            f"{path} has no training: section",
            hint="say what to train on: docs/training.md shows one",
        )
    return parsed.training


def apply_param_overrides(
    params: dict[str, ParamValue], overrides: list[str]
) -> dict[str, ParamValue]:
    """``params`` with ``key=value`` overrides applied. A value is read as YAML (``3``,
    ``0.5``, ``true``, ``text``) and must have the type of the value it replaces (an int may
    replace a float); an unknown key is refused, since a misspelt one would silently change
    nothing."""
    result = dict(params)
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InvalidInput(f"--param {item!r}: expected key=value", hint="e.g. --param C=0.5")
        if key not in params:
            known = ", ".join(sorted(params)) or "none"
            raise InvalidInput(
                f"--param {key}: no such parameter in gp.yaml's training.params",
                hint=f"known parameters: {known} (add it to training.params first)",
            )
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        expected = params[key]
        result[key] = _coerce(key, value, raw, expected)
    return result


_KINDS = {bool: "true or false", int: "an integer", float: "a number", str: "text"}


def _coerce(key: str, value: Any, raw: str, expected: ParamValue) -> ParamValue:
    def wrong() -> InvalidInput:
        return InvalidInput(
            f"--param {key}={raw}: {key} is {type(expected).__name__} "
            f"(gp.yaml has {expected!r}), not {type(value).__name__}",
            hint=f"give {_KINDS[type(expected)]}, e.g. --param {key}={expected}",
        )

    if isinstance(expected, bool):
        if not isinstance(value, bool):
            raise wrong()
        return value
    if isinstance(expected, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise wrong()
        return value
    if isinstance(expected, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise wrong()
        if not math.isfinite(float(value)):
            raise wrong()
        return float(value)
    return raw if not isinstance(value, str) else value
