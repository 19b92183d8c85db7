"""Typed configuration and the one function that resolves precedence.

Precedence, highest first: explicit argument (a CLI flag or ``connect()`` keyword) > ``GP_*``
environment variable > the project's ``gp.yaml`` (its ``stack:`` section) > the workspace's
``config.yaml`` > defaults. :func:`resolve_stack` records where each value came from so
``gp status`` can explain it.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from goldenpath.core.errors import GoldenpathWarning, InvalidInput
from goldenpath.core.limits import Limits, resolve_limits
from goldenpath.core.yamlfile import load_yaml_model

CONFIG_FILE = "config.yaml"
PROJECT_FILE = "gp.yaml"
# The page that lists the keys of config.yaml and of gp.yaml's sections.
CONFIG_DOCS = "docs/configuration.md"
STACK_KEYS = ("metadata", "storage", "online", "runtime", "serving")


class StackSettings(BaseModel):
    """Where things live. Every key is optional at this layer; unset keys fall through."""

    model_config = ConfigDict(extra="forbid")

    metadata: str | None = None
    storage: str | None = None
    online: str | None = None
    runtime: str | None = None
    # On Kubernetes: plain Deployment + Service + HPA, or a KServe InferenceService.
    serving: str | None = None

    @field_validator("serving")
    @classmethod
    def _serving(cls, value: str | None) -> str | None:
        if value is not None and value not in ("deployment", "kserve"):
            raise ValueError("serving must be 'deployment' or 'kserve'")
        return value

    @field_validator("online")
    @classmethod
    def _online(cls, value: str | None) -> str | None:
        if value is not None and value != "sqlite" and not value.startswith("redis://"):
            raise ValueError("online must be 'sqlite' or a redis://host:port/db URL")
        return value

    @field_validator("runtime")
    @classmethod
    def _runtime(cls, value: str | None) -> str | None:
        if value is not None and value not in ("local", "kubernetes"):
            raise ValueError("runtime must be 'local' or 'kubernetes'")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite:", "postgresql:", "postgresql+")):
            raise ValueError("metadata must be a sqlite:/// or postgresql:// URL")
        return value


_DURATION = re.compile(r"([0-9]{1,6})(s|m|h)")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3_600}
MONITOR_INTERVAL_SECONDS = 30.0
MONITOR_WINDOW_SECONDS = 300.0
MONITOR_SECONDS_MIN, MONITOR_SECONDS_MAX = 1.0, 86_400.0


def parse_seconds(text: object, *, what: str) -> float:
    """``"30s"``, ``"5m"``, ``"1h"`` as seconds within 1 s and 24 h; ``ValueError`` naming
    ``what`` otherwise (a pydantic validator turns it into a line-numbered error)."""
    match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(
            f"{what} {text!r} is not a duration: write a whole number and a unit (s, m, h), "
            "e.g. 30s, 5m, 1h"
        )
    seconds = float(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if not MONITOR_SECONDS_MIN <= seconds <= MONITOR_SECONDS_MAX:
        raise ValueError(f"{what} {text!r} is out of range: from 1s to 24h")
    return seconds


class MonitorSettings(BaseModel):
    """``monitor:`` in ``gp.yaml`` or ``config.yaml``: how often a deployment's supervisor
    runs its monitor (``interval``, default 30s) over the last ``window`` (default 5m, at
    least the interval) of its prediction log (docs/monitoring.md)."""

    model_config = ConfigDict(extra="forbid")

    interval: str | None = None
    window: str | None = None

    @field_validator("interval", "window")
    @classmethod
    def _duration(cls, value: str | None, info: Any) -> str | None:
        if value is not None:
            parse_seconds(value, what=f"monitor.{info.field_name}")
        return value


class WorkspaceConfig(StackSettings):
    """The workspace's ``config.yaml``: where things live, and the limits in force."""

    limits: Limits | None = None
    monitor: MonitorSettings | None = None


class ProjectConfig(BaseModel):
    """A project's ``gp.yaml``. Later capabilities add their sections here."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = None
    stack: StackSettings = StackSettings()
    # What the project trains (training/config.py validates it, with line numbers).
    training: dict[str, Any] | None = None
    # What gp up carries to an endpoint (project/spec.py validates them, with line numbers).
    intent: Any = None
    data: Any = None
    features: Any = None
    deploy: Any = None
    # The deployments' monitor (docs/monitoring.md).
    monitor: MonitorSettings | None = None


@dataclass(frozen=True)
class Stack:
    """The resolved stack: every value set, with the layer each one came from."""

    home: Path
    metadata: str
    storage: str
    online: str
    runtime: str
    serving: str = "deployment"
    sources: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    monitor_interval: float = MONITOR_INTERVAL_SECONDS
    monitor_window: float = MONITOR_WINDOW_SECONDS


def default_home() -> Path:
    """The per-user default workspace: ``$XDG_DATA_HOME/goldenpath`` or ``~/.local/share/...``."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "goldenpath"


def resolve_home(explicit: str | os.PathLike[str] | None = None) -> tuple[Path, str]:
    """The workspace directory and where it came from: argument > ``GP_HOME`` > default."""
    if explicit is not None:
        return Path(explicit).expanduser().resolve(), "--workspace"
    env = os.environ.get("GP_HOME")
    if env:
        return Path(env).expanduser().resolve(), "GP_HOME"
    return default_home().resolve(), "default"


def _absolute_storage(value: str, home: Path) -> str:
    if "://" in value:
        return value
    path = Path(value).expanduser()
    return str(path if path.is_absolute() else (home / path).resolve())


def _absolute_metadata(value: str, home: Path) -> str:
    prefix = "sqlite:///"
    if value.startswith(prefix) and value != "sqlite:///:memory:":
        path = Path(value[len(prefix) :]).expanduser()
        return prefix + str(path if path.is_absolute() else (home / path).resolve())
    return value


def _environment_settings() -> StackSettings:
    """The ``GP_METADATA``, ``GP_STORAGE``, ``GP_ONLINE``, ``GP_RUNTIME``, ``GP_SERVING`` layer."""
    values = {key: value for key in STACK_KEYS if (value := os.environ.get(f"GP_{key.upper()}"))}
    try:
        return StackSettings.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        variable = f"GP_{str(first['loc'][0]).upper()}"
        raise InvalidInput(
            f"{variable}: {first['msg']}", hint=f"fix or unset the {variable} environment variable"
        ) from None


def resolve_stack(
    home: Path,
    overrides: StackSettings | None = None,
    *,
    project_dir: Path | None = None,
) -> Stack:
    """Resolve every stack setting by precedence; raise :class:`InvalidInput` on a bad file."""
    defaults = StackSettings(
        metadata=f"sqlite:///{home / 'gp.db'}",
        storage=str(home / "storage"),
        online="sqlite",
        runtime="local",
        serving="deployment",
    )
    config_path = home / CONFIG_FILE
    workspace = (
        load_yaml_model(config_path, WorkspaceConfig, docs=CONFIG_DOCS)
        if config_path.exists()
        else None
    )
    project_path = (project_dir or Path.cwd()) / PROJECT_FILE
    project_config = (
        load_yaml_model(project_path, ProjectConfig, docs=CONFIG_DOCS)
        if project_path.exists()
        else None
    )
    project = project_config.stack if project_config is not None else None
    env = _environment_settings()

    layers: list[tuple[str, StackSettings | None]] = [
        ("argument", overrides),
        ("environment", env),
        (str(project_path), project),
        (str(config_path), workspace),
        ("default", defaults),
    ]
    values: dict[str, str] = {}
    sources: dict[str, str] = {}
    for key in STACK_KEYS:
        for origin, layer in layers:
            value = getattr(layer, key) if layer is not None else None
            if value is not None:
                values[key], sources[key] = value, origin
                break
    return Stack(
        home=home,
        metadata=_absolute_metadata(values["metadata"], home),
        storage=_absolute_storage(values["storage"], home),
        online=values["online"],
        runtime=values["runtime"],
        serving=values["serving"],
        sources=sources,
        **_monitor_settings(
            project_config.monitor if project_config is not None else None,
            workspace.monitor if workspace is not None else None,
        ),
        limits=resolve_limits(
            workspace.limits.model_dump(exclude_unset=True)
            if workspace is not None and workspace.limits is not None
            else None
        ),
    )


def _monitor_settings(
    project: MonitorSettings | None, workspace: MonitorSettings | None
) -> dict[str, float]:
    """``monitor_interval`` and ``monitor_window`` in seconds: ``GP_MONITOR_INTERVAL`` /
    ``GP_MONITOR_WINDOW`` > the project's ``gp.yaml`` > the workspace's ``config.yaml`` >
    30s and 5m. A window shorter than the interval is refused (rows between two windows
    would never be judged)."""
    found: dict[str, float] = {}
    for key, default in (
        ("interval", MONITOR_INTERVAL_SECONDS),
        ("window", MONITOR_WINDOW_SECONDS),
    ):
        variable = f"GP_MONITOR_{key.upper()}"
        env = os.environ.get(variable)
        if env:
            try:
                found[key] = parse_seconds(env, what=variable)
            except ValueError as exc:
                raise InvalidInput(str(exc), hint=f"fix or unset {variable}") from None
            continue
        chosen = next(
            (
                getattr(layer, key)
                for layer in (project, workspace)
                if layer is not None and getattr(layer, key)
            ),
            None,
        )
        found[key] = parse_seconds(chosen, what=f"monitor.{key}") if chosen else default
    if found["window"] < found["interval"]:
        raise InvalidInput(
            f"monitor.window ({found['window']:g} s) is shorter than monitor.interval "
            f"({found['interval']:g} s): the predictions between two windows would never be "
            "judged",
            hint="make the window at least the interval, e.g. interval: 30s, window: 5m",
        )
    return {"monitor_interval": found["interval"], "monitor_window": found["window"]}


def write_workspace_config(home: Path, stack: StackSettings) -> Path:
    """Write ``config.yaml`` for a new workspace (atomically: temp file, then rename)."""
    path = home / CONFIG_FILE
    lines = ["# goldenpath workspace: where things live. See docs/configuration.md."]
    for key in STACK_KEYS:
        value = getattr(stack, key)
        if value is not None:
            lines.append(f"{key}: {value}")
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


# Stack settings accepted today whose backend nothing uses yet, with what will use it. This is
# the one place that says so: `gp status` shows it, and choosing such a backend warns when a
# workspace opens. The issue that builds a backend deletes its line here (the feature store
# deleted the online lines; serving: the runtime lines; object storage: the storage line).
NOT_BUILT_YET: dict[tuple[str, str], str] = {
    ("storage", "remote"): "remote storage roots (s3://) are refused; use a local directory",
}
# The embedded backends a new workspace uses: not choosing anything is never warned about.
EMBEDDED = {
    "metadata": "sqlite",
    "storage": "local",
    "online": "sqlite",
    "runtime": "local",
    "serving": "deployment",
}
IN_EFFECT = "in effect"


class NotBuiltYetWarning(GoldenpathWarning):
    """A stack setting chooses a backend that nothing uses yet (see ``NOT_BUILT_YET``)."""


def backend(key: str, value: str) -> str:
    """The kind of backend a setting's value chooses: ``sqlite``, ``postgresql``, ``local``,
    ``remote``, ``redis`` or ``kubernetes``."""
    if key == "metadata":
        return "postgresql" if value.startswith("postgresql") else "sqlite"
    if key == "storage":
        return "remote" if "://" in value and not value.startswith("file://") else "local"
    if key == "online":
        return "redis" if value.startswith("redis://") else "sqlite"
    return value


def setting_effects(stack: Stack) -> dict[str, str]:
    """Per stack setting: ``in effect``, or ``not built yet: <what will use it>``."""
    effects = {}
    for key in STACK_KEYS:
        pending = NOT_BUILT_YET.get((key, backend(key, getattr(stack, key))))
        effects[key] = IN_EFFECT if pending is None else f"not built yet: {pending}"
    return effects


def not_built_choices(stack: Stack) -> list[str]:
    """One line per setting that chooses a non-embedded backend nothing uses yet."""
    lines = []
    for key in STACK_KEYS:
        chosen = backend(key, getattr(stack, key))
        pending = NOT_BUILT_YET.get((key, chosen))
        if pending is not None and chosen != EMBEDDED[key]:
            origin = stack.sources.get(key, "")
            lines.append(f"{key}: {chosen} is set ({origin}) but not built yet: {pending}")
    return lines


def warn_not_built(stack: Stack) -> None:
    """Warn (:class:`NotBuiltYetWarning`) about each setting that :func:`not_built_choices`
    lists; the CLI prints each as one ``warning:`` line on stderr."""
    for line in not_built_choices(stack):
        warnings.warn(line, NotBuiltYetWarning, stacklevel=3)


def require_local_storage(storage: str) -> Path:
    """The storage root as a local path; remote roots are not supported yet."""
    if "://" in storage and not storage.startswith("file://"):
        raise InvalidInput(
            f"storage {storage!r} is remote; remote storage roots are not built yet",
            hint="set storage to a local directory in the workspace config.yaml",
        )
    return Path(storage.removeprefix("file://"))
