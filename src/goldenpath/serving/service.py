"""``ws.deployments``: deploy a model version behind an endpoint, split traffic, promote,
roll back, stop; and ``ws.predictions``: read the prediction log.

The metadata row is the source of truth (versions, traffic, generation); the runtime folder's
``spec.json`` is written from it and the server follows it. Every change is one transaction:
the row, a ``deployment_events`` row, the lineage edge (deployment -> model version, relation
``serves``) and the audit event. Every change of a deployment that is ``prod`` before or
after it (a deploy, swap, canary, shadow, stage change, promotion, or a rollback to a version
that has not served it in prod) is checked by the policies on ``deployment.create`` (object
``NAME@prod``, attributes ``environment``, ``stage``, ``from_stage``, ``change``,
``deployment``, ``model`` with its ``name``, ``version`` and ``metrics``) before anything
changes.
"""

from __future__ import annotations

import builtins
import ipaddress
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, select

from goldenpath.core.actor import Actor
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import Conflict, GoldenpathError, InvalidInput, NotFound
from goldenpath.core.ids import new_id
from goldenpath.core.names import validate_name
from goldenpath.core.progress import NoProgress, Progress
from goldenpath.governance import audit
from goldenpath.governance.access import AccessControl
from goldenpath.governance.roles import ROLES, SERVING_ROLE
from goldenpath.lineage.edges import record_edge
from goldenpath.serving import deploy_checks, local
from goldenpath.serving.spec import DeploymentSpec, dead_letter_count, folder_of, read_state
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import deployment_events, deployments, projects

if TYPE_CHECKING:
    from goldenpath.governance.policies import Hold
    from goldenpath.serving.features import FeaturePlan
    from goldenpath.serving.health import DeploymentHealth

STAGES = ("dev", "prod")
PRINCIPAL_PREFIX = "deploy-"
LOOPBACK = "127.0.0.1"
REASON_CHARS_MAX = 1_000


@dataclass(frozen=True)
class DeploymentInfo:
    """A deployment: its versions and traffic, where it listens, and how it is doing."""

    name: str
    project: str
    model: str
    stage: str
    runtime: str
    status: str
    primary_version: int
    candidate_version: int | None
    candidate_mode: str | None
    canary_percent: int | None
    previous_version: int | None
    generation: int
    host: str
    port: int
    url: str
    settings: dict[str, Any]
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str
    live: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] | None = None
    # Set by a deploy: what it found about the online features (deploy_checks.py), its
    # warnings, and a /v1/predict request that runs as it is ({"path": ..., "body": ...}).
    freshness: list[dict[str, Any]] | None = None
    warnings: list[str] = field(default_factory=list)
    example: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        if data["freshness"] is None:  # not a deploy's answer: nothing was checked
            del data["warnings"]
        for key in ("events", "freshness", "example"):
            if data[key] is None:
                del data[key]
        return data

    @property
    def traffic(self) -> str:
        text = f"{self.model}@{self.primary_version}"
        if self.candidate_version is not None:
            share = f" {self.canary_percent}%" if self.candidate_mode == "canary" else ""
            text += f", {self.candidate_mode}{share} {self.model}@{self.candidate_version}"
        return text


class DeploymentService:
    def __init__(
        self,
        store: MetadataStore,
        home: Path,
        storage_root: Path,
        actor: Actor,
        access: AccessControl,
        models: Any,
        features: Any,
        policies: Any,
        serving: str = "deployment",
        monitor: tuple[float, float] = (30.0, 300.0),
    ) -> None:
        self._monitor = monitor  # (interval, window) in seconds, from the stack
        self._store = store
        self._home = home
        self._storage = storage_root
        self._actor = actor
        self._access = access
        self._models = models
        self._features = features
        self._policies = policies
        self._serving = serving

    # -- deploy --------------------------------------------------------------------------------

    def deploy(
        self,
        ref: str,
        name: str,
        *,
        port: int | None = None,
        stage: str | None = None,
        canary: int | None = None,
        shadow: bool = False,
        host: str | None = None,
        insecure_bind: bool = False,
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        features: str | Path | None = None,
        require_token: bool = False,
        wait: bool = True,
        progress: Progress | None = None,
    ) -> DeploymentInfo:
        """Serve ``ref`` (``fraud``, ``fraud@3``, ``fraud@champion``: the alias is resolved
        now and the version pinned) as deployment ``name``. An existing deployment of the same
        model swaps to the version with no failed request, or with ``canary=P`` sends P% of
        traffic (sticky by entity key) to it, or with ``shadow`` scores it silently."""
        shown = progress or NoProgress()
        with shown.step("checks"):
            validate_name(name, kind="deployment name")
            if canary is not None and shadow:
                raise InvalidInput("--canary and --shadow exclude each other", hint="choose one")
            if canary is not None and (type(canary) is not int or not 1 <= canary <= 99):
                raise InvalidInput(
                    f"--canary must be a percentage from 1 to 99, got {canary!r}",
                    hint="e.g. --canary 10 sends 10% of requests to the new version",
                )
            if port is not None and (type(port) is not int or not 1 <= port <= 65535):
                raise InvalidInput(f"--port must be 1-65535, got {port!r}")
            version = self._models.get(ref)
            self._access.require("deployment.deploy", version.project)
            if version.status != "ready":
                raise Conflict(f"{version.ref} is archived and cannot be deployed")
            with self._store.connect() as conn:
                existing = self._row(conn, name, missing_ok=True)
            if existing is not None:
                self._access.require("deployment.deploy", existing["project"])
                if existing["model"] != version.name:
                    raise Conflict(
                        f"deployment {name} serves model {existing['model']}, not {version.name}",
                        hint="deploy it under another --name, or stop this one first",
                    )
            stage = stage or (existing["stage"] if existing else "dev")
            if stage not in STAGES:
                raise InvalidInput(f"--stage must be dev or prod, got {stage!r}")
            settings = self._settings(existing, host, insecure_bind, tls_cert, tls_key, features)
            if require_token:
                settings["require_token"] = True
            # The monitor's schedule as the stack says now (gp.yaml's monitor:, monitoring.md).
            settings["monitor"] = {"interval": self._monitor[0], "window": self._monitor[1]}
            bind = settings["host"]
            if existing is not None and existing["status"] == "running":
                self._check_swap_settings(name, existing, settings)
            joins = canary is not None or shadow
            if joins and (existing is None or existing["status"] != "running"):
                raise Conflict(
                    f"a {'canary' if canary is not None else 'shadow'} needs a running deployment "
                    f"{name} to join",
                    hint="deploy the current version first: "
                    f"gp deploy {version.name}@N --name {name}",
                )
            # The feature plan (on-demand code, entity keys) and the freshness of the online values
            # it reads are checked here, before anything changes (and before the policies, so a
            # refused deploy spends no approval).
            plan = self._check_plan(version, settings.get("features"))
            checked = (
                self._features.freshness(list(dict.fromkeys(plan.refs.values())))
                if plan.uses_features
                else []
            )
            if stage == "prod":
                deploy_checks.refuse_stale_prod(name, checked)
            if canary is not None or shadow:
                change = "canary" if canary is not None else "shadow"
            elif existing is not None and existing["status"] == "running":
                change = "swap"
            else:
                change = "deploy"
            self._check_policies(
                name,
                stage,
                version,
                canary=canary,
                shadow=shadow,
                change=change,
                from_stage=existing["stage"] if existing is not None else None,
            )
            # The deployment acts as its own principal, with what serving needs: the deployer can
            # grant only what they hold.
            for permission in sorted(ROLES[SERVING_ROLE]):
                self._access.require(permission, version.project)
            if port is None:
                port = existing["port"] if existing else local.free_port(bind)
        with shown.step("principal"):
            now = utcnow()
            with self._store.begin() as conn:
                row = self._row(conn, name, missing_ok=True)
                if (row is None) != (existing is None) or (
                    row is not None and row["generation"] != existing["generation"]
                ):
                    raise Conflict(
                        f"deployment {name} changed meanwhile", hint="run the command again"
                    )
                settings["principal"] = self._own_principal(conn, name, version.project, settings)
                if row is not None and row["status"] == "running" and row["port"] != port:
                    raise Conflict(
                        f"deployment {name} is running on port {row['port']}; "
                        "--port cannot move it",
                        hint=f"stop it first: gp deployments stop {name}",
                    )
                values: dict[str, Any]
                if row is None:
                    if not local.port_free(bind, port):
                        raise Conflict(
                            f"port {port} on {bind} is in use",
                            hint="choose another --port, or leave it out",
                        )
                    values = {
                        "id": new_id(),
                        "project_id": self._project_id(conn, version.project),
                        "name": name,
                        "model": version.name,
                        "stage": stage,
                        "runtime": "local",  # Kubernetes goes through apply_kubernetes
                        "status": "running",
                        "primary_version": version.version,
                        "candidate_version": None,
                        "candidate_mode": None,
                        "canary_percent": None,
                        "previous_version": None,
                        "generation": 1,
                        "host": bind,
                        "port": port,
                        "settings": settings,
                        "created_at": now,
                        "created_by": self._actor.name,
                        "updated_at": now,
                        "updated_by": self._actor.name,
                    }
                    conn.execute(deployments.insert().values(**values))
                    action, previous = "deploy", None
                else:
                    if row["status"] != "running" and not local.port_free(bind, port):
                        raise Conflict(
                            f"port {port} on {bind} is in use", hint="choose another --port"
                        )
                    values = {
                        "stage": stage,
                        "status": "running",
                        "generation": row["generation"] + 1,
                        "host": bind,
                        "port": port,
                        "settings": settings,
                        "updated_at": now,
                        "updated_by": self._actor.name,
                    }
                    previous = row["primary_version"]
                    if canary is not None or shadow:
                        if version.version == row["primary_version"]:
                            raise Conflict(
                                f"{version.ref} already answers on {name}; a candidate must differ"
                            )
                        values.update(
                            candidate_version=version.version,
                            candidate_mode="canary" if canary is not None else "shadow",
                            canary_percent=canary,
                        )
                        action = "canary" if canary is not None else "shadow"
                    else:
                        values.update(
                            primary_version=version.version,
                            candidate_version=None,
                            candidate_mode=None,
                            canary_percent=None,
                        )
                        if version.version != row["primary_version"]:
                            values["previous_version"] = row["primary_version"]
                        action = "swap" if row["status"] == "running" else "deploy"
                    conn.execute(
                        deployments.update().where(deployments.c.id == row["id"]).values(**values)
                    )
                    values = {**dict(row), **values}
                self._event(conn, values, action, previous, version.version, {"stage": stage})
                record_edge(
                    conn,
                    "deployment",
                    values["id"],
                    "model_version",
                    version.id,
                    "serves",
                    {"deployment": name, "model": version.ref, "role": action},
                )
                audit.record(
                    conn,
                    self._actor,
                    "deployment.create" if action == "deploy" else f"deployment.{action}",
                    "deployment",
                    name,
                    {
                        "model": version.ref,
                        "stage": stage,
                        "generation": values["generation"],
                        "port": port,
                    },
                )
        info = self._apply(name, wait=wait, progress=shown)
        stale = deploy_checks.freshness_warnings(checked)
        deploy_checks.warn_stale(stale)
        return replace(
            info,
            freshness=[v.as_dict() for v in checked],
            warnings=stale,
            example={
                "path": "/v1/predict",
                "body": deploy_checks.example_body(
                    plan.request_fields, plan.entity_keys, checked, self._profile(version.ref)
                ),
            },
        )

    def _own_principal(
        self, conn: Connection, deployment: str, project: str, settings: dict[str, Any]
    ) -> str:
        """The deployment's own service principal (created now, owned by the deployer, if it
        has none yet), granted the serving role on ``project``; its name."""
        from goldenpath.governance.access import insert_grant
        from goldenpath.governance.principals import insert_principal, principal_by_name

        recorded = settings.get("principal")
        wanted = recorded or principal_name(deployment)
        found = principal_by_name(conn, wanted)
        if found is None:
            found = insert_principal(conn, self._actor, wanted, "service", owner=self._actor.name)
        elif recorded != wanted or found.kind != "service":
            raise Conflict(
                f"a principal named {wanted!r} exists and is not deployment {deployment}'s own "
                "(a deployment acts as the principal it created)",
                hint=f"deploy under another --name, or remove that principal (gp principals "
                f"disable {wanted})",
            )
        insert_grant(conn, self._actor, found, SERVING_ROLE, "project", project)
        return wanted

    def _profile(self, ref: str) -> dict[str, Any] | None:
        """The version's reference profile, for example values (None if it keeps none)."""
        try:
            return dict(self._models.profile(ref))
        except GoldenpathError:
            return None

    def _settings(
        self,
        existing: Any,
        host: str | None,
        insecure_bind: bool,
        tls_cert: str | Path | None,
        tls_key: str | Path | None,
        features: str | Path | None,
    ) -> dict[str, Any]:
        settings = dict(existing["settings"]) if existing is not None else {}
        if host is not None or existing is None:
            settings["host"] = host or LOOPBACK
        bind = str(settings["host"])
        try:
            address = ipaddress.ip_address(bind)
        except ValueError:
            raise InvalidInput(
                f"--host must be an IP address, got {bind!r}", hint="e.g. 127.0.0.1 or 0.0.0.0"
            ) from None
        if tls_cert is not None or tls_key is not None:
            if tls_cert is None or tls_key is None:
                raise InvalidInput("TLS needs both --tls-cert and --tls-key")
            for option, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
                if not Path(path).is_file():
                    raise InvalidInput(f"{option} {path}: no such file")
            settings["tls_cert"] = str(Path(tls_cert).resolve())
            settings["tls_key"] = str(Path(tls_key).resolve())
        loopback = address.is_loopback
        # --insecure-bind is kept on a swap, like the host it allowed (a new --host asks anew).
        insecure_bind = insecure_bind or (
            existing is not None and host is None and bool(settings.get("insecure_bind"))
        )
        if not loopback and not settings.get("tls_cert") and not insecure_bind:
            raise InvalidInput(
                f"binding {bind} exposes the model beyond this machine: it needs TLS",
                hint="pass --tls-cert and --tls-key, or --insecure-bind to serve plain HTTP "
                "(every request still needs a token with deployment.invoke)",
            )
        settings["insecure_bind"] = bool(insecure_bind and not loopback)
        settings["require_token"] = not loopback or bool(settings.get("require_token"))
        if features is not None:
            if not Path(features).is_file():
                raise InvalidInput(f"--features {features}: no such file")
            settings["features"] = str(Path(features).resolve())
        return settings

    @staticmethod
    def _check_swap_settings(name: str, existing: Any, settings: dict[str, Any]) -> None:
        """A running server keeps the address it is bound to and its TLS (it would have to
        restart to change them): a swap that asks for another is refused, with nothing
        changed. Tokens need no restart: the server enforces them from the new generation."""
        before = dict(existing["settings"])
        changed = [
            option
            for option, key in (
                ("--host", "host"),
                ("--tls-cert", "tls_cert"),
                ("--tls-key", "tls_key"),
            )
            if before.get(key) != settings.get(key)
        ]
        if changed:
            scheme = "https" if before.get("tls_cert") else "http"
            raise Conflict(
                f"deployment {name} is running ({scheme} on {existing['host']}:"
                f"{existing['port']}); a swap cannot change {', '.join(changed)}: the server "
                "would have to restart",
                hint=f"stop it first (gp deployments stop {name}), then deploy with the new "
                "settings",
            )

    def _check_policies(
        self,
        name: str,
        stage: str,
        version: Any,
        *,
        canary: int | None = None,
        shadow: bool = False,
        runtime: str = "local",
        change: str = "deploy",
        from_stage: str | None = None,
        hold: bool = False,
    ) -> Hold | None:
        """A change of a deployment that is prod before or after it (a deploy, a swap, a
        canary or shadow, a stage change, a promotion, a rollback to a version that has not
        served it in prod) asks the policies on ``deployment.create`` first, as ``NAME@prod``
        with ``environment`` ``prod``: relabelling a prod deployment dev is a prod change.
        ``hold``: check without spending an approval; the hold returned is spent by the
        check that completes the change (a promotion's ``model.promote`` policies)."""
        if "prod" not in (stage, from_stage):
            return None
        ask = self._policies.hold if hold else self._policies.enforce
        decided = ask(
            "deployment.create",
            f"{name}@prod",
            {
                "environment": "prod",
                "stage": stage,
                "from_stage": from_stage,
                "change": change,
                "deployment": name,
                "model": {
                    "name": version.name,
                    "version": version.version,
                    "metrics": {k: v for k, v in version.metrics.items() if v is not None},
                },
                "canary": canary or 0,
                "shadow": shadow,
                "runtime": runtime,
            },
            project=version.project,
        )
        return decided if hold else None

    def _check_plan(self, version: Any, features: str | None) -> FeaturePlan:
        from goldenpath.serving.features import plan_for

        inputs = [
            (i["name"], "string" if i["type"] == "string" else "float")
            for i in version.signature["inputs"]
        ]
        return plan_for(
            inputs, version.lineage, self._features, Path(features) if features else None
        )

    # -- Kubernetes ----------------------------------------------------------------------------

    def manifests(
        self,
        ref: str,
        name: str,
        *,
        canary: int | None = None,
        namespace: str = "default",
        serving: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """The Kubernetes objects that would serve ``ref`` as ``name``: a Deployment, Service
        and HorizontalPodAutoscaler, or a KServe InferenceService (stack ``serving: kserve``).
        Nothing is changed (``gp deploy --target kubernetes --dry-run``)."""
        from goldenpath.infra.kubernetes import render

        return render(self._target(ref, name, canary, namespace, serving))

    def _target(
        self, ref: str, name: str, canary: int | None, namespace: str, serving: str | None
    ) -> Any:
        from goldenpath.infra.kubernetes import KubernetesTarget

        validate_name(name, kind="deployment name")
        version = self._models.get(ref)
        self._access.require("deployment.read", version.project)
        return KubernetesTarget(
            name=name,
            namespace=namespace,
            model=version.name,
            version=version.version,
            onnx_digest=version.onnx_digest,
            serving=serving or self._serving,
            canary_percent=canary,
        )

    def apply_kubernetes(
        self,
        ref: str,
        name: str,
        *,
        stage: str | None = None,
        canary: int | None = None,
        namespace: str = "default",
        kubeconfig: str | None = None,
        context: str | None = None,
    ) -> builtins.list[dict[str, Any]]:
        """Apply the manifests of :meth:`manifests` to the cluster of ``kubeconfig`` (default
        ``KUBECONFIG`` / ``~/.kube/config``) with server-side apply; audited, and checked by
        the prod policies like a local deployment. The cluster then runs it: ``kubectl``
        reports its progress."""
        from goldenpath.infra.kubernetes import KubernetesRuntime, render

        version = self._models.get(ref)
        self._access.require("deployment.deploy", version.project)
        stage = stage or "dev"
        if stage not in STAGES:
            raise InvalidInput(f"--stage must be dev or prod, got {stage!r}")
        target = self._target(ref, name, canary, namespace, None)
        self._check_policies(name, stage, version, canary=canary, runtime="kubernetes")
        manifests = render(target)
        applied = KubernetesRuntime.from_kubeconfig(kubeconfig, context=context).apply(manifests)
        with self._store.begin() as conn:
            audit.record(
                conn,
                self._actor,
                "deployment.create",
                "deployment",
                name,
                {
                    "model": version.ref,
                    "stage": stage,
                    "runtime": "kubernetes",
                    "namespace": namespace,
                    "objects": [f"{m['kind']}/{m['metadata']['name']}" for m in manifests],
                },
            )
        return applied

    # -- traffic -------------------------------------------------------------------------------

    def promote(self, name: str, *, reason: str | None = None) -> DeploymentInfo:
        """Complete a canary (or shadow): promote the candidate through the registry's gates
        and policies (``ws.models.promote``, alias ``champion``), then send it all traffic.
        The gates are checked before a prod deployment's policies: a promotion the gates
        refuse leaves the approval it would have used unspent."""
        with self._store.connect() as conn:
            row = self._row(conn, name)
        self._access.require("deployment.promote", row["project"])
        candidate = row["candidate_version"]
        if candidate is None:
            raise Conflict(
                f"deployment {name} has no canary or shadow to promote",
                hint=f"start one with: gp deploy {row['model']}@N --name {name} --canary 10",
            )
        ref = f"{row['model']}@{candidate}"
        # The registry's gates first, with no side effect: a promotion they refuse must not
        # spend the prod approval below (nothing would have been promoted with it).
        check = self._models.check_promotion(ref, reason=reason)
        # All traffic to the candidate is a swap: a prod deployment asks its policies next
        # (what a canary was allowed is not what full traffic is), spending its approval only
        # with the model's: a promotion the model.promote policies refuse spends neither.
        held = self._check_policies(
            name, row["stage"], check.version, change="promote", from_stage=row["stage"], hold=True
        )
        self._models.promote(
            ref, reason=reason, environment=row["stage"], holds=[held] if held else []
        )
        self._move(name, row, "promote", candidate, {"reason": reason or "", "stage": row["stage"]})
        return self._apply(name)

    def rollback(self, name: str, *, reason: str | None = None) -> DeploymentInfo:
        """All traffic back to the previous version: a canary or shadow is dropped; else the
        version before the last swap answers again. A rollback restores without asking the
        policies only a version that has served this deployment in its stage before; any
        other version is a deploy to that stage, with its policies (``change: rollback``)."""
        with self._store.connect() as conn:
            row = self._row(conn, name)
            served = self._served(conn, row["id"], row["stage"])
        self._access.require("deployment.rollback", row["project"])
        if row["candidate_version"] is not None:
            target = row["primary_version"]
        elif row["previous_version"] is not None:
            target = row["previous_version"]
        else:
            raise Conflict(
                f"deployment {name} has no previous version to roll back to",
                hint="it has served one version only",
            )
        if target != row["primary_version"] and target not in served:
            self._check_policies(
                name,
                row["stage"],
                self._models.get(f"{row['model']}@{target}"),
                change="rollback",
                from_stage=row["stage"],
            )
        self._move(name, row, "rollback", target, {"reason": reason or "", "stage": row["stage"]})
        return self._apply(name)

    @staticmethod
    def _served(conn: Connection, deployment_id: str, stage: str) -> set[int]:
        """The versions that have answered all traffic of a deployment in ``stage``: the
        targets of its deploys, swaps, promotions and rollbacks made in that stage."""
        rows = conn.execute(
            select(deployment_events.c.to_version, deployment_events.c.detail).where(
                deployment_events.c.deployment_id == deployment_id,
                deployment_events.c.action.in_(("deploy", "swap", "promote", "rollback")),
            )
        ).all()
        return {
            int(r.to_version)
            for r in rows
            if r.to_version is not None and (r.detail or {}).get("stage") == stage
        }

    def _move(self, name: str, seen: Any, action: str, target: int, detail: dict[str, Any]) -> None:
        now = utcnow()
        with self._store.begin() as conn:
            row = self._row(conn, name)
            if row["generation"] != seen["generation"]:
                raise Conflict(f"deployment {name} changed meanwhile", hint="run the command again")
            values: dict[str, Any] = {
                "candidate_version": None,
                "candidate_mode": None,
                "canary_percent": None,
                "generation": row["generation"] + 1,
                "updated_at": now,
                "updated_by": self._actor.name,
            }
            if target != row["primary_version"]:
                values["primary_version"] = target
                values["previous_version"] = row["primary_version"]
            conn.execute(deployments.update().where(deployments.c.id == row["id"]).values(**values))
            merged = {**dict(row), **values}
            # What stops answering: a rollback that drops a canary or shadow takes traffic from
            # the candidate (the primary keeps answering), so its row reads "from 2 to 1", not
            # "from 1 to 1".
            source = row["primary_version"]
            if action == "rollback" and row["candidate_version"] is not None:
                source = row["candidate_version"]
                detail = {**detail, "dropped": row["candidate_mode"]}
            self._event(conn, merged, action, source, target, detail)
            audit.record(
                conn,
                self._actor,
                f"deployment.{action}",
                "deployment",
                name,
                {
                    "from": row["primary_version"],
                    "to": target,
                    "candidate": row["candidate_version"],
                    **detail,
                },
            )

    # -- runtime -------------------------------------------------------------------------------

    def _apply(
        self, name: str, *, wait: bool = True, progress: Progress | None = None
    ) -> DeploymentInfo:
        """Write the spec from the row; start the supervisor if none runs; wait until the
        server serves this generation."""
        shown = progress or NoProgress()
        with self._store.connect() as conn:
            row = self._row(conn, name)
        folder = folder_of(self._home, name)
        with shown.step("start"):
            spec = self._spec(row)
            spec.write(folder)
            (folder / "spool").mkdir(exist_ok=True)
            if local.supervisor_pid(folder) is None:
                local.start(folder, self._home)
        if wait:
            with shown.step("health"):
                local.wait_ready(folder, spec.generation)
        return self.get(name)

    def _spec(self, row: Any) -> DeploymentSpec:
        settings = dict(row["settings"])
        monitor = dict(settings.get("monitor") or {})
        return DeploymentSpec(
            name=row["name"],
            project=row["project"],
            model=row["model"],
            generation=row["generation"],
            host=row["host"],
            port=row["port"],
            # Its own principal; a deployment from before they had one acts as its deployer.
            principal=settings.get("principal") or row["created_by"],
            stage=row["stage"],
            primary=row["primary_version"],
            candidate=row["candidate_version"],
            mode=row["candidate_mode"],
            percent=row["canary_percent"] or 0,
            definitions=settings.get("features"),
            require_token=bool(settings.get("require_token")),
            tls_cert=settings.get("tls_cert"),
            tls_key=settings.get("tls_key"),
            table_uri=str(self.table_path(row["name"])),
            monitor_interval=float(monitor.get("interval", 30.0)),
            monitor_window=float(monitor.get("window", 300.0)),
        )

    def table_path(self, name: str) -> Path:
        return self._storage / "predictions" / validate_name(name, kind="deployment name")

    def stop(self, name: str) -> DeploymentInfo:
        """Stop the server (it finishes the requests in flight first) and its supervisor."""
        with self._store.connect() as conn:
            row = self._row(conn, name)
        self._access.require("deployment.deploy", row["project"])
        local.stop(folder_of(self._home, name))
        now = utcnow()
        with self._store.begin() as conn:
            row = self._row(conn, name)
            conn.execute(
                deployments.update()
                .where(deployments.c.id == row["id"])
                .values(status="stopped", updated_at=now, updated_by=self._actor.name)
            )
            self._event(conn, dict(row), "stop", row["primary_version"], None, {})
            audit.record(conn, self._actor, "deployment.stop", "deployment", name, {})
        return self.get(name)

    # -- read ----------------------------------------------------------------------------------

    def get(self, name: str, *, events: bool = False) -> DeploymentInfo:
        with self._store.connect() as conn:
            row = self._row(conn, name)
            history = None
            if events:
                history = [
                    {
                        "action": e.action,
                        "from_version": e.from_version,
                        "to_version": e.to_version,
                        "at": e.at.isoformat(),
                        "by": e.by,
                        "detail": e.detail,
                    }
                    for e in conn.execute(
                        select(deployment_events)
                        .where(deployment_events.c.deployment_id == row["id"])
                        .order_by(deployment_events.c.at, deployment_events.c.id)
                    )
                ]
        self._access.require("deployment.read", row["project"])
        return self._info(row, history)

    def health(self, name: str, *, token: str | None = None) -> DeploymentHealth:
        """How each version of deployment ``name`` is doing, from its server's own counters
        (``/metrics``, read now): requests and their rate, error rates, latency p50/p99,
        missing and expired feature rates; during a canary or shadow both versions
        (``serving/health.py``). ``token`` (with ``deployment.invoke``) for a server that
        asks for one. Needs ``deployment.read``."""
        return self._health(self.get(name), token)

    def _health(self, info: DeploymentInfo, token: str | None) -> DeploymentHealth:
        from goldenpath.serving import health

        if info.runtime != "local":
            return health.unavailable(info.name, f"runtime {info.runtime}: see the cluster")
        if info.status != "running":
            return health.unavailable(info.name, f"the deployment is {info.status}")
        wildcard = info.host in ("0.0.0.0", "::")
        host = LOOPBACK if wildcard else info.host
        if ":" in host:
            host = f"[{host}]"
        scheme = "https" if info.settings.get("tls_cert") else "http"
        roles = health.roles_of(info.primary_version, info.candidate_version, info.candidate_mode)
        return health.scrape(
            info.name,
            f"{scheme}://{host}:{info.port}/metrics",
            roles,
            token=token,
            cafile=info.settings.get("tls_cert"),
        )

    def health_all(self, *, token: str | None = None) -> builtins.list[DeploymentHealth]:
        """:meth:`health` of every deployment you may read that is running."""
        return [self._health(info, token) for info in self.list() if info.status == "running"]

    def list(self) -> builtins.list[DeploymentInfo]:
        readable = self._access.projects_with("deployment.read")
        with self._store.connect() as conn:
            rows = conn.execute(_SELECT.order_by(deployments.c.name)).mappings().all()
        return [self._info(r, None) for r in rows if readable is None or r["project"] in readable]

    def logs(self, name: str, lines: int = 100) -> str:
        """The last ``lines`` lines of the server's log and the supervisor's."""
        if not 1 <= lines <= 100_000:
            raise InvalidInput("--lines must be 1-100000")
        self.get(name)
        folder = folder_of(self._home, name)
        return (
            "== server.log ==\n"
            + local.tail(folder / "server.log", lines)
            + "\n== supervisor.log ==\n"
            + local.tail(folder / "supervisor.log", lines)
        )

    def _info(self, row: Any, events: builtins.list[dict[str, Any]] | None) -> DeploymentInfo:
        folder = folder_of(self._home, row["name"])
        state = read_state(folder) or {}
        supervisor = local.supervisor_pid(folder)
        status = row["status"]
        if status == "running" and supervisor is None:
            status = "down"  # recorded as running, but no supervisor lives
        elif status == "running" and state.get("status") not in (None, "ready"):
            status = str(state.get("status"))
        settings = dict(row["settings"])
        scheme = "https" if settings.get("tls_cert") else "http"
        return DeploymentInfo(
            name=row["name"],
            project=row["project"],
            model=row["model"],
            stage=row["stage"],
            runtime=row["runtime"],
            status=status,
            primary_version=row["primary_version"],
            candidate_version=row["candidate_version"],
            candidate_mode=row["candidate_mode"],
            canary_percent=row["canary_percent"],
            previous_version=row["previous_version"],
            generation=row["generation"],
            host=row["host"],
            port=row["port"],
            url=f"{scheme}://{row['host']}:{row['port']}",
            settings=settings,
            created_at=row["created_at"].isoformat(),
            created_by=row["created_by"],
            updated_at=row["updated_at"].isoformat(),
            updated_by=row["updated_by"],
            live={
                "supervisor_pid": supervisor,
                "server_pid": state.get("pid"),
                "loaded_generation": state.get("generation"),
                "restarts": state.get("restarts", 0),
                "error": state.get("error"),
                # Predictions the log's flush could not append (spool.dead-letter/).
                "log_invalid": dead_letter_count(folder / "spool"),
                # What the server applies now (it reports it), not what the row asks for.
                "enforced": state.get("enforced") if supervisor is not None else None,
                # Why the deployment's own principal may not read features now (None: it may).
                "identity": state.get("identity") if supervisor is not None else None,
            },
            events=events,
        )

    def _row(self, conn: Connection, name: str, *, missing_ok: bool = False) -> Any:
        validate_name(name, kind="deployment name")
        row = conn.execute(_SELECT.where(deployments.c.name == name)).mappings().first()
        if row is None and not missing_ok:
            raise NotFound(
                f"no deployment named {name!r}", hint="see them with: gp deployments list"
            )
        return row

    @staticmethod
    def _project_id(conn: Connection, project: str) -> str:
        found = conn.execute(select(projects.c.id).where(projects.c.name == project)).scalar()
        if found is None:
            raise NotFound(f"no project named {project!r}")
        return str(found)

    def _event(
        self,
        conn: Connection,
        row: Any,
        action: str,
        from_version: int | None,
        to_version: int | None,
        detail: dict[str, Any],
    ) -> None:
        conn.execute(
            deployment_events.insert().values(
                id=new_id(),
                deployment_id=row["id"],
                action=action,
                from_version=from_version,
                to_version=to_version,
                detail=detail,
                at=utcnow(),
                by=self._actor.name,
            )
        )


_SELECT = select(deployments, projects.c.name.label("project")).join(
    projects, projects.c.id == deployments.c.project_id
)


TAIL_MAX = 10_000


class PredictionService:
    """``ws.predictions``: the prediction log of deployments (``prediction.read``)."""

    def __init__(self, deployments: DeploymentService, access: AccessControl, home: Path) -> None:
        self._deployments = deployments
        self._access = access
        self._home = home

    def _reader(self, name: str) -> Any:
        from goldenpath.serving.prediction_log import PredictionLogReader

        return PredictionLogReader(
            str(self._deployments.table_path(name)), folder_of(self._home, name) / "spool"
        )

    def tail(self, name: str, limit: int = 20) -> builtins.list[dict[str, Any]]:
        """The newest ``limit`` predictions of deployment ``name``, newest first."""
        if type(limit) is not int or not 1 <= limit <= TAIL_MAX:
            raise InvalidInput(f"limit must be 1-{TAIL_MAX}, got {limit!r}")
        info = self._deployments.get(name)
        self._access.require("prediction.read", info.project)
        return [_plain(p) for p in self._reader(name).tail(limit)]

    def show(self, request_id: str) -> dict[str, Any]:
        """One prediction by its request id, from whichever deployment you may read logged it."""
        from goldenpath.serving.prediction_log import check_request_id

        check_request_id(request_id)
        for info in self._deployments.list():
            if not self._access.allowed("prediction.read", info.project):
                continue
            found = self._reader(info.name).get(request_id)
            if found is not None:
                return _plain(found)
        raise NotFound(
            f"no prediction {request_id} in the logs you may read",
            hint="request ids are in each answer (request_id, X-Request-Id); the log is "
            "written about a second after the answer",
        )


def principal_name(deployment: str) -> str:
    """The name of deployment ``deployment``'s own principal: ``deploy-NAME`` (a long name
    is cut and made unique with a digest, within the 63 characters of a name)."""
    import hashlib

    name = PRINCIPAL_PREFIX + deployment
    if len(name) <= 63:
        return name
    digest = hashlib.sha256(deployment.encode()).hexdigest()[:8]
    return f"{PRINCIPAL_PREFIX}{deployment[: 63 - len(PRINCIPAL_PREFIX) - 9]}-{digest}"


def _plain(record: dict[str, Any]) -> dict[str, Any]:
    """A log record with its JSON columns parsed and its time as ISO text."""
    import json

    out = dict(record)
    for key in ("entities", "request", "features", "contract", "output"):
        if isinstance(out.get(key), str):
            out[key] = json.loads(out[key])
    when: Any = out.get("time")
    if when is not None and hasattr(when, "isoformat"):
        out["time"] = when.isoformat()
    out.pop("partition", None)
    return out
