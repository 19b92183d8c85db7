"""``gp train``: contract check -> training set -> split -> train -> evaluate -> register.

Each step reports as it ends (``on_step``), and the whole pipeline is one run
(training/runs.py) that records the parameters, metrics, environment, inputs (as lineage
edges), the training log, the resolved configuration and the entry file's source, so that
``gp runs rerun RUN`` can train the same model again from the same training-set version.

Training itself happens in a child process (training/child.py) with a time limit. The
training set is cached by the fingerprint of everything it reads (the entity dataset version,
the feature definitions' versions and their source datasets' versions): re-running with nothing
changed reuses the stored training set and says so.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from goldenpath.core import processes
from goldenpath.core.artifacts import ArtifactStore
from goldenpath.core.errors import GoldenpathError, InvalidInput, TrainingFailed
from goldenpath.registry.metrics import Evaluation, evaluate
from goldenpath.training import child, sandbox
from goldenpath.training.config import (
    ParamValue,
    TrainingConfig,
    apply_param_overrides,
    load_training_config,
)
from goldenpath.training.environment import capture
from goldenpath.training.process import run_child
from goldenpath.training.runs import TRAIN_LOG, TRAIN_WORKDIR_PREFIX

if TYPE_CHECKING:
    from goldenpath.data.service import DatasetService
    from goldenpath.features.service import FeatureStore
    from goldenpath.registry.service import ModelRegistry
    from goldenpath.training.runs import ActiveRun, RunService

CACHE_TAG = "training_set_key"
CONFIG_ARTIFACT = "training.json"
ENTRY_ARTIFACT = "entry.py"
LOG_ARTIFACT = TRAIN_LOG
LOG_BYTES_MAX = 4 << 20
FEATURES_FILE = "features.py"
WORK_DIR_PREFIX = TRAIN_WORKDIR_PREFIX  # gp-train-<run id>-<random>
OWNER_FILE = "owner.json"
# A work dir without an owner file is one whose process died between making it and writing
# the file (or one made before owner files existed): removed once this old.
UNOWNED_STALE_SECONDS = 3600


def write_owner(workdir: Path) -> None:
    """Record this process as the owner of ``workdir`` (what the sweep reads)."""
    (workdir / OWNER_FILE).write_text(json.dumps(processes.identity()), encoding="utf-8")


def sweep_stale_work_dirs(scratch: Path) -> list[Path]:
    """Remove the work dirs under ``scratch`` whose owner process is gone (a ``gp train``
    killed with SIGKILL cannot remove its own); keep those of live processes and those this
    machine cannot judge (another host). Returns what was removed."""
    removed = []
    for path in scratch.glob(f"{WORK_DIR_PREFIX}*"):
        try:
            owner = json.loads((path / OWNER_FILE).read_text(encoding="utf-8"))
            stale = isinstance(owner, dict) and processes.is_alive(owner) is False
        except FileNotFoundError:
            try:
                stale = time.time() - path.stat().st_mtime > UNOWNED_STALE_SECONDS
            except OSError:
                continue
        except (OSError, ValueError):
            continue
        if stale:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


# The steps of a training run, in order (each ends with a StepEvent).
STEPS = ("contract", "training_set", "split", "train", "evaluate", "register")


@dataclass(frozen=True)
class StepEvent:
    """One finished step: its name, what it did in one line, and how long it took."""

    step: str
    detail: str
    seconds: float


@dataclass
class TrainResult:
    """What ``gp train`` / ``gp runs rerun`` made."""

    run_id: str
    model: str  # name@version
    fingerprint: str
    training_set: str
    reused_training_set: bool
    metrics: dict[str, float | None]
    evaluation: dict[str, Any]
    steps: list[StepEvent] = field(default_factory=list)
    seconds: float = 0.0
    # An earlier version with the same fingerprint (a rerun reproduced it): "fraud@1".
    same_fingerprint_as: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "run": self.run_id,
            "model": self.model,
            "fingerprint": self.fingerprint,
            "same_fingerprint_as": self.same_fingerprint_as,
            "training_set": self.training_set,
            "reused_training_set": self.reused_training_set,
            "metrics": self.metrics,
            "evaluation": self.evaluation,
            "steps": [
                {"step": s.step, "detail": s.detail, "seconds": round(s.seconds, 3)}
                for s in self.steps
            ],
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _Plan:
    """Everything the steps after the training set need, from gp train or from a rerun."""

    config: TrainingConfig
    params: dict[str, ParamValue]
    project_dir: Path
    entry_source: bytes
    rerun_of: str | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    # A rerun's contract results: the original's, as its model version recorded them.
    contracts: list[dict[str, Any]] | None = None


class TrainingService:
    """``ws.training``: the training pipeline over the datasets, the feature store, runs and
    the model registry (each checks the acting principal's permissions)."""

    def __init__(
        self,
        datasets: DatasetService,
        features: FeatureStore,
        runs: RunService,
        models: ModelRegistry,
        storage_root: Path,
        protected: Sequence[Path] = (),
    ) -> None:
        """``protected``: what train.py must never read (the workspace, its storage and
        database, the audit key), though it lie inside the project or Python folders."""
        self._protected = [storage_root, *protected]
        self._datasets = datasets
        self._features = features
        self._runs = runs
        self._models = models
        self._artifacts = ArtifactStore(storage_root)
        self._scratch = storage_root / "tmp"

    # -- entry points ------------------------------------------------------------------------

    def train(
        self,
        project_dir: Path | str = ".",
        *,
        params: Sequence[str] = (),
        no_cache: bool = False,
        on_step: Callable[[StepEvent], None] | None = None,
    ) -> TrainResult:
        """Run the project's training pipeline; raise :class:`TrainingFailed` naming the step
        (the run is recorded as failed, with its traceback)."""
        project = Path(project_dir).resolve()
        config = load_training_config(project)
        resolved = apply_param_overrides(config.params, list(params))
        entry = project / config.entry_file
        if not entry.is_file():
            raise InvalidInput(
                f"{config.entry_file} not found in {project}",
                hint="write a train(ctx) function there (docs/training.md), or point "
                "training.entry in gp.yaml at your file",
            )
        from goldenpath.registry.cards import check_fields

        try:
            check_fields(config.card, self._models.limits)
        except InvalidInput as exc:
            raise InvalidInput(f"gp.yaml: training.card: {exc.message}", hint=exc.hint) from None
        plan = _Plan(config, resolved, project, entry.read_bytes())
        return self._run(plan, no_cache=no_cache, training_set_ref=None, on_step=on_step)

    def rerun(
        self, run_ref: str, *, on_step: Callable[[StepEvent], None] | None = None
    ) -> TrainResult:
        """Train again with a run's recorded configuration, parameters, seed, entry source and
        training-set version; the new run says which it reruns."""
        original = self._runs.get(run_ref)
        artifacts = {a["name"]: a["digest"] for a in original.artifacts}
        if CONFIG_ARTIFACT not in artifacts or ENTRY_ARTIFACT not in artifacts:
            raise InvalidInput(
                f"run {original.id} was not made by gp train, so there is nothing to rerun",
                hint="rerun a run listed with: gp runs list --filter \"source = 'pipeline'\"",
            )
        recorded = json.loads(self._artifacts.read_bytes(artifacts[CONFIG_ARTIFACT]))
        training_set = next((i for i in original.inputs if i.get("kind") == "training_set"), None)
        if training_set is None:
            raise InvalidInput(
                f"run {original.id} failed before it had a training set; nothing to rerun",
                hint="run gp train again instead",
            )
        plan = _Plan(
            TrainingConfig.model_validate(recorded["config"]),
            dict(recorded["params"]),
            Path(recorded["project_dir"]),
            self._artifacts.read_bytes(artifacts[ENTRY_ARTIFACT]),
            rerun_of=original.id,
            contracts=self._original_contracts(original),
        )
        return self._run(
            plan, no_cache=False, training_set_ref=str(training_set["ref"]), on_step=on_step
        )

    # -- the pipeline ------------------------------------------------------------------------

    def _run(
        self,
        plan: _Plan,
        *,
        no_cache: bool,
        training_set_ref: str | None,
        on_step: Callable[[StepEvent], None] | None,
    ) -> TrainResult:
        config = plan.config
        started = time.perf_counter()
        steps: list[StepEvent] = []
        if self._scratch.is_dir():
            sweep_stale_work_dirs(self._scratch)

        def done(step: str, detail: str, since: float) -> None:
            event = StepEvent(step, detail, time.perf_counter() - since)
            steps.append(event)
            if on_step is not None:
                on_step(event)

        tags = {"model": config.model}
        if plan.rerun_of:
            tags["rerun_of"] = plan.rerun_of
        run = self._runs.start(
            experiment=config.model,
            params={k: plan.params[k] for k in sorted(plan.params)},
            tags=tags,
            seed=config.seed,
            source="pipeline",
            rerun_of=plan.rerun_of,
        )
        # The heartbeat, written while this process works: a reader elsewhere that finds it
        # stale marks the run failed (process lost); ``lost`` is set if one already has.
        keeper = run.keep_alive()
        lost = keeper.__enter__()
        step = "contract"
        try:
            run.set_environment(
                {
                    **capture(plan.project_dir, config.seed),
                    "sandbox": sandbox.describe(network=config.network),
                }
            )
            run.log_artifact(
                CONFIG_ARTIFACT,
                json.dumps(
                    {
                        "config": config.model_dump(mode="json"),
                        "params": plan.params,
                        "project_dir": str(plan.project_dir),
                    },
                    sort_keys=True,
                ).encode(),
            )
            run.log_artifact(ENTRY_ARTIFACT, plan.entry_source)

            since = time.perf_counter()
            dataset = self._datasets.get(config.dataset) if training_set_ref is None else None
            contracts = self._contracts(dataset) if plan.contracts is None else plan.contracts
            passed = all(c["checked"] for c in contracts)
            done(
                "contract",
                "; ".join(c["detail"] for c in contracts) or "nothing to check",
                since,
            )

            step = "training_set"
            since = time.perf_counter()
            table, info, reused = self._training_set(
                config, plan, dataset, training_set_ref, no_cache, run
            )
            how = (
                f"{info.ref} reused: nothing it reads has changed (--no-cache rebuilds it)"
                if reused
                else f"{info.ref} built: {info.row_count:,} rows"
            )
            done("training_set", how, since)

            step = "split"
            since = time.perf_counter()
            inputs = _inputs(config, table, list(info.spec["features"]))
            train_df, valid_df, split_detail = _split(config, table, inputs)
            done("split", split_detail, since)

            step = "train"
            since = time.perf_counter()
            with tempfile.TemporaryDirectory(
                prefix=f"{TRAIN_WORKDIR_PREFIX}{run.id}-", dir=self._scratch_dir()
            ) as tmp:
                workdir = Path(tmp)
                write_owner(workdir)
                # The validation rows exactly as the training process will read them, held
                # here: the child can rewrite its copy in the work dir, never this one.
                valid_bytes = _parquet_bytes(valid_df)
                valid_df = pd.read_parquet(io.BytesIO(valid_bytes))
                outcome, log_text = self._train_in_child(
                    workdir, plan, train_df, valid_bytes, inputs, lost
                )
                run.log_artifact(LOG_ARTIFACT, log_text)
                failure = outcome.failure(config.time_limit)
                if failure is not None:
                    raise _StepError(*failure)
                from goldenpath.registry.packaging import Package

                # Only the model artifact is read back from the work dir.
                package = Package.read(workdir / child.PACKAGE_DIR)
            model_type = (outcome.result or {}).get("model_type", "model")
            done(
                "train",
                f"{model_type} in {outcome.wall_s:.1f}s (CPU {outcome.cpu_s:.1f}s)",
                since,
            )

            step = "evaluate"
            since = time.perf_counter()
            # Scored here, by the ONNX graph (the model that is served), on the rows held
            # here: not the native scores the training process wrote beside it.
            from goldenpath.registry.scoring import package_scores

            scores = package_scores(package, valid_df)
            evaluation = evaluate(
                config.task,
                valid_df[config.label].to_numpy(),
                scores,
                threshold=config.threshold,
                segments={c: valid_df[c].to_numpy() for c in config.segments},
            )
            metrics = {k: float(v) for k, v in evaluation.metrics.items()}
            run.log_metrics(metrics)
            for column, values in evaluation.segments.items():
                for value, entry in values.items():
                    for name, number in (entry.get("metrics") or {}).items():
                        if number is not None:
                            run.log_metric(f"{name}.{column}.{value}"[:250], number)
            done("evaluate", _metric_line(evaluation), since)

            step = "register"
            since = time.perf_counter()
            lineage = {
                "training_set": {
                    "id": info.id,
                    "ref": info.ref,
                    "fingerprint": info.fingerprint,
                },
                "datasets": [
                    {"id": i["id"], "ref": i["ref"]}
                    for i in plan.inputs
                    if i["kind"] == "dataset_version"
                ],
                "feature_versions": self._features.versions_read_by(info.ref),
                "contract_passed": passed,
                "contracts": contracts,
                # What the metrics at a threshold (f1) used: shown with them.
                "threshold": evaluation.threshold,
            }
            version = self._models.register_package(
                config.model,
                package,
                validation=valid_df[[*inputs, config.label]],
                label=config.label,
                task=config.task,
                metrics=metrics,
                run_id=run.id,
                lineage=lineage,
                gates=config.gates,
                card=config.card,
            )
            model_ref = f"{version.name}@{version.version}"
            run.set_tag("model_version", model_ref)
            same_as = self._models.same_fingerprint(version)
            done(
                "register",
                f"{model_ref} (fingerprint {version.fingerprint[:12]}"
                + (f"; same fingerprint as {same_as}: the same model)" if same_as else ")"),
                since,
            )
            run.end("finished", cpu_s=outcome.cpu_s)
        except _StepError as exc:
            run.fail(exc.step, exc.message, exc.traceback)
            raise TrainingFailed(exc.step, exc.message, run.id) from None
        except GoldenpathError as exc:
            run.fail(step, exc.message, "")
            raise TrainingFailed(step, exc.message, run.id, hint=exc.hint) from None
        except BaseException as exc:
            import traceback

            run.fail(step, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            raise
        finally:
            keeper.__exit__(None, None, None)
        return TrainResult(
            run_id=run.id,
            model=model_ref,
            fingerprint=version.fingerprint,
            same_fingerprint_as=same_as,
            training_set=info.ref,
            reused_training_set=reused,
            metrics={k: (v if np.isfinite(v) else None) for k, v in metrics.items()},
            evaluation=evaluation.as_dict(),
            steps=steps,
            seconds=time.perf_counter() - started,
        )

    # -- steps -------------------------------------------------------------------------------

    def _scratch_dir(self) -> Path:
        self._scratch.mkdir(parents=True, exist_ok=True)
        return self._scratch

    def _original_contracts(self, original: Any) -> list[dict[str, Any]]:
        """The contract results of the run a rerun repeats (what its version recorded)."""
        ref = original.tags.get("model_version")
        if ref:
            try:
                return list(self._models.get(ref).lineage.get("contracts") or [])
            except GoldenpathError:
                pass
        return [
            {
                "dataset": "(unknown)",
                "checked": False,
                "detail": f"run {original.id} registered no model, so its contract check is "
                "unknown (the contract gate will fail)",
            }
        ]

    def _contracts(self, dataset: Any) -> list[dict[str, Any]]:
        """Whether each dataset the model learns from was checked by its contract: the entity
        dataset's version, and every batch in it since the table was last replaced."""
        history = self._datasets.history(dataset.dataset)
        since_replace: list[Any] = []
        for version in history:
            if version.version > dataset.version:
                break
            if version.mode == "overwrite":
                since_replace = []
            since_replace.append(version)
        unchecked = [v.ref for v in since_replace if v.contract_sha256 is None]
        if unchecked:
            detail = (
                f"{dataset.ref}: not checked by a contract ({', '.join(unchecked[:3])} had "
                "none; the contract gate will fail)"
            )
        else:
            detail = f"{dataset.ref}: every batch checked by its contract"
        return [{"dataset": dataset.ref, "checked": not unchecked, "detail": detail}]

    def _feature_refs(self, config: TrainingConfig) -> tuple[list[str], dict[str, Any]]:
        """The feature references asked for and the catalog state they depend on (each
        definition's version and content, each source dataset's newest version)."""
        state: dict[str, Any] = {"definitions": {}, "datasets": {}}
        if config.feature_service is not None:
            service = self._features.show(config.feature_service)
            refs = list(service.content["features"])
            state["definitions"][f"service:{service.name}"] = service.version
        else:
            refs = list(config.features or [])
        pending = list(dict.fromkeys(r.split(":")[0] for r in refs))
        seen: set[str] = set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            entry = self._features.show(name)
            content = entry.content
            state["definitions"][f"view:{name}"] = [entry.version, content]
            source = content.get("source")
            sources = (
                [source]
                if isinstance(source, str)
                else list(source.get("datasets", []))
                if isinstance(source, dict)
                else []
            )
            for dataset_name in sources:
                state["datasets"][dataset_name] = self._datasets.get(dataset_name).id
            pending += [str(i).split(":")[0] for i in content.get("inputs", []) if ":" in str(i)]
        return refs, state

    def _training_set(
        self,
        config: TrainingConfig,
        plan: _Plan,
        dataset: Any,
        pinned: str | None,
        no_cache: bool,
        run: ActiveRun,
    ) -> tuple[pa.Table, Any, bool]:
        if pinned is not None:  # a rerun: exactly the training set the original read
            info = self._features.get_training_set(pinned)
            table = self._features.read_training_set(info.ref)
            self._record_input(
                run, plan, "training_set", info.id, info.ref, {"fingerprint": info.fingerprint}
            )
            return table, info, True
        refs, state = self._feature_refs(config)
        key = _cache_key(config, dataset.id, refs, state)
        run.set_tag(CACHE_TAG, key)
        self._record_input(run, plan, "dataset_version", dataset.id, dataset.ref, {})
        if not no_cache:
            for earlier in self._runs.list(
                filter=f"tags.{CACHE_TAG} = '{key}'", order_by="started_at desc", limit=20
            ):
                found = next((i for i in earlier.inputs if i.get("kind") == "training_set"), None)
                if found is None or earlier.id == run.id:
                    continue
                try:
                    info = self._features.get_training_set(str(found["ref"]))
                except GoldenpathError:
                    continue
                table = self._features.read_training_set(info.ref)
                self._record_input(
                    run,
                    plan,
                    "training_set",
                    info.id,
                    info.ref,
                    {"fingerprint": info.fingerprint, "reused": True},
                )
                return table, info, True
        entities = self._entity_rows(config, dataset, refs)
        definitions = plan.project_dir / FEATURES_FILE
        built = self._features.training_set(
            entities,
            None if config.feature_service else refs,
            service=config.feature_service,
            name=f"{config.model}-train",
            timestamp_column=config.timestamp,
            **({"definitions": definitions} if definitions.is_file() else {}),
        )
        stored = built.info
        assert stored is not None  # a name was given, so it was stored
        self._record_input(
            run, plan, "training_set", stored.id, stored.ref, {"fingerprint": stored.fingerprint}
        )
        return built.table, stored, False

    def _record_input(
        self,
        run: ActiveRun,
        plan: _Plan,
        kind: str,
        id_: str,
        ref: str,
        attributes: dict[str, Any],
    ) -> None:
        run.add_input(kind, id_, ref, attributes)
        plan.inputs.append({"kind": kind, "id": id_, "ref": ref, **attributes})

    def _entity_rows(self, config: TrainingConfig, dataset: Any, refs: list[str]) -> pa.Table:
        table = self._datasets.read(dataset.ref)
        names = {r.split(":", 1)[1] for r in refs}
        needed = [config.timestamp, config.label, *config.columns, *config.segments]
        missing = [c for c in dict.fromkeys(needed) if c not in table.column_names]
        if missing:
            shown = ", ".join(c for c in table.column_names if not c.startswith("_gp_"))
            raise InvalidInput(
                f"dataset {dataset.ref} has no column(s) {', '.join(missing)} "
                "(named in gp.yaml's training section)",
                hint=f"its columns: {shown}",
            )
        clash = sorted(names & (set(config.columns) | {config.label}))
        if clash:
            raise InvalidInput(
                f"{', '.join(clash)}: both a feature and a dataset column the model reads",
                hint="drop it from training.columns (or from the features)",
            )
        keep = [c for c in table.column_names if not c.startswith("_gp_") and c not in names]
        table = table.select(keep)
        stamps = table.column(config.timestamp)
        if pa.types.is_timestamp(stamps.type) and stamps.type.tz is None:
            if config.timezone is None:
                raise InvalidInput(
                    f"{dataset.ref}: column {config.timestamp!r} has no time zone",
                    hint="say which zone its times are in: training.timezone: UTC in gp.yaml",
                )
            index = table.column_names.index(config.timestamp)
            localized = pc.assume_timezone(stamps, config.timezone)
            table = table.set_column(index, config.timestamp, localized)
        return table

    def _train_in_child(
        self,
        workdir: Path,
        plan: _Plan,
        train_df: pd.DataFrame,
        valid_bytes: bytes,
        inputs: list[str],
        lost: threading.Event,
    ) -> tuple[Any, bytes]:
        config = plan.config
        entry_path = workdir / "entry" / Path(config.entry_file).name
        entry_path.parent.mkdir()
        entry_path.write_bytes(plan.entry_source)
        train_df.to_parquet(workdir / child.TRAIN_ROWS, index=False)
        (workdir / child.VALIDATION_ROWS).write_bytes(valid_bytes)
        request = {
            "entry_path": str(entry_path),
            "function": config.entry_function,
            "project_dir": str(plan.project_dir),
            "params": plan.params,
            "seed": config.seed,
            # What packaging checks in the child (it reads no workspace config).
            "packaging_limits": self._models.limits.model_dump(
                include={"model_features_max", "model_validation_rows_max"}
            ),
            "task": config.task,
            "label": config.label,
            "features": inputs,
            "limits": config.limits.for_child(),
            "sandbox": sandbox.plan(
                workdir, plan.project_dir, self._protected, network=config.network
            ),
        }
        (workdir / child.REQUEST).write_text(json.dumps(request), encoding="utf-8")
        log_path = workdir / TRAIN_LOG
        outcome = run_child(
            workdir,
            time_limit=config.time_limit,
            log_path=log_path,
            stop=lost,
            cpu_seconds=config.limits.cpu_seconds,
            environment=config.environment,
        )
        log = log_path.read_bytes()
        if len(log) > LOG_BYTES_MAX:
            log = b"[... the start of the log is cut ...]\n" + log[-LOG_BYTES_MAX:]
        return outcome, log


def _parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def _inputs(config: TrainingConfig, table: pa.Table, refs: list[str]) -> list[str]:
    """The model's inputs in signature order: the dataset columns, then the features the
    training set holds (its recorded references: a rerun reads what the original read,
    even if the feature service has changed since)."""
    inputs = [*config.columns, *(r.split(":", 1)[1] for r in refs)]
    for name in inputs:
        kind = table.schema.field(name).type
        if not (
            pa.types.is_integer(kind)
            or pa.types.is_floating(kind)
            or pa.types.is_boolean(kind)
            or pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_null(kind)
        ):
            raise InvalidInput(
                f"model input {name!r} is {kind}: a model reads numbers, booleans or text",
                hint="derive a number from it in features.py",
            )
    return inputs


class _StepError(Exception):
    def __init__(self, step: str, message: str, traceback: str) -> None:
        super().__init__(message)
        self.step, self.message, self.traceback = step, message, traceback


def _cache_key(
    config: TrainingConfig, dataset_id: str, refs: list[str], state: dict[str, Any]
) -> str:
    """The fingerprint of a training set's inputs: equal keys build equal training sets."""
    document = {
        "dataset_version": dataset_id,
        "timestamp": config.timestamp,
        "timezone": config.timezone,
        "features": refs,
        "service": config.feature_service,
        "state": state,
    }
    text = json.dumps(document, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _labels(config: TrainingConfig, frame: pd.DataFrame) -> pd.DataFrame:
    label = frame[config.label]
    frame = frame[label.notna()]
    label = frame[config.label]
    if config.task == "classification":
        if pd.api.types.is_bool_dtype(label):
            frame = frame.assign(**{config.label: label.astype(np.int64)})
        else:
            values = set(pd.unique(label).tolist())
            if not values <= {0, 1}:
                shown = ", ".join(repr(v) for v in sorted(values, key=str)[:5])
                raise InvalidInput(
                    f"label {config.label!r} has values {shown}: binary classification "
                    "needs 0/1 or true/false",
                    hint="map the label to 0/1 in the dataset, or set task: regression",
                )
            frame = frame.assign(**{config.label: label.astype(np.int64)})
    elif not pd.api.types.is_numeric_dtype(label) or pd.api.types.is_bool_dtype(label):
        raise InvalidInput(
            f"label {config.label!r} is not a number: regression needs a numeric label",
            hint="set task: classification for a true/false label",
        )
    return frame


def _split(
    config: TrainingConfig, table: pa.Table, inputs: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame, str]:
    """Training and validation rows. By time (default): rows at or after the cut instant
    validate, so no validation-period row is trained on; by random: a seeded fraction."""
    keep = list(dict.fromkeys([*inputs, config.label, config.timestamp, *config.segments]))
    table = table.select([c for c in keep if c in table.column_names])
    for name in inputs:  # booleans reach the model as 0.0 / 1.0 (a missing one as NaN)
        index = table.column_names.index(name)
        if pa.types.is_boolean(table.schema.field(index).type):
            table = table.set_column(index, name, pc.cast(table.column(index), pa.float64()))
    frame = table.to_pandas()
    before = len(frame)
    frame = _labels(config, frame)
    unlabelled = before - len(frame)
    fraction = config.split.validation
    if config.split.by == "time":
        order = np.argsort(frame[config.timestamp].to_numpy(), kind="stable")
        frame = frame.iloc[order].reset_index(drop=True)
        cut = int(len(frame) * (1 - fraction))
        if cut <= 0 or cut >= len(frame):
            raise InvalidInput(
                f"{len(frame):,} labelled rows cannot be split {1 - fraction:.0%}/{fraction:.0%}",
                hint="add rows, or change training.split.validation",
            )
        instant = frame[config.timestamp].iloc[cut]
        is_valid = (frame[config.timestamp] >= instant).to_numpy()
        train, valid = frame[~is_valid], frame[is_valid]
        detail = (
            f"by time: {len(train):,} training rows before {instant.isoformat()}, "
            f"{len(valid):,} validation rows from it on"
        )
    else:
        rng = np.random.default_rng(config.seed)
        is_valid = np.zeros(len(frame), dtype=bool)
        is_valid[rng.permutation(len(frame))[: max(1, round(len(frame) * fraction))]] = True
        train, valid = frame[~is_valid], frame[is_valid]
        detail = f"random (seed {config.seed}): {len(train):,} training, {len(valid):,} validation"
    if train.empty or valid.empty:
        raise InvalidInput(
            "the split left no training or no validation rows (all rows share one instant?)",
            hint="use training.split.by: random, or add rows over a longer period",
        )
    if config.task == "classification" and train[config.label].nunique() < 2:
        raise InvalidInput(
            f"the training rows hold one class of {config.label!r} only",
            hint="add rows of the other class, or split by random",
        )
    if unlabelled:
        detail += f" ({unlabelled:,} rows without a label left out)"
    return train.reset_index(drop=True), valid.reset_index(drop=True), detail


def _metric_line(evaluation: Evaluation) -> str:
    """The threshold-free metrics, then those at the threshold, naming it: ``roc_auc 0.81
    ... | at threshold 0.5: f1 0.0000`` (an F1 of 0 on rare fraud is the threshold's doing)."""
    from goldenpath.registry.metrics import AT_THRESHOLD

    def shown(name: str, value: float) -> str:
        return f"{name} {value:.4f}" if np.isfinite(value) else f"{name} NaN"

    free = [shown(k, v) for k, v in evaluation.metrics.items() if k not in AT_THRESHOLD]
    fixed = [shown(k, v) for k, v in evaluation.metrics.items() if k in AT_THRESHOLD]
    line = "  ".join(free)
    if fixed and evaluation.threshold is not None:
        line += f"  | at threshold {evaluation.threshold:g}: " + "  ".join(fixed)
    elif fixed:
        line += "  " + "  ".join(fixed)
    return line + f" on {evaluation.rows:,} validation rows"
