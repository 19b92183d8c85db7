"""The model registry service (``ws.models``): register, look up, alias, promote, score.

Registration (``register_package``) checks the ONNX graph against the native model's scores
(parity), computes the fingerprint, the reference profile and the model card, writes every
artifact (content-addressed, durable) and only then records the version in one transaction:
the model row (on first registration), the version, the feature users, the lineage edges and
the audit event. A process killed at any point leaves either no version or the whole version
(the artifacts written before a kill are unreferenced files, never half a version).

Promotion applies the gates stored with the version (``gates.py``), then the policies on
``model.promote``, which are asked before every alias move (promote, forced or not, alias,
delete); removing ``champion`` outside a promotion needs what ``--force`` needs. Every alias
move is kept in ``model_alias_history``. Scoring loads only
the ONNX graph (``predict``); the native artifact is loaded only on request, by a loader that
never unpickles (``load_native``).
"""

from __future__ import annotations

import builtins
import hashlib
import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select
from sqlalchemy.exc import IntegrityError

from goldenpath.core import faults
from goldenpath.core.actor import Actor
from goldenpath.core.artifacts import ArtifactStore
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import Conflict, InvalidInput, NotFound
from goldenpath.core.ids import new_id
from goldenpath.core.limits import Limits
from goldenpath.core.names import MAX_VERSION, validate_name
from goldenpath.governance import audit
from goldenpath.governance.access import AccessControl
from goldenpath.governance.principals import Enforcer
from goldenpath.lineage.edges import record_edge
from goldenpath.registry import cards, gates, native
from goldenpath.registry.metrics import DEFAULT_THRESHOLD, TASKS, evaluate
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import (
    feature_versions,
    model_alias_history,
    model_aliases,
    model_versions,
    models,
    projects,
    runs,
)

if TYPE_CHECKING:  # numpy, onnx and onnxruntime load with the call that needs them
    import numpy as np
    import pandas as pd

    from goldenpath.governance.policies import Hold
    from goldenpath.registry.packaging import Package

CHAMPION = "champion"
# Rows of the validation data kept with a version (features + label) for the no-regression
# gate. What callers control is bounded by core/limits.py (``model_*``).
VALIDATION_ROWS_KEPT = 100_000
_DIGITS = re.compile(r"[0-9]{1,10}")


@dataclass(frozen=True)
class ModelVersion:
    """One registered, immutable model version (its card and status may change)."""

    name: str
    version: int
    id: str
    project: str
    status: str
    flavor: str
    task: str
    estimator: str
    fingerprint: str
    native_digest: str
    native_format: str
    onnx_digest: str
    profile_digest: str
    validation_digest: str | None
    signature: dict[str, Any]
    metrics: dict[str, float | None]
    parity: dict[str, Any]
    card: dict[str, Any]
    gates: dict[str, Any]
    lineage: dict[str, Any]
    run_id: str | None
    aliases: list[str]
    created_at: datetime
    created_by: str

    @property
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["ref"] = self.ref
        data["created_at"] = self.created_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelVersion:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["created_at"] = datetime.fromisoformat(data["created_at"])
        return cls(**values)


@dataclass(frozen=True)
class ModelSummary:
    """A model in ``list()``: its newest version and where its aliases point."""

    name: str
    project: str
    description: str
    latest_version: int
    versions: int
    aliases: dict[str, int]
    created_at: datetime
    created_by: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "created_at": self.created_at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSummary:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["created_at"] = datetime.fromisoformat(data["created_at"])
        return cls(**values)


@dataclass(frozen=True)
class AliasMove:
    """One move of an alias (``to_version`` None: the alias was removed)."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    forced: bool
    reason: str
    moved_at: datetime
    moved_by: str

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "moved_at": self.moved_at.isoformat()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AliasMove:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["moved_at"] = datetime.fromisoformat(data["moved_at"])
        return cls(**values)


@dataclass(frozen=True)
class Promotion:
    """The outcome of ``promote``: where the alias moved, each gate's result, and whether a
    failed gate was overridden (``forced``, with the reason)."""

    model: str
    alias: str
    from_version: int | None
    to_version: int
    forced: bool
    reason: str
    gates: list[gates.GateResult] = field(default_factory=list)
    changed: bool = True

    def as_dict(self) -> dict[str, Any]:
        data = {**self.__dict__, "gates": [g.as_dict() for g in self.gates]}
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Promotion:
        values = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        values["gates"] = [gates.GateResult.from_dict(g) for g in data.get("gates", [])]
        return cls(**values)


@dataclass(frozen=True)
class PromotionCheck:
    """What ``check_promotion`` found: the version, the alias's holder now, every alias of
    the model, each gate's result and the stripped reason. Reading it changed nothing."""

    version: ModelVersion
    alias: str
    current: int | None
    aliases: dict[str, int]
    results: list[gates.GateResult]
    reason: str


class GatesFailed(Conflict):
    """Promotion refused: one or more gates failed (``results`` holds every gate)."""

    def __init__(self, message: str, *, hint: str | None = None, results: Any = ()) -> None:
        super().__init__(message, hint=hint)
        self.results = list(results)


def _json_metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    import numpy as np

    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        if not isinstance(key, str) or len(key) > 63:
            raise InvalidInput("metric names must be text of at most 63 characters")
        if value is None:
            out[key] = None
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
            raise InvalidInput(f"metric {key!r} must be a number, got {type(value).__name__}")
        number = float(value)
        out[key] = number if math.isfinite(number) else None
    return out


def fingerprint(native_digest: str, onnx_bytes: bytes) -> str:
    """sha256 over the native artifact's sha256 and the ONNX graph's canonical hash
    (``onnx_graph.graph_hash``): equal for the same fitted model, whatever names a converter
    generated."""
    from goldenpath.registry import onnx_graph

    text = f"native:{native_digest}\nonnx:{onnx_graph.graph_hash(onnx_bytes)}\n"
    return hashlib.sha256(text.encode()).hexdigest()


class ModelRegistry:
    """Registered models and their versions, acting as one principal."""

    def __init__(
        self,
        store: MetadataStore,
        storage_root: Path,
        actor: Actor,
        access: AccessControl,
        project: str,
        policies: Enforcer | None = None,
        *,
        limits: Limits | None = None,
    ) -> None:
        self._store = store
        self._artifacts = ArtifactStore(storage_root)
        self._actor = actor
        self._access = access
        self._project = project
        self._policies = policies
        self._limits = limits or Limits()

    @property
    def limits(self) -> Limits:
        """The limits in force (``model_*`` bound what registration, cards and predict take;
        ``gp train`` hands the packaging ones to its training process)."""
        return self._limits

    # -- registration ------------------------------------------------------------------------

    def register(
        self,
        name: str,
        model: Any,
        *,
        validation: pd.DataFrame,
        label: str,
        task: str,
        **options: Any,
    ) -> ModelVersion:
        """Package ``model`` and register it in this process (notebooks): the same as
        :func:`~goldenpath.registry.packaging.package` then :meth:`register_package`."""
        from goldenpath.registry.packaging import package

        self._access.require("model.register", self._project)
        validate_name(name, kind="model name")
        if label not in getattr(validation, "columns", []):
            raise InvalidInput(f"validation has no label column {label!r}")
        built = package(model, validation, task, label=label, limits=self._limits)
        return self.register_package(
            name, built, validation=validation, label=label, task=task, **options
        )

    def register_package(
        self,
        name: str,
        package: Package,
        *,
        validation: pd.DataFrame,
        label: str,
        task: str,
        metrics: Mapping[str, float] | None = None,
        run_id: str | None = None,
        lineage: Mapping[str, Any] | None = None,
        gates: Mapping[str, Any] | gates.GatesConfig | None = None,
        card: Mapping[str, Any] | None = None,
        description: str = "",
        tolerance: float = 1e-4,
    ) -> ModelVersion:
        """Register a packaged model as the next version of ``name`` (docs/models.md).

        ``validation``: the rows the package was scored on, features and ``label``. Refused,
        with nothing recorded, if the ONNX graph's outputs differ from the native scores by
        more than ``tolerance`` (the largest difference and its row are named)."""
        from goldenpath.registry import gates as gates_module
        from goldenpath.registry import profiles

        self._access.require("model.register", self._project)
        validate_name(name, kind="model name")
        config = gates_module.gates_config(gates)
        checked = self._check_inputs(package, validation, label, task, tolerance, description)
        config.check_task(task)
        lineage_json = _lineage(lineage, self._limits)
        card_fields = cards.check_fields(card or {}, self._limits)
        if run_id is not None and (not isinstance(run_id, str) or not 1 <= len(run_id) <= 26):
            raise InvalidInput("run_id must be a run's id (at most 26 characters)")

        onnx_scores, parity = self._parity(package, validation, tolerance)
        y = validation[label].to_numpy()
        chosen = (
            _json_metrics(metrics)
            if metrics is not None
            else _json_metrics(evaluate(task, y, onnx_scores).metrics)
        )
        if metrics is None and task == "classification":
            lineage_json.setdefault("threshold", DEFAULT_THRESHOLD)  # what evaluate used
        # Measured and profiled with the scores computed here (the ONNX graph's), never
        # with the native scores the package carries (whoever packaged it wrote those).
        profile = profiles.reference_profile(validation, package.signature["inputs"], onnx_scores)
        kept = validation[[*checked, label]].iloc[:VALIDATION_ROWS_KEPT]

        # Artifacts first (durable, content-addressed), then one transaction.
        native_artifact = self._artifacts.put_bytes(package.native)
        onnx_artifact = self._artifacts.put_bytes(package.onnx)
        profile_artifact = self._artifacts.put_bytes(_json_bytes(profile))
        validation_artifact = self._artifacts.put_bytes(_parquet(kept, label))
        faults.reach("model.register.after-artifacts")
        version_id = new_id()
        now = utcnow()
        row: dict[str, Any] = {
            "id": version_id,
            "status": "ready",
            "run_id": run_id,
            "flavor": package.flavor,
            "task": task,
            "fingerprint": fingerprint(native_artifact.digest, package.onnx),
            "native_digest": native_artifact.digest,
            "native_format": package.native_format,
            "onnx_digest": onnx_artifact.digest,
            "signature": {**package.signature, "estimator": package.estimator},
            "metrics": chosen,
            "parity": {**parity, "versions": package.versions},
            "profile_digest": profile_artifact.digest,
            "validation_digest": validation_artifact.digest,
            "gates": config.model_dump(),
            "lineage": lineage_json,
            "created_at": now,
            "created_by": self._actor.name,
        }
        for attempt in range(3):
            try:
                number = self._record(name, row, description, card_fields, lineage_json)
                break
            except IntegrityError:
                if attempt == 2:
                    raise Conflict(
                        f"model {name!r} was registered by someone else at the same time",
                        hint="register again",
                    ) from None
        return self.get(f"{name}@{number}")

    def _check_inputs(
        self,
        package: Package,
        validation: pd.DataFrame,
        label: str,
        task: str,
        tolerance: float,
        description: str,
    ) -> list[str]:
        import pandas as pd

        from goldenpath.registry.packaging import frame_hash

        if task not in TASKS:
            raise InvalidInput(f"unknown task {task!r}", hint=f"use one of: {', '.join(TASKS)}")
        if task != package.task:
            raise InvalidInput(f"the package was made for {package.task}, not {task}")
        if not isinstance(validation, pd.DataFrame):
            raise InvalidInput("validation must be a pandas DataFrame")
        if label not in validation.columns:
            raise InvalidInput(f"validation has no label column {label!r}")
        if isinstance(tolerance, bool) or not isinstance(tolerance, int | float):
            raise InvalidInput("tolerance must be a number")
        if not (math.isfinite(tolerance) and tolerance >= 0):
            raise InvalidInput(f"tolerance must be a finite number >= 0, not {tolerance}")
        chars_max = self._limits.model_description_chars_max
        if not isinstance(description, str) or len(description) > chars_max:
            raise InvalidInput(
                f"description: text of at most {chars_max:,} chars "
                "(limits.model_description_chars_max)"
            )
        features = package.features
        missing = [f for f in features if f not in validation.columns]
        if missing:
            raise InvalidInput(
                f"validation lacks feature column(s) of the package: {', '.join(missing[:10])}"
            )
        if len(validation) != package.validation_rows or (
            frame_hash(validation, features) != package.validation_hash
        ):
            raise InvalidInput(
                "validation is not the data the package was scored on "
                f"({len(validation):,} rows given, {package.validation_rows:,} packaged)",
                hint="pass the same validation rows to package() and register_package()",
            )
        if task == "classification":
            values = set(pd.unique(validation[label].dropna()))
            if not all(v in (0, 1) for v in values):
                raise InvalidInput(
                    f"label {label!r} must be 0/1 (or False/True) for classification",
                    hint="encode the positive class as 1",
                )
        return features

    def _parity(
        self, package: Package, validation: pd.DataFrame, tolerance: float
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The ONNX graph's scores on ``validation`` against the native model's."""
        import numpy as np

        from goldenpath.registry import scoring

        got = scoring.package_scores(package, validation)
        want = np.asarray(package.scores, dtype=np.float64)
        if got.shape != want.shape:
            raise InvalidInput(
                f"the ONNX graph gave {got.shape[0]} scores for {want.shape[0]} native ones"
            )
        both_nan = np.isnan(got) & np.isnan(want)
        diff = np.where(both_nan, 0.0, np.abs(got - want))
        diff = np.where(np.isnan(diff), np.inf, diff)
        row = int(np.argmax(diff)) if diff.size else 0
        largest = float(diff[row]) if diff.size else 0.0
        if largest > tolerance:
            raise InvalidInput(
                f"the ONNX graph does not match the native model: largest absolute difference "
                f"{largest:.3g} at validation row {row} (native {want[row]:.6g}, ONNX "
                f"{got[row]:.6g}) exceeds the tolerance {tolerance:g}",
                hint="nothing was registered; check the estimator is supported (docs/models.md)",
            )
        return got, {
            "max_abs_diff": largest,
            "row": row,
            "tolerance": tolerance,
            "rows": int(diff.size),
        }

    def _record(
        self,
        name: str,
        row: dict[str, Any],
        description: str,
        card_fields: Mapping[str, Any],
        lineage: Mapping[str, Any],
    ) -> int:
        with self._store.begin() as conn:
            model_id, project = self._model_for_write(conn, name, description)
            last = conn.execute(
                select(func.max(model_versions.c.version)).where(
                    model_versions.c.model_id == model_id
                )
            ).scalar()
            number = int(last or 0) + 1
            if number > MAX_VERSION:
                raise Conflict(f"model {name!r} has no version numbers left")
            card = cards.generate(
                name=name,
                version=number,
                estimator=row["signature"]["estimator"],
                flavor=row["flavor"],
                task=row["task"],
                metrics=row["metrics"],
                lineage=lineage,
                rows=int(row["parity"]["rows"]),
                owner=self._actor.name,
                description=description,
            )
            card.update(card_fields)
            conn.execute(
                model_versions.insert().values(**row, model_id=model_id, version=number, card=card)
            )
            ref = f"{name}@{number}"
            self._record_users(conn, ref, lineage)
            training = lineage.get("training_set") or {}
            if training.get("id"):
                record_edge(
                    conn,
                    "training_set",
                    str(training["id"]),
                    "model_version",
                    row["id"],
                    "input_of",
                    {"training_set": training.get("ref"), "model": ref},
                )
            if row["run_id"]:
                record_edge(
                    conn,
                    "run",
                    row["run_id"],
                    "model_version",
                    row["id"],
                    "produced",
                    {"model": ref},
                )
            audit.record(
                conn,
                self._actor,
                "model.register",
                "model_version",
                ref,
                {
                    "project": project,
                    "fingerprint": row["fingerprint"],
                    "flavor": row["flavor"],
                    "onnx": row["onnx_digest"],
                    "native": row["native_digest"],
                    "run": row["run_id"],
                    "parity_max_abs_diff": row["parity"]["max_abs_diff"],
                },
            )
            faults.reach("model.register.before-commit")
        return number

    def _model_for_write(self, conn: Connection, name: str, description: str) -> tuple[str, str]:
        found = conn.execute(
            select(models.c.id, projects.c.name.label("project"))
            .join(projects, projects.c.id == models.c.project_id)
            .where(models.c.name == name)
        ).first()
        if found is not None:
            if found.project != self._project:
                raise Conflict(
                    f"model {name!r} is in project {found.project!r}, not {self._project!r}",
                    hint=f"register it in {found.project!r} (--project), or choose another name",
                )
            return str(found.id), str(found.project)
        project_id = conn.execute(
            select(projects.c.id).where(projects.c.name == self._project)
        ).scalar()
        if project_id is None:
            raise NotFound(
                f"no project named {self._project!r}", hint="see them with: gp projects list"
            )
        model_id = new_id()
        conn.execute(
            models.insert().values(
                id=model_id,
                project_id=project_id,
                name=name,
                description=description,
                created_at=utcnow(),
                created_by=self._actor.name,
            )
        )
        audit.record(conn, self._actor, "model.create", "model", name, {"project": self._project})
        return model_id, self._project

    def _record_users(self, conn: Connection, ref: str, lineage: Mapping[str, Any]) -> None:
        from goldenpath.features.registry import record_user

        for used in lineage.get("feature_versions") or []:
            version_id = str(used.get("id") or "")
            exists = conn.execute(
                select(feature_versions.c.id).where(feature_versions.c.id == version_id)
            ).first()
            if exists is None:
                raise NotFound(
                    f"lineage names feature version {version_id[:26]!r}, which does not exist",
                    hint="pass the ids of applied feature versions",
                )
            record_user(conn, version_id, "model", ref, [str(f) for f in used.get("features", [])])

    # -- reading -----------------------------------------------------------------------------

    def list(self) -> builtins.list[ModelSummary]:
        """Every model in the projects the caller may read, by name."""
        visible = self._access.projects_with("model.read")
        with self._store.connect() as conn:
            query = (
                select(models, projects.c.name.label("project"))
                .join(projects, projects.c.id == models.c.project_id)
                .order_by(models.c.name)
            )
            if visible is not None:
                query = query.where(projects.c.name.in_(sorted(visible)))
            rows = conn.execute(query).all()
            counts = dict(
                conn.execute(
                    select(model_versions.c.model_id, func.max(model_versions.c.version)).group_by(
                        model_versions.c.model_id
                    )
                ).all()
            )
            totals: dict[str, int] = dict(
                conn.execute(
                    select(model_versions.c.model_id, func.count()).group_by(
                        model_versions.c.model_id
                    )
                ).all()
            )
            aliases: dict[str, dict[str, int]] = {}
            for model_id, alias, version in conn.execute(
                select(model_aliases.c.model_id, model_aliases.c.alias, model_versions.c.version)
                .join(model_versions, model_versions.c.id == model_aliases.c.version_id)
                .order_by(model_aliases.c.alias)
            ).all():
                aliases.setdefault(model_id, {})[alias] = int(version)
        return [
            ModelSummary(
                name=r.name,
                project=r.project,
                description=r.description,
                latest_version=int(counts.get(r.id) or 0),
                versions=int(totals.get(r.id) or 0),
                aliases=aliases.get(r.id, {}),
                created_at=r.created_at,
                created_by=r.created_by,
            )
            for r in rows
        ]

    def get(self, ref: str) -> ModelVersion:
        """``fraud`` (the newest version), ``fraud@3`` or ``fraud@champion``."""
        with self._store.connect() as conn:
            return self._get(conn, ref)

    show = get

    def same_fingerprint(self, version: ModelVersion) -> str | None:
        """The earliest other version of the model whose fingerprint equals ``version``'s
        (``fraud@1``: the same model, bit for bit), or None."""
        with self._store.connect() as conn:
            model = self._model(conn, version.name)
            earlier = conn.execute(
                select(model_versions.c.version)
                .where(
                    model_versions.c.model_id == model.id,
                    model_versions.c.fingerprint == version.fingerprint,
                    model_versions.c.id != version.id,
                )
                .order_by(model_versions.c.version)
                .limit(1)
            ).scalar()
        return None if earlier is None else f"{version.name}@{earlier}"

    def versions(self, name: str) -> builtins.list[ModelVersion]:
        """Every version of ``name``, oldest first."""
        with self._store.connect() as conn:
            model = self._model(conn, validate_name(name, kind="model name"))
            rows = conn.execute(
                select(model_versions)
                .where(model_versions.c.model_id == model.id)
                .order_by(model_versions.c.version)
            ).all()
            return [self._version(conn, model, r) for r in rows]

    def _get(self, conn: Connection, ref: str) -> ModelVersion:
        name, version, alias = _parse(ref)
        model = self._model(conn, name)
        query = select(model_versions).where(model_versions.c.model_id == model.id)
        if alias is not None:
            target = conn.execute(
                select(model_aliases.c.version_id).where(
                    model_aliases.c.model_id == model.id, model_aliases.c.alias == alias
                )
            ).scalar()
            if target is None:
                known = sorted(
                    conn.execute(
                        select(model_aliases.c.alias).where(model_aliases.c.model_id == model.id)
                    ).scalars()
                )
                raise NotFound(
                    f"model {name!r} has no alias {alias!r}",
                    hint=f"its aliases: {', '.join(known)}"
                    if known
                    else f"it has no aliases yet; set one with: gp models promote {name}@N",
                )
            query = query.where(model_versions.c.id == target)
        elif version is not None:
            query = query.where(model_versions.c.version == version)
        else:
            query = query.order_by(model_versions.c.version.desc()).limit(1)
        found = conn.execute(query).first()
        if found is None:
            numbers = [
                int(v)
                for v in conn.execute(
                    select(model_versions.c.version)
                    .where(model_versions.c.model_id == model.id)
                    .order_by(model_versions.c.version)
                ).scalars()
            ]
            raise NotFound(
                f"model {name!r} has no version {version}",
                hint=f"its versions: {_ranges(numbers)}" if numbers else "it has no versions",
            )
        return self._version(conn, model, found)

    def _model(self, conn: Connection, name: str) -> Any:
        found = conn.execute(
            select(models, projects.c.name.label("project"))
            .join(projects, projects.c.id == models.c.project_id)
            .where(models.c.name == name)
        ).first()
        if found is None or not self._access.allowed("model.read", found.project):
            # One the caller may not read answers exactly like a missing one (no oracle).
            raise NotFound(f"no model named {name!r}", hint="see them with: gp models list")
        return found

    def _version(self, conn: Connection, model: Any, row: Any) -> ModelVersion:
        aliases = sorted(
            conn.execute(
                select(model_aliases.c.alias).where(model_aliases.c.version_id == row.id)
            ).scalars()
        )
        signature = dict(row.signature)
        estimator = str(signature.pop("estimator", ""))
        return ModelVersion(
            name=model.name,
            version=int(row.version),
            id=row.id,
            project=model.project,
            status=row.status,
            flavor=row.flavor,
            task=row.task,
            estimator=estimator,
            fingerprint=row.fingerprint,
            native_digest=row.native_digest,
            native_format=row.native_format,
            onnx_digest=row.onnx_digest,
            profile_digest=row.profile_digest,
            validation_digest=row.validation_digest,
            signature=signature,
            metrics=dict(row.metrics),
            parity=dict(row.parity),
            card=dict(row.card),
            gates=dict(row.gates),
            lineage=dict(row.lineage),
            run_id=row.run_id,
            aliases=aliases,
            created_at=row.created_at,
            created_by=row.created_by,
        )

    def profile(self, ref: str) -> dict[str, Any]:
        """The version's reference profile (``profiles.py`` documents its format)."""
        import json

        version = self.get(ref)
        return dict(json.loads(self._artifacts.read_bytes(version.profile_digest)))

    def validation_rows(self, ref: str) -> pd.DataFrame:
        """The validation rows kept with the version (features and label, capped)."""
        version = self.get(ref)
        if version.validation_digest is None:
            raise NotFound(f"{version.ref} keeps no validation rows")
        return _read_parquet(self._artifacts.read_bytes(version.validation_digest))

    # -- aliases -----------------------------------------------------------------------------

    def alias(self, ref: str, alias: str) -> AliasMove:
        """Point ``alias`` (not ``champion``: that moves only through :meth:`promote`) at the
        version ``ref``. Needs ``model.alias``; the policies on ``model.promote`` are asked
        (``change: alias``), as for every alias move."""
        validate_name(alias, kind="alias")
        if alias == CHAMPION:
            raise InvalidInput(
                "champion moves only through promotion, which applies the gates",
                hint=f"use: gp models promote {ref}",
            )
        with self._store.connect() as conn:
            version = self._get(conn, ref)
            model = self._model(conn, version.name)
            current = self._holder(conn, model.id, alias)
            aliases = self._aliases(conn, model.id)
        self._access.require("model.alias", version.project)
        self._ask_policies(
            version.ref, version.name, version.project, alias, "alias", version, current, aliases
        )
        return self._move(
            version,
            alias,
            forced=False,
            reason="",
            action="model.alias",
            expected=(True, current),
        )

    def delete_alias(self, name: str, alias: str, *, reason: str | None = None) -> AliasMove:
        """Remove ``alias`` from model ``name``. Removing ``champion`` outside a promotion is
        what ``--force`` is: it needs ``model.promote_force`` and a ``reason`` (else the next
        promotion's no-regression gate would pass as "no champion yet"), and is recorded as
        forced. The policies on ``model.promote`` are asked (``change: delete``)."""
        validate_name(alias, kind="alias")
        with self._store.connect() as conn:
            model = self._model(conn, validate_name(name, kind="model name"))
            current = self._holder(conn, model.id, alias)
            aliases = self._aliases(conn, model.id)
        reason = (reason or "").strip()
        forced = alias == CHAMPION
        if forced:
            self._access.require("model.promote", model.project)
            self._access.require("model.promote_force", model.project)
            if not reason:
                raise InvalidInput(
                    "removing champion outside a promotion is a forced change: it needs a reason",
                    hint='add --reason "why there is no champion", or promote another version',
                )
        else:
            self._access.require("model.alias", model.project)
        self._check_reason(reason)
        if current is None:
            raise NotFound(f"model {name!r} has no alias {alias!r}")
        self._ask_policies(
            f"{model.name}@{alias}",
            model.name,
            model.project,
            alias,
            "delete",
            None,
            current,
            aliases,
            forced=forced,
        )
        now = utcnow()
        with self._store.begin() as conn:
            if self._holder(conn, model.id, alias) != current:
                raise Conflict(f"{name}@{alias} moved meanwhile", hint="run the command again")
            conn.execute(
                model_aliases.delete().where(
                    model_aliases.c.model_id == model.id, model_aliases.c.alias == alias
                )
            )
            move = AliasMove(name, alias, current, None, forced, reason, now, self._actor.name)
            self._history(conn, model.id, move)
            audit.record(
                conn,
                self._actor,
                "model.alias_delete",
                "model",
                name,
                {"alias": alias, "from": current, "forced": forced, "reason": reason},
            )
        return move

    @staticmethod
    def _aliases(conn: Connection, model_id: str) -> dict[str, int]:
        """Every alias of a model and the version it names now."""
        rows = conn.execute(
            select(model_aliases.c.alias, model_versions.c.version)
            .join(model_versions, model_versions.c.id == model_aliases.c.version_id)
            .where(model_aliases.c.model_id == model_id)
            .order_by(model_aliases.c.alias)
        ).all()
        return {str(alias): int(version) for alias, version in rows}

    def _check_reason(self, reason: str) -> None:
        chars_max = self._limits.model_reason_chars_max
        if len(reason) > chars_max:
            raise InvalidInput(
                f"the reason is longer than {chars_max} characters (limits.model_reason_chars_max)"
            )

    def _ask_policies(
        self,
        object_ref: str,
        name: str,
        project: str,
        alias: str,
        change: str,
        version: ModelVersion | None,
        current: int | None,
        aliases: Mapping[str, int],
        *,
        results: builtins.list[gates.GateResult] | None = None,
        forced: bool = False,
        environment: str | None = None,
        holds: Sequence[Hold] = (),
    ) -> None:
        """The policies on ``model.promote``, asked before every alias move (promote, alias,
        delete), never skipped (``--force`` overrides gates, not policies). They see which
        alias moves (``alias``), how (``change``), from and to which version, and every alias
        of the model now (``aliases``)."""
        if self._policies is None:
            return
        gate_list = results or []
        self._policies.enforce(
            "model.promote",
            object_ref,
            {
                "model": name,
                "version": version.version if version is not None else None,
                "alias": alias,
                "change": change,
                "from_version": current,
                "aliases": dict(aliases),
                "metrics": (
                    {k: v for k, v in version.metrics.items() if v is not None}
                    if version is not None
                    else {}
                ),
                "gates": [{"name": r.name, "passed": r.passed} for r in gate_list],
                "gates_passed": results is not None and all(r.passed for r in gate_list),
                "forced": forced,
                "environment": environment or "",
                "sandboxed": self._sandboxed(version),
            },
            project=project,
            holds=holds,
        )

    def _sandboxed(self, version: ModelVersion | None) -> bool:
        """Whether ``version``'s training run was held by the training sandbox (its
        filesystem view: training/sandbox.py); False for a model registered without one."""
        if version is None or not version.run_id:
            return False
        with self._store.connect() as conn:
            environment = conn.execute(
                select(runs.c.environment).where(runs.c.id == version.run_id)
            ).scalar_one_or_none()
        held = (environment or {}).get("sandbox") if isinstance(environment, dict) else None
        return bool(isinstance(held, dict) and held.get("filesystem"))

    def _holder(self, conn: Connection, model_id: str, alias: str) -> int | None:
        found = conn.execute(
            select(model_versions.c.version)
            .join(model_aliases, model_aliases.c.version_id == model_versions.c.id)
            .where(model_aliases.c.model_id == model_id, model_aliases.c.alias == alias)
        ).scalar()
        return None if found is None else int(found)

    def _move(
        self,
        version: ModelVersion,
        alias: str,
        *,
        forced: bool,
        reason: str,
        action: str,
        details: Mapping[str, Any] | None = None,
        expected: tuple[bool, int | None] | None = None,
    ) -> AliasMove:
        now = utcnow()
        with self._store.begin() as conn:
            status = conn.execute(
                select(model_versions.c.status).where(model_versions.c.id == version.id)
            ).scalar()
            if status != "ready":
                raise Conflict(
                    f"{version.ref} is archived: an alias cannot point at it",
                    hint="choose a version that is not archived",
                )
            model_id = conn.execute(
                select(model_versions.c.model_id).where(model_versions.c.id == version.id)
            ).scalar_one()
            current = self._holder(conn, model_id, alias)
            if expected is not None and expected[0] and current != expected[1]:
                raise Conflict(
                    f"{version.name}@{alias} moved while the gates were checked "
                    f"(now version {current})",
                    hint="promote again",
                )
            if current is None:
                conn.execute(
                    model_aliases.insert().values(
                        model_id=model_id,
                        alias=alias,
                        version_id=version.id,
                        updated_at=now,
                        updated_by=self._actor.name,
                    )
                )
            else:
                conn.execute(
                    model_aliases.update()
                    .where(model_aliases.c.model_id == model_id, model_aliases.c.alias == alias)
                    .values(version_id=version.id, updated_at=now, updated_by=self._actor.name)
                )
            move = AliasMove(
                version.name,
                alias,
                current,
                version.version,
                forced,
                reason,
                now,
                self._actor.name,
            )
            self._history(conn, model_id, move)
            audit.record(
                conn,
                self._actor,
                action,
                "model_version",
                version.ref,
                {
                    "alias": alias,
                    "from": current,
                    "to": version.version,
                    "forced": forced,
                    "reason": reason,
                    **(details or {}),
                },
            )
        return move

    def _history(self, conn: Connection, model_id: str, move: AliasMove) -> None:
        conn.execute(
            model_alias_history.insert().values(
                id=new_id(),
                model_id=model_id,
                alias=move.alias,
                from_version=move.from_version,
                to_version=move.to_version,
                forced=move.forced,
                reason=move.reason,
                moved_at=move.moved_at,
                moved_by=move.moved_by,
            )
        )

    def alias_history(self, name: str) -> builtins.list[AliasMove]:
        """Every move of every alias of ``name``, oldest first."""
        with self._store.connect() as conn:
            model = self._model(conn, validate_name(name, kind="model name"))
            rows = conn.execute(
                select(model_alias_history)
                .where(model_alias_history.c.model_id == model.id)
                .order_by(model_alias_history.c.moved_at, model_alias_history.c.id)
            ).all()
        return [
            AliasMove(
                name,
                r.alias,
                r.from_version,
                r.to_version,
                bool(r.forced),
                r.reason,
                r.moved_at,
                r.moved_by,
            )
            for r in rows
        ]

    # -- promotion ---------------------------------------------------------------------------

    def check_promotion(
        self,
        ref: str,
        alias: str = CHAMPION,
        *,
        force: bool = False,
        reason: str | None = None,
    ) -> PromotionCheck:
        """Everything ``promote`` checks before it asks the policies, with no side effect: the
        permissions, the reason a forced promotion needs, that the version is not archived,
        and every gate (raises :class:`GatesFailed` unless they pass or ``force`` overrides
        them). A caller that must spend an approval of its own first (a prod deployment's
        promotion) calls this before, so that a failed gate leaves its approval unspent."""
        validate_name(alias, kind="alias")
        with self._store.connect() as conn:
            version = self._get(conn, ref)
            model = self._model(conn, version.name)
            current = self._holder(conn, model.id, alias)
            aliases = self._aliases(conn, model.id)
        self._access.require("model.promote", version.project)
        reason = (reason or "").strip()
        if force:
            self._access.require("model.promote_force", version.project)
            if not reason:
                raise InvalidInput(
                    "--force needs a reason", hint='add --reason "why the gates are overridden"'
                )
        self._check_reason(reason)
        if version.status != "ready":
            raise Conflict(f"{version.ref} is archived and cannot be promoted")
        results = self.check_gates(version, alias)
        failed = [r for r in results if not r.passed]
        if failed and not force:
            lines = gates.failure_lines(results)
            raise GatesFailed(
                f"promotion of {version.ref} to {alias} refused: {len(failed)} gate(s) failed\n"
                + "\n".join(lines),
                hint="fix the model or its card, or (if allowed) override with --force "
                '--reason "..."',
                results=results,
            )
        return PromotionCheck(version, alias, current, dict(aliases), results, reason)

    def promote(
        self,
        ref: str,
        alias: str = CHAMPION,
        *,
        force: bool = False,
        reason: str | None = None,
        environment: str | None = None,
        holds: Sequence[Hold] = (),
    ) -> Promotion:
        """Move ``alias`` (default ``champion``) to ``ref`` if every gate stored with the
        version passes and the policies on ``model.promote`` allow it. ``force`` (with a
        ``reason``; needs ``model.promote_force``) overrides failed gates, never a policy.
        The gates are checked first (``check_promotion``): a failed one spends no approval.
        ``holds``: other actions' policy checks this promotion completes (a prod deployment's,
        ``ws.policies.hold``): their approvals are spent only if these policies allow it."""
        check = self.check_promotion(ref, alias, force=force, reason=reason)
        version, current, results, reason = (
            check.version,
            check.current,
            check.results,
            check.reason,
        )
        failed = [r for r in results if not r.passed]
        forced = bool(force and failed)
        # Policies after the gates (they see the results), and whether or not it is forced.
        self._ask_policies(
            version.ref,
            version.name,
            version.project,
            alias,
            "promote",
            version,
            current,
            check.aliases,
            results=results,
            forced=forced,
            environment=environment,
            holds=holds,
        )
        if current == version.version:
            return Promotion(
                version.name, alias, current, version.version, False, reason, results, changed=False
            )
        self._move(
            version,
            alias,
            forced=forced,
            reason=reason,
            action="model.promote",
            details={
                "gates": [r.as_dict() for r in results],
                "failed": [r.name for r in failed],
            },
            expected=(True, current),
        )
        return Promotion(version.name, alias, current, version.version, forced, reason, results)

    def check_gates(
        self, version: ModelVersion, alias: str = CHAMPION
    ) -> builtins.list[gates.GateResult]:
        """Each gate stored with ``version``, evaluated now (against ``alias``'s holder)."""
        config = gates.gates_config(version.gates)
        results = [gates.metric_gate(rule, version.metrics) for rule in config.rules()]
        if config.no_regression is not None:
            results.append(self._regression(version, alias, config.no_regression))
        if config.contract:
            results.append(gates.contract_gate(version.lineage))
        if config.card:
            results.append(gates.card_gate(version.card))
        return results

    def _regression(
        self, version: ModelVersion, alias: str, config: gates.NoRegression
    ) -> gates.GateResult:
        """Candidate and champion, both scored now on the candidate's validation rows."""
        from goldenpath.registry.metrics import compute

        try:
            champion = self.get(f"{version.name}@{alias}")
        except NotFound:
            return gates.regression_gate(config, version.metrics.get(config.metric), None, None)
        if champion.id == version.id:
            return gates.regression_gate(config, version.metrics.get(config.metric), None, None)
        if version.validation_digest is None:
            return gates.regression_gate(
                config, None, None, champion.ref, "the candidate keeps no validation rows"
            )
        rows = _read_parquet(self._artifacts.read_bytes(version.validation_digest))
        label = rows.attrs.get("label") or rows.columns[-1]
        y = rows[label].to_numpy()
        missing = [i["name"] for i in champion.signature["inputs"] if i["name"] not in rows]
        if missing:
            return gates.regression_gate(
                config,
                None,
                None,
                champion.ref,
                f"the champion {champion.ref} takes feature(s) the candidate's validation rows "
                f"lack: {', '.join(missing[:5])}",
            )
        mine = compute(version.task, y, self._scores(version, rows))[config.metric]
        try:
            champion_scores = self._scores(champion, rows)
        except InvalidInput as exc:  # a value of a type the champion cannot read
            return gates.regression_gate(
                config,
                mine,
                None,
                champion.ref,
                f"the champion {champion.ref} cannot score the candidate's validation rows: "
                f"{exc.message}",
            )
        theirs = compute(version.task, y, champion_scores)[config.metric]
        return gates.regression_gate(config, mine, theirs, champion.ref)

    # -- archive and card --------------------------------------------------------------------

    def archive(self, ref: str) -> ModelVersion:
        """Mark a version archived (kept, never served by alias). Needs ``model.archive``; a
        version an alias points at must lose the alias first."""
        with self._store.connect() as conn:
            version = self._get(conn, ref)
        self._access.require("model.archive", version.project)
        with self._store.begin() as conn:
            held = sorted(
                conn.execute(
                    select(model_aliases.c.alias).where(model_aliases.c.version_id == version.id)
                ).scalars()
            )
            if held:
                raise Conflict(
                    f"{version.ref} is {', '.join(held)}: move the alias first",
                    hint=f"promote another version, or: gp models alias {version.name} "
                    f"{held[0]} --delete",
                )
            if version.status == "archived":
                return version
            conn.execute(
                model_versions.update()
                .where(model_versions.c.id == version.id)
                .values(status="archived")
            )
            audit.record(conn, self._actor, "model.archive", "model_version", version.ref, {})
        return self.get(version.ref)

    def card(self, ref: str) -> dict[str, Any]:
        """The version's model card."""
        return self.get(ref).card

    def update_card(self, ref: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Set editable card fields (``cards.EDITABLE``). Needs ``model.register``."""

        changes = cards.check_fields(fields, self._limits)
        if not changes:
            raise InvalidInput("no card fields to set", hint="for example: intended_use=...")
        with self._store.connect() as conn:
            version = self._get(conn, ref)
        self._access.require("model.register", version.project)
        card = {**version.card, **changes}
        with self._store.begin() as conn:
            conn.execute(
                model_versions.update().where(model_versions.c.id == version.id).values(card=card)
            )
            audit.record(
                conn,
                self._actor,
                "model.card",
                "model_version",
                version.ref,
                {"fields": sorted(changes)},
            )
        return card

    # -- scoring -----------------------------------------------------------------------------

    def predict(self, ref: str, frame: pd.DataFrame) -> pd.DataFrame:
        """Score ``frame`` (a column per signature input) with the version's ONNX graph:
        ``label`` and ``probability`` (of the positive class) for classification,
        ``prediction`` for regression; one row per input row, in order."""
        import pandas as pd

        from goldenpath.registry import scoring

        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput("predict takes a pandas DataFrame")
        rows_max = self._limits.model_predict_rows_max
        if len(frame) > rows_max:
            raise InvalidInput(
                f"{len(frame):,} rows; predict scores at most {rows_max:,} per call "
                "(limits.model_predict_rows_max)",
                hint="score in batches",
            )
        version = self.get(ref)
        if len(frame) == 0:
            columns = (
                ["label", "probability"] if version.task == "classification" else ["prediction"]
            )
            return pd.DataFrame({c: [] for c in columns})
        outputs = self._run(version, frame)
        if version.task == "classification":
            return pd.DataFrame(
                {
                    "label": outputs["label"].reshape(-1),
                    "probability": scoring.scores(outputs, version.signature),
                }
            )
        return pd.DataFrame({"prediction": scoring.scores(outputs, version.signature)})

    def _run(self, version: ModelVersion, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        from goldenpath.registry import scoring

        sess = scoring.session(
            version.onnx_digest, load=lambda: self._artifacts.read_bytes(version.onnx_digest)
        )
        return scoring.run(sess, frame, version.signature)

    def _scores(self, version: ModelVersion, frame: pd.DataFrame) -> np.ndarray:
        from goldenpath.registry import scoring

        return scoring.scores(self._run(version, frame), version.signature)

    def onnx(self, ref: str) -> tuple[ModelVersion, bytes]:
        """The version and its ONNX graph's bytes (re-checked against ``onnx_digest``): what
        a serving process loads."""
        version = self.get(ref)
        return version, self._artifacts.read_bytes(version.onnx_digest)

    def load_native(self, ref: str) -> Any:
        """The native model (for retraining and explanation), loaded without unpickling: a
        scikit-learn estimator (skops, types checked), a ``lightgbm.Booster`` or an
        ``xgboost.Booster``. The artifact must still match its sha256."""
        version = self.get(ref)
        return native.load(version.native_format, self._artifacts.read_bytes(version.native_digest))


def _parse(ref: str) -> tuple[str, int | None, str | None]:
    """``name`` | ``name@N`` | ``name@alias``."""
    if not isinstance(ref, str) or len(ref) > 200:
        raise InvalidInput("a model reference is text: name, name@N or name@alias")
    name, sep, tail = ref.partition("@")
    validate_name(name, kind="model name")
    if not sep:
        return name, None, None
    if _DIGITS.fullmatch(tail):
        number = int(tail)
        if not 1 <= number <= MAX_VERSION:
            raise InvalidInput(f"invalid version {tail!r} in {ref!r}")
        return name, number, None
    validate_name(tail, kind="version or alias")
    return name, None, tail


def _ranges(numbers: builtins.list[int]) -> str:
    if len(numbers) <= 10:
        return ", ".join(str(n) for n in numbers)
    return f"1 to {numbers[-1]} ({len(numbers)} versions)"


def _lineage(lineage: Mapping[str, Any] | None, limits: Limits) -> dict[str, Any]:
    """The lineage mapping, checked for shape and size (``limits.model_lineage_*``; it is
    stored as JSON)."""
    if lineage is None:
        return {}
    if not isinstance(lineage, Mapping):
        raise InvalidInput("lineage must be a mapping")
    # contracts: per dataset, whether its contract checked it (the gate reads contract_passed)
    # threshold: the probability the metrics at a threshold (f1) used
    allowed = {
        "training_set",
        "datasets",
        "feature_versions",
        "contract_passed",
        "contracts",
        "threshold",
    }
    unknown = sorted(str(k) for k in lineage if k not in allowed)
    if unknown:
        raise InvalidInput(
            f"unknown lineage key(s): {', '.join(unknown[:5])}",
            hint=f"lineage takes: {', '.join(sorted(allowed))}",
        )
    out = dict(lineage)
    items_max = limits.model_lineage_items_max
    for key in ("datasets", "feature_versions", "contracts"):
        items = out.get(key) or []
        if not isinstance(items, list | tuple) or len(items) > items_max:
            raise InvalidInput(
                f"lineage {key}: a list of at most {items_max} items "
                "(limits.model_lineage_items_max)"
            )
        if not all(isinstance(i, Mapping) for i in items):
            raise InvalidInput(f"lineage {key}: each item is a mapping")
        out[key] = [dict(i) for i in items]
    training = out.get("training_set")
    if training is not None and not isinstance(training, Mapping):
        raise InvalidInput("lineage training_set: a mapping with id, ref and fingerprint")
    if training is not None:
        out["training_set"] = dict(training)
    if "contract_passed" in out and not isinstance(out["contract_passed"], bool | None):
        raise InvalidInput("lineage contract_passed must be true or false")
    threshold = out.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold < 1
    ):
        raise InvalidInput("lineage threshold: a probability between 0 and 1")
    import json

    try:
        text = json.dumps(out)
    except (TypeError, ValueError):
        raise InvalidInput("lineage must hold JSON values only") from None
    if len(text) > limits.model_lineage_max_bytes:  # ASCII: json.dumps escapes the rest
        raise InvalidInput(
            f"lineage is larger than {limits.model_lineage_max_bytes:,} bytes as JSON "
            "(limits.model_lineage_max_bytes)"
        )
    return dict(json.loads(text))


def _json_bytes(value: Any) -> bytes:
    import json

    return json.dumps(value, sort_keys=True, allow_nan=False).encode("utf-8")


def _parquet(frame: pd.DataFrame, label: str) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame.reset_index(drop=True), preserve_index=False)
    table = table.replace_schema_metadata({"goldenpath.label": label})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def _read_parquet(data: bytes) -> pd.DataFrame:
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(data))
    frame = table.to_pandas()
    meta = table.schema.metadata or {}
    label = meta.get(b"goldenpath.label")
    if label is not None:
        frame.attrs["label"] = label.decode()
    return frame
