"""The workspace: one platform instance (metadata database + storage root + stack config).

``init_workspace`` creates one; ``open_workspace`` opens an existing one. Both resolve who is
acting (a bearer token, or a principal name trusted from the local OS) and hand back a
:class:`Workspace` whose services (``ws.datasets``, ``ws.audit``, ``ws.access``,
``ws.principals``) check that principal's permissions on every call.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from goldenpath.core import signing
from goldenpath.core.actor import Actor, default_actor
from goldenpath.core.clock import utcnow
from goldenpath.core.config import (
    CONFIG_FILE,
    Stack,
    StackSettings,
    require_local_storage,
    resolve_home,
    resolve_stack,
    setting_effects,
    warn_not_built,
    write_workspace_config,
)
from goldenpath.core.errors import NotFound, Unauthenticated
from goldenpath.core.names import validate_name
from goldenpath.governance import audit
from goldenpath.governance.access import AccessControl, AccessService, insert_grant
from goldenpath.governance.approvals import PolicyService
from goldenpath.governance.principals import (
    PrincipalService,
    authenticate,
    insert_principal,
    principal_by_name,
)
from goldenpath.governance.roles import WORKSPACE_PERMISSIONS
from goldenpath.store.engine import MetadataStore, open_store
from goldenpath.store.tables import (
    audit_events,
    dataset_versions,
    datasets,
    feature_definitions,
    model_versions,
    models,
    principals,
    runs,
)
from goldenpath.store.tables import deployments as deployments_table

if TYPE_CHECKING:
    from goldenpath.data.service import DatasetService
    from goldenpath.features.online.base import OnlineStore
    from goldenpath.features.service import FeatureStore
    from goldenpath.lineage.service import LineageService
    from goldenpath.monitoring.service import MonitoringService
    from goldenpath.project.up import UpService
    from goldenpath.registry.service import ModelRegistry
    from goldenpath.serving.service import DeploymentService, PredictionService
    from goldenpath.training.pipeline import TrainingService
    from goldenpath.training.runs import RunService

DEFAULT_PROJECT = "default"


@dataclass(frozen=True)
class WorkspaceStatus:
    """What ``gp status`` shows: who acts where, and for workspace admins the stack, where each
    setting came from, and object counts.

    ``home``, ``stack``, ``sources`` and ``counts`` are None for anyone else: absolute paths
    and workspace-wide counts describe the installation, not the caller's projects.
    """

    principal: str
    project: str
    version: str = ""
    home: str | None = None
    stack: dict[str, str] | None = None
    sources: dict[str, str] | None = None
    counts: dict[str, int] | None = None
    # Per setting: "in effect", or "not built yet: ..." (core.config.NOT_BUILT_YET).
    effect: dict[str, str] | None = None
    # What training runs are held to here (training/sandbox.py), or why they are not.
    training_sandbox: str | None = None
    # With status(health=True): each deployment you may read, its traffic and, when it
    # runs, its versions' health in one line (ws.deployments.health).
    deployments: list[dict[str, Any]] | None = None

    def as_dict(self) -> dict[str, Any]:
        shown = {
            "version": self.version,
            "principal": self.principal,
            "project": self.project,
            "home": self.home,
            "stack": self.stack,
            "sources": self.sources,
            "effect": self.effect,
            "counts": self.counts,
            "training_sandbox": self.training_sandbox,
            "deployments": self.deployments,
        }
        return {key: value for key, value in shown.items() if value is not None}


class _Lazy:
    """A service made by ``make`` when one of its attributes is first asked for."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make

    def __getattr__(self, name: str) -> Any:
        return getattr(self._make(), name)


def _deployment_line(info: Any, health: Any) -> dict[str, Any]:
    return {
        "name": info.name,
        "status": info.status,
        "serving": info.traffic,
        "url": info.url,
        "health": None if health is None else health.line,
    }


def redact_url(url: str) -> str:
    """A URL without its password (``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url


def online_namespace(metadata_url: str) -> str:
    """The Redis key prefix of a workspace's online values: one per metadata database (the
    workspace's identity), so workspaces sharing a Redis database never mix values, and every
    process of one workspace (CLI, server) finds the same keys."""
    import hashlib

    return "gp:" + hashlib.sha256(redact_url(metadata_url).encode()).hexdigest()[:10] + ":"


_ONLINE_STORES: dict[tuple[str, str, str], OnlineStore] = {}
_ONLINE_LOCK = threading.Lock()


def shared_online_store(setting: str, home: Path, metadata_url: str) -> OnlineStore:
    """The online store a workspace's ``online`` setting names, opened once per process.

    The server makes a :class:`Workspace` per request: each would otherwise open (and leave to
    the garbage collector) its own SQLite connection or Redis pool. The stores are safe to
    share between threads (SQLite: a connection per thread; Redis: a connection pool).
    """
    from goldenpath.features.online import open_online_store

    namespace = online_namespace(metadata_url)
    key = (setting, str(home), namespace)
    with _ONLINE_LOCK:
        store = _ONLINE_STORES.get(key)
        if store is None:
            store = _ONLINE_STORES[key] = open_online_store(setting, home, namespace=namespace)
    return store


class Workspace:
    """An open workspace, acting as one principal. Use :func:`goldenpath.connect`."""

    def __init__(
        self,
        stack: Stack,
        store: MetadataStore,
        access: AccessControl,
        project: str | None = None,
    ) -> None:
        """``project``: where new objects go; ``None`` (not named) means ``default``."""
        self.stack = stack
        self.store = store
        self.access_control = access
        self.actor = Actor(access.principal.name, kind=access.principal.kind)
        self.project = validate_name(project or DEFAULT_PROJECT, kind="project name")
        self.project_named = project is not None
        self.storage_root = require_local_storage(stack.storage)

    @cached_property
    def datasets(self) -> DatasetService:
        """Versioned datasets with data contracts."""
        from goldenpath.data.service import DatasetService

        return DatasetService(
            self.store,
            self.storage_root,
            self.actor,
            self.access_control,
            self.project,
            self.policies,
            project_named=self.project_named,
            limits=self.stack.limits,
        )

    @cached_property
    def features(self) -> FeatureStore:
        """The feature store: definitions, the catalog and point-in-time training sets."""
        from goldenpath.features.service import FeatureStore

        return FeatureStore(
            self.store,
            self.storage_root,
            self.actor,
            self.access_control,
            self.project,
            self.datasets,
            self.policies,
            limits=self.stack.limits,
            online_store=self._online_store,
        )

    @cached_property
    def models(self) -> ModelRegistry:
        """The model registry: versions, aliases, promotion gates, ONNX scoring."""
        from goldenpath.registry.service import ModelRegistry

        return ModelRegistry(
            self.store,
            self.storage_root,
            self.actor,
            self.access_control,
            self.project,
            self.policies,
            limits=self.stack.limits,
        )

    @cached_property
    def runs(self) -> RunService:
        """Runs: start one (``with ws.runs.start() as run``), get, list (filter, order), compare."""
        from goldenpath.training.runs import RunService

        return RunService(
            self.store,
            self.storage_root,
            self.actor,
            self.access_control,
            self.project,
            limits=self.stack.limits,
        )

    @cached_property
    def deployments(self) -> DeploymentService:
        """Deployments: serve a model version (gp deploy), canary, shadow, promote, rollback."""
        from goldenpath.serving.service import DeploymentService

        return DeploymentService(
            self.store,
            self.stack.home,
            self.storage_root,
            self.actor,
            self.access_control,
            # Built on first use: listing deployments (gp status) needs neither the registry
            # nor the feature store, whose modules load the data engines.
            _Lazy(lambda: self.models),
            _Lazy(lambda: self.features),
            self.policies,
            serving=self.stack.serving,
            monitor=(self.stack.monitor_interval, self.stack.monitor_window),
        )

    @cached_property
    def up(self) -> UpService:
        """``ws.up(project_dir)``: the project carried to a served, checked endpoint (gp up)."""
        from goldenpath.project.up import UpService

        return UpService(self)

    @cached_property
    def predictions(self) -> PredictionService:
        """The prediction log: tail a deployment's, show one by request id."""
        from goldenpath.serving.service import PredictionService

        return PredictionService(self.deployments, self.access_control, self.stack.home)

    @cached_property
    def lineage(self) -> LineageService:
        """Lineage queries: upstream of an object (a prediction down to each value's dataset
        version), downstream (what depends on it); OpenLineage run events."""
        from goldenpath.lineage.service import LineageService

        return LineageService(
            self.store, self.access_control, self.storage_root, self.stack.home, self.stack.limits
        )

    @cached_property
    def monitoring(self) -> MonitoringService:
        """The monitor: drift and data quality of a deployment's traffic (gp monitor)."""
        from goldenpath.monitoring.service import MonitoringService

        return MonitoringService(
            self.store,
            self.stack.home,
            self.access_control,
            self.deployments,
            _Lazy(lambda: self.models),
            self.stack.limits,
        )

    def _online_store(self) -> OnlineStore:
        return shared_online_store(self.stack.online, self.stack.home, self.stack.metadata)

    @cached_property
    def training(self) -> TrainingService:
        """The training pipeline (gp train, gp runs rerun)."""
        from goldenpath.training.pipeline import TrainingService

        return TrainingService(
            self.datasets,
            self.features,
            self.runs,
            self.models,
            self.storage_root,
            protected=self._protected_from_training(),
        )

    def _protected_from_training(self) -> list[Path]:
        """What train.py may never read: the workspace, its databases, the audit key."""
        key = signing.key_path(self.stack.home)
        found = [self.stack.home, key, key.with_suffix(".keys.json")]
        for url in (self.stack.metadata, self.stack.online):
            if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
                database = Path(url[len("sqlite:///") :])
                found += [database.with_name(database.name + s) for s in ("", "-wal", "-shm")]
        return found

    @cached_property
    def audit(self) -> audit.AuditService:
        """The audit trail: list, verify, checkpoint, export; rotate its signing key."""
        return audit.AuditService(
            self.store, signing.key_path(self.stack.home), self.actor, self.access_control
        )

    @cached_property
    def access(self) -> AccessService:
        """Roles, grants and projects."""
        return AccessService(self.store, self.actor, self.access_control, self.policies)

    @cached_property
    def policies(self) -> PolicyService:
        """Policies (CEL, checked before actions) and approvals."""
        return PolicyService(
            self.store,
            self.stack.home / "policies",
            self.actor,
            self.access_control,
            self.stack.limits,
        )

    @cached_property
    def principals(self) -> PrincipalService:
        """Principals (users, service accounts, agents) and tokens."""
        return PrincipalService(
            self.store, self.actor, self.access_control, self.stack.limits, self.policies
        )

    def status(self, *, health: bool = False, token: str | None = None) -> WorkspaceStatus:
        """Who acts where; for a workspace admin also the stack and how many objects it holds.
        With ``health``, each deployment you may read with its versions' health in one line
        (its server's counters read now; ``token`` for servers that ask for one)."""
        from goldenpath import __version__
        from goldenpath.training import sandbox

        shown = self._deployment_lines(token) if health else None
        if not all(self.access_control.allowed(p) for p in WORKSPACE_PERMISSIONS):
            return WorkspaceStatus(self.actor.name, self.project, __version__, deployments=shown)
        views = (feature_definitions.c.namespace == "view") & feature_definitions.c.removed_at.is_(
            None
        )
        with self.store.connect() as conn:
            counts = {
                name: conn.execute(
                    select(func.count()).select_from(table).where(*where)
                ).scalar_one()
                for name, table, where in (
                    ("datasets", datasets, ()),
                    ("dataset_versions", dataset_versions, ()),
                    ("feature_views", feature_definitions, (views,)),
                    ("runs", runs, ()),
                    ("models", models, ()),
                    ("model_versions", model_versions, ()),
                    ("deployments", deployments_table, ()),
                    ("principals", principals, ()),
                    ("audit_events", audit_events, ()),
                )
            }
        stack = {
            "metadata": redact_url(self.stack.metadata),
            "storage": self.stack.storage,
            "online": redact_url(self.stack.online),
            "runtime": self.stack.runtime,
            "serving": self.stack.serving,
        }
        return WorkspaceStatus(
            self.actor.name,
            self.project,
            __version__,
            home=str(self.stack.home),
            stack=stack,
            sources=dict(self.stack.sources),
            counts=counts,
            effect=setting_effects(self.stack),
            training_sandbox=sandbox.summary(),
            deployments=shown,
        )

    def _deployment_lines(self, token: str | None) -> list[dict[str, Any]]:
        with self.store.connect() as conn:
            if conn.execute(select(deployments_table.c.id).limit(1)).first() is None:
                return []  # the common first look: nothing to load the service for
        found = self.deployments.list()
        if not any(info.status == "running" for info in found):
            return [_deployment_line(info, None) for info in found]
        health = {h.deployment: h for h in self.deployments.health_all(token=token)}
        return [_deployment_line(info, health.get(info.name)) for info in found]

    def close(self) -> None:
        """Release database connections."""
        self.store.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({str(self.stack.home)!r}, principal={self.actor.name!r})"


def _bootstrap_admin(store: MetadataStore, actor: Actor) -> None:
    """Make ``actor`` the workspace admin if nobody is (a new or upgraded workspace)."""
    with store.connect() as conn:  # the common case: a read, without SQLite's write lock
        if conn.execute(select(principals.c.id).limit(1)).first() is not None:
            return
    with store.begin() as conn:
        if conn.execute(select(principals.c.id).limit(1)).first() is not None:
            return
        admin = insert_principal(conn, actor, actor.name, "user")
        insert_grant(conn, actor, admin, "admin", "workspace", "*")


def _access(store: MetadataStore, actor: Actor | None, token: str | None) -> AccessControl:
    if token is not None:
        return AccessControl.of(store, authenticate(store, token))
    who = actor or default_actor()
    _bootstrap_admin(store, who)
    with store.connect() as conn:
        named = principal_by_name(conn, who.name)
    if named is None:
        raise Unauthenticated(
            f"no principal named {who.name!r} in this workspace",
            hint=f"an admin adds it with: gp principals add {who.name}",
        )
    return AccessControl(store, named)


def init_workspace(
    workspace: str | os.PathLike[str] | None = None,
    *,
    settings: StackSettings | None = None,
    actor: Actor | None = None,
    token: str | None = None,
    project: str | None = None,
) -> tuple[Workspace, bool]:
    """Create the workspace (or open it if it exists); return it and whether it was created.

    The creator becomes the workspace's admin.
    """
    home, _ = resolve_home(workspace)
    config_path = home / CONFIG_FILE
    created = not config_path.exists()
    audit_key = None
    if created:
        home.mkdir(parents=True, exist_ok=True)
        # The audit signing key is made here, once (first, so that a key that cannot be
        # written leaves no workspace behind); later a missing key is an error, never
        # silently a new one (gp audit rotate-key replaces it on purpose).
        from goldenpath.governance.audit_keys import AuditKeys  # only a new workspace signs

        key = AuditKeys(signing.key_path(home)).create_first(utcnow().isoformat())
        audit_key = signing.key_id(key.public_key())
        write_workspace_config(home, settings or StackSettings())
    stack = resolve_stack(home, settings)
    warn_not_built(stack)
    store = open_store(stack.metadata)
    require_local_storage(stack.storage).mkdir(parents=True, exist_ok=True)
    who = actor or default_actor()
    if created:
        _bootstrap_admin(store, who)
        with store.begin() as conn:
            audit.record(
                conn,
                who,
                "workspace.init",
                "workspace",
                str(home),
                {
                    "metadata": redact_url(stack.metadata),
                    "storage": stack.storage,
                    "audit_key": audit_key,
                },
            )
    ws = Workspace(stack, store, _access(store, who, token), project or _project())
    return ws, created


def _project() -> str | None:
    return os.environ.get("GP_PROJECT") or None


def open_workspace(
    workspace: str | os.PathLike[str] | None = None,
    *,
    settings: StackSettings | None = None,
    actor: Actor | None = None,
    token: str | None = None,
    project: str | None = None,
) -> Workspace:
    """Open an existing workspace; raise :class:`NotFound` with a hint if there is none."""
    home, origin = resolve_home(workspace)
    if not (home / CONFIG_FILE).exists():
        raise NotFound(
            f"no workspace at {home} (from {origin})",
            hint=f"create one with: gp init --workspace {home}",
        )
    stack = resolve_stack(home, settings)
    warn_not_built(stack)
    store = open_store(stack.metadata)
    return Workspace(stack, store, _access(store, actor, token), project or _project())
