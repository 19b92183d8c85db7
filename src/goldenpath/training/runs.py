"""Runs (``ws.runs``): parameters, metrics, tags, artifacts, environment and inputs of one
training execution, from ``gp train`` or from a notebook.

``with ws.runs.start(experiment="fraud") as run: run.log_metric("roc_auc", 0.91)`` records a
run as MLflow users expect. Logging is buffered (``training/run_log.py`` says when it is
written and what a crash loses); starting and ending are each one transaction, with the audit
events ``run.create`` and ``run.finish`` / ``run.fail``. Searches (``ws.runs.list``) parse the
filter language of ``training/run_query.py`` into indexed subqueries.

Runs belong to a project (the workspace's, ``--project``); ``list`` searches that project's
runs, ``get`` finds a run anywhere the principal may read it (``run.read``); writing needs
``run.write``, checked on every call.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import math
import platform
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, bindparam, func, select, update

from goldenpath.core import processes
from goldenpath.core.actor import Actor
from goldenpath.core.artifacts import Artifact, ArtifactStore
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import Conflict, InvalidInput, NotFound
from goldenpath.core.ids import new_id
from goldenpath.core.limits import Limits
from goldenpath.core.names import validate_name
from goldenpath.governance import audit
from goldenpath.governance.access import AccessControl
from goldenpath.lineage.edges import record_edge
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import (
    projects,
    run_artifacts,
    run_metric_history,
    run_metrics,
    run_params,
    run_tags,
    runs,
)
from goldenpath.training import run_log, run_query
from goldenpath.training.run_log import (
    ARTIFACT_NAME_CHARS_MAX,
    SOURCES,
    Pending,
    RunLogger,
    check_key,
    check_run_name,
    check_text,
    clip_error,
    param_value,
    tag_value,
)

# Crockford base32, the alphabet of ULIDs.
_ULID_CHARS = frozenset("0123456789ABCDEFGHJKMNPQRSTVWXYZ")
PREFIX_MIN = 6
SHORT_ID = 8
ENVIRONMENT_BYTES_MAX = 256 * 1024
INPUTS_MAX = 1_000
SEED_MAX = 2**63 - 1


@dataclass(frozen=True)
class RunInfo:
    """A run as recorded. ``metrics`` are the newest values (None for NaN); ``short_id`` the
    shortest prefix of ``id`` (at least 8 characters) that names only this run."""

    id: str
    project: str
    experiment: str
    name: str
    status: str
    source: str
    params: dict[str, str]
    metrics: dict[str, float | None]
    tags: dict[str, str]
    seed: int | None
    environment: dict[str, Any]
    inputs: list[dict[str, Any]]
    error: dict[str, str] | None
    rerun_of: str | None
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    cpu_s: float | None
    created_by: str
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    short_id: str = ""

    def as_dict(self) -> dict[str, Any]:
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["started_at"] = self.started_at.isoformat()
        data["ended_at"] = None if self.ended_at is None else self.ended_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunInfo:
        """The inverse of :meth:`as_dict` (what the remote SDK receives)."""
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        fields["started_at"] = datetime.fromisoformat(data["started_at"])
        ended = data.get("ended_at")
        fields["ended_at"] = None if ended is None else datetime.fromisoformat(ended)
        return cls(**fields)


@dataclass(frozen=True)
class RunComparison:
    """Two runs side by side: one row per param and metric key either has, ``differs`` set
    where they are not equal (a key only one run has differs; NaN equals NaN)."""

    a: RunInfo
    b: RunInfo
    params: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    attributes: list[dict[str, Any]]

    def as_dict(self) -> dict[str, Any]:
        return {
            "a": self.a.as_dict(),
            "b": self.b.as_dict(),
            "params": self.params,
            "metrics": self.metrics,
            "attributes": self.attributes,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunComparison:
        return cls(
            RunInfo.from_dict(data["a"]),
            RunInfo.from_dict(data["b"]),
            list(data["params"]),
            list(data["metrics"]),
            list(data["attributes"]),
        )


@cache
def _base_environment() -> dict[str, Any]:
    """What every run records of where it ran, read once per process (a pipeline adds the
    packages and git state with ``set_environment``)."""
    from goldenpath import __version__

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "goldenpath": __version__,
        "executable": sys.executable,
    }


_ADJECTIVES = [
    "amber",
    "brave",
    "calm",
    "clever",
    "crisp",
    "eager",
    "fair",
    "gentle",
    "golden",
    "happy",
    "keen",
    "lively",
    "lucky",
    "merry",
    "nimble",
    "proud",
    "quick",
    "quiet",
    "rapid",
    "silver",
    "steady",
    "sunny",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "wise",
    "bold",
]
_NOUNS = [
    "otter",
    "heron",
    "lynx",
    "falcon",
    "badger",
    "crane",
    "fox",
    "hare",
    "ibis",
    "koala",
    "lark",
    "mole",
    "newt",
    "owl",
    "panda",
    "quail",
    "raven",
    "seal",
    "swan",
    "tapir",
    "vole",
    "wren",
    "yak",
    "zebra",
    "bison",
    "gecko",
    "moose",
    "puffin",
]


def readable_name(run_id: str) -> str:
    """A run's default name from the random half of its id, e.g. ``swift-heron-417``."""
    number = int.from_bytes(run_id[-8:].encode(), "big")
    adjective = _ADJECTIVES[number % len(_ADJECTIVES)]
    noun = _NOUNS[(number // 97) % len(_NOUNS)]
    return f"{adjective}-{noun}-{number % 1000:03d}"


def _json_bounded(value: Any, what: str) -> Any:
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"{what} must be JSON (text, numbers, lists, mappings): {exc}",
            hint="convert other values to text first",
        ) from None
    if len(text) > ENVIRONMENT_BYTES_MAX:
        raise InvalidInput(
            f"{what} is {len(text):,} bytes as JSON, at most {ENVIRONMENT_BYTES_MAX:,}",
            hint="log large things as an artifact: run.log_text(name, text)",
        )
    return json.loads(text)


_UPSERTS: dict[tuple[str, str], Any] = {}


def _upsert_statement(
    dialect: str, table: Any, keys: Sequence[str], set_: Sequence[str], newer_step: bool = False
) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET set_ on either backend, built once (a
    statement built per call cost more than the write)."""
    cache_key = (dialect, table.name)
    statement = _UPSERTS.get(cache_key)
    if statement is None:
        from sqlalchemy.dialects import postgresql, sqlite

        base: Any = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        # The newest value of a metric is the one at the highest step; at one step, the later.
        where = base.excluded.step >= table.c.step if newer_step else None
        statement = _UPSERTS[cache_key] = base.on_conflict_do_update(
            index_elements=list(keys),
            set_={name: base.excluded[name] for name in set_},
            where=where,
        )
    return statement


def _upsert(
    conn: Connection,
    table: Any,
    rows: list[dict[str, Any]],
    keys: Sequence[str],
    set_: Sequence[str],
    newer_step: bool = False,
) -> None:
    if rows:
        conn.execute(_upsert_statement(conn.dialect.name, table, keys, set_, newer_step), rows)


_PARAMS_HELD = select(run_params.c.key, run_params.c.value).where(
    run_params.c.run_id == bindparam("run_id"),
    run_params.c.key.in_(bindparam("keys", expanding=True)),
)
_INSERT_PARAMS = run_params.insert()
_INSERT_HISTORY = run_metric_history.insert()
_INSERT_RUN = runs.insert()
_RUN_STATE = select(runs.c.status, runs.c.started_at).where(runs.c.id == bindparam("run_id"))
_HEARTBEAT = (
    update(runs)
    .where(runs.c.id == bindparam("run_id"), runs.c.status == "running")
    .values(heartbeat_at=bindparam("now"))
)
LOST_STEP = "lost"
LOST_REASON = "process lost"
_END_RUN = (
    update(runs)
    .where(runs.c.id == bindparam("run_id"), runs.c.status == "running")
    .values(
        status=bindparam("status"),
        ended_at=bindparam("ended_at"),
        duration_s=bindparam("duration_s"),
        cpu_s=bindparam("cpu_s"),
        error=bindparam("error"),
    )
)


def write_log(conn: Connection, run_id: str, pending: Pending) -> None:
    """Write logged entries of a running run on ``conn`` (the caller's transaction).

    :class:`Conflict` if a parameter already has another value."""
    if pending.params:
        held = dict(
            conn.execute(_PARAMS_HELD, {"run_id": run_id, "keys": list(pending.params)}).all()
        )
        for key, (text, _) in pending.params.items():
            if key in held and held[key] != text:
                raise Conflict(
                    f"param {key!r} of run {run_id} is already {held[key][:60]!r}: a parameter "
                    "is logged once, not changed",
                    hint="log what changes as a metric (with a step), or start a new run",
                )
        new = [
            {"run_id": run_id, "key": k, "value": t, "number": n}
            for k, (t, n) in pending.params.items()
            if k not in held
        ]
        if new:
            conn.execute(_INSERT_PARAMS, new)
    if pending.metrics:
        history = [
            {"run_id": run_id, "key": p.key, "step": p.step, "value": p.value, "at": p.at}
            for p in pending.metrics
        ]
        conn.execute(_INSERT_HISTORY, history)
        newest: dict[Any, dict[str, Any]] = {}
        for row in history:  # in logging order: a later point at the same step wins
            if row["key"] not in newest or row["step"] >= newest[row["key"]]["step"]:
                newest[row["key"]] = row
        _upsert(
            conn,
            run_metrics,
            list(newest.values()),
            ("run_id", "key"),
            ("value", "step", "at"),
            newer_step=True,
        )
    if pending.tags:
        _upsert(
            conn,
            run_tags,
            [{"run_id": run_id, "key": k, "value": v} for k, v in pending.tags.items()],
            ("run_id", "key"),
            ("value",),
        )


class ActiveRun(RunLogger):
    """An open run in this process (``ws.runs.start``); a context manager that ends it
    finished, or failed (step ``notebook``, the message and traceback) on an exception."""

    def __init__(self, service: RunService, info: RunInfo) -> None:
        super().__init__(info.id, info.name, info.experiment, info.params)
        self._service = service
        self.project = info.project
        self._inputs = list(info.inputs)

    def __enter__(self) -> ActiveRun:
        return self

    def _require_write(self) -> None:
        self._service._access.require("run.write", self.project)

    def _write(self, pending: Pending) -> None:
        with self._service._store.begin() as conn:
            self._service._running(conn, self.id)
            write_log(conn, self.id, pending)

    def _finish(
        self, pending: Pending, status: str, cpu_s: float | None, error: dict[str, str] | None
    ) -> None:
        with self._service._store.begin() as conn:
            self._service._end_in(conn, self.id, pending, status, cpu_s, error)

    def log_artifact(self, name: str, data: bytes | Path) -> Artifact:
        """Store bytes or a file's contents (content-addressed) as the run's artifact ``name``
        (a later artifact of the same name replaces it). Local only: not over HTTP."""
        self._check_open()
        name = _artifact_name(name)
        if isinstance(data, bytes | bytearray | memoryview):
            artifact = self._service._artifacts.put_bytes(bytes(data))
        elif isinstance(data, Path | str):
            path = Path(data)
            if not path.is_file():
                raise InvalidInput(f"artifact file not found: {path}", hint="check the path")
            artifact = self._service._artifacts.put_file(path)
        else:
            raise InvalidInput(
                f"an artifact is bytes or a file path, got {type(data).__name__}",
                hint="use run.log_text(name, text) for text",
            )
        row = {
            "run_id": self.id,
            "name": name,
            "digest": artifact.digest,
            "size": artifact.size,
            "at": utcnow(),
        }
        self._with_pending(
            lambda conn: _upsert(
                conn, run_artifacts, [row], ("run_id", "name"), ("digest", "size", "at")
            )
        )
        return artifact

    def log_text(self, name: str, text: str) -> Artifact:
        """Store ``text`` (UTF-8) as the run's artifact ``name``."""
        if not isinstance(text, str):
            raise InvalidInput(f"log_text takes text, got {type(text).__name__}")
        return self.log_artifact(name, text.encode("utf-8"))

    def set_environment(self, env: Mapping[str, Any]) -> None:
        """Record where the run ran (JSON: Python and package versions, platform, git...);
        replaces what was recorded."""
        self._check_open()
        if not isinstance(env, Mapping):
            raise InvalidInput(f"an environment is a mapping, got {type(env).__name__}")
        value = _json_bounded(dict(env), "the environment")
        self._with_pending(
            lambda conn: conn.execute(
                update(runs).where(runs.c.id == self.id).values(environment=value)
            )
        )

    def add_input(
        self, kind: str, id: str, ref: str, attributes: Mapping[str, Any] | None = None
    ) -> None:
        """Record something the run read (a dataset version, a training set...): appended to
        the run's inputs and recorded as a lineage edge ``kind/id -> run``, in one transaction."""
        self._check_open()
        validate_name(kind, kind="input kind")
        check_text(str(id), "an input's id", 128)
        check_text(str(ref), "an input's ref", 256)
        extra = _json_bounded(dict(attributes or {}), "an input's attributes")
        entry = {**extra, "kind": kind, "id": str(id), "ref": str(ref)}
        if len(self._inputs) >= INPUTS_MAX:
            raise InvalidInput(f"a run records at most {INPUTS_MAX:,} inputs")
        inputs = [*self._inputs, entry]

        def write(conn: Connection) -> None:
            conn.execute(update(runs).where(runs.c.id == self.id).values(inputs=inputs))
            record_edge(conn, kind, str(id), "run", self.id, "input_of", extra)

        self._with_pending(write)
        self._inputs = inputs

    def _with_pending(self, change: Any) -> None:
        """``change(conn)`` in one transaction with whatever is waiting to be written."""
        with self._lock:
            pending = self._take()
            try:
                with self._service._store.begin() as conn:
                    self._service._running(conn, self.id)
                    write_log(conn, self.id, pending)
                    change(conn)
            except BaseException:
                pending.merge_back(self._pending)
                self._pending = pending
                raise

    def info(self) -> RunInfo:
        """The run as recorded now (what was logged is written first)."""
        self.flush()
        return self._service.get(self.id)

    @contextlib.contextmanager
    def keep_alive(self) -> Iterator[threading.Event]:
        """Write the run's heartbeat now and every ``limits.run_heartbeat_seconds`` until the
        block ends (a daemon thread). The event it yields is set if a write finds the run no
        longer running (a reader judged it lost): the caller should stop its work."""
        ended = threading.Event()
        stop = threading.Event()
        interval = self._service._limits.run_heartbeat_seconds

        def beat() -> None:
            try:
                if not self._service._beat(self.id):
                    ended.set()
            except Exception:  # a database that is away for a moment: the next beat retries
                pass

        beat()

        def loop() -> None:
            while not stop.wait(interval) and not ended.is_set():
                beat()

        thread = threading.Thread(target=loop, name="gp-run-heartbeat", daemon=True)
        thread.start()
        try:
            yield ended
        finally:
            stop.set()
            thread.join()


def _artifact_name(name: object) -> str:
    if not isinstance(name, str) or not name or not name.isprintable() or name != name.strip():
        raise InvalidInput(
            f"an artifact name is printable text without spaces at its ends, got {name!r:.60}",
            hint="for example: model.onnx, reports/confusion.txt",
        )
    if len(name) > ARTIFACT_NAME_CHARS_MAX:
        raise InvalidInput(f"an artifact name is at most {ARTIFACT_NAME_CHARS_MAX} characters")
    return name


# The training process's output, kept as an artifact of its run by gp train; while it runs it
# is written in the run's work dir, named TRAIN_WORKDIR_PREFIX + run id + "-" + random.
TRAIN_LOG = "train.log"
TRAIN_WORKDIR_PREFIX = "gp-train-"


class RunService:
    """Runs, acting as one principal (``ws.runs``)."""

    def __init__(
        self,
        store: MetadataStore,
        storage_root: Path,
        actor: Actor,
        access: AccessControl,
        project: str,
        *,
        limits: Limits | None = None,
    ) -> None:
        self._store = store
        self._artifacts = ArtifactStore(storage_root)
        self._scratch = storage_root / "tmp"
        self._actor = actor
        self._access = access
        self._project = project
        self._limits = limits or Limits()
        self._project_ids: dict[str, str] = {}

    # -- writing -------------------------------------------------------------------------------

    def start(
        self,
        name: str | None = None,
        *,
        experiment: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        seed: int | None = None,
        source: str = "notebook",
        rerun_of: str | None = None,
    ) -> ActiveRun:
        """Start a run in the workspace's project and return it, open for logging.

        ``experiment`` defaults to the project's name; ``name`` to a readable one
        (``swift-heron-417``). Use it as a context manager, or call ``end()``/``fail()``.

        The run records this process's identity (:mod:`goldenpath.core.processes`): once the
        process is gone, the next reader on this machine marks the run failed, "process
        lost"."""
        info = self._create(
            name,
            experiment=experiment,
            params=params,
            tags=tags,
            seed=seed,
            source=source,
            rerun_of=rerun_of,
            process=processes.identity(),
        )
        return ActiveRun(self, info)

    def create(
        self,
        name: str | None = None,
        *,
        experiment: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        seed: int | None = None,
        source: str = "notebook",
        rerun_of: str | None = None,
        environment: Mapping[str, Any] | None = None,
    ) -> RunInfo:
        """Record a new running run (what ``start`` and the HTTP API do) and return it.

        It records no owning process (the caller is elsewhere), so it is never judged lost:
        end it with :meth:`end`."""
        return self._create(
            name,
            experiment=experiment,
            params=params,
            tags=tags,
            seed=seed,
            source=source,
            rerun_of=rerun_of,
            environment=environment,
        )

    def _create(
        self,
        name: str | None = None,
        *,
        experiment: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        seed: int | None = None,
        source: str = "notebook",
        rerun_of: str | None = None,
        environment: Mapping[str, Any] | None = None,
        process: dict[str, Any] | None = None,
    ) -> RunInfo:
        self._access.require("run.write", self._project)
        experiment = validate_name(experiment or self._project, kind="experiment name")
        if source not in SOURCES:
            raise InvalidInput(
                f"a run's source is one of {', '.join(SOURCES)}, not {source!r:.40}",
                hint="notebook for runs logged by hand, pipeline for gp train",
            )
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, int) or not -SEED_MAX <= seed <= SEED_MAX
        ):
            raise InvalidInput(f"a seed is an integer within 64 bits, got {seed!r:.40}")
        pending = Pending()
        for key, value in (params or {}).items():
            pending.params[check_key(key, "param key")] = param_value(key, value)
        for key, value in (tags or {}).items():
            pending.tags[check_key(key, "tag key")] = tag_value(key, value)
        env = dict(_base_environment())
        if environment is not None:
            if not isinstance(environment, Mapping):
                raise InvalidInput("an environment is a mapping")
            env = _json_bounded(dict(environment), "the environment")
        run_id = new_id()
        name = check_run_name(name) if name is not None else readable_name(run_id)
        now = utcnow()
        with self._store.begin() as conn:
            project_id = self._project_id(conn, self._project)
            original = None if rerun_of is None else self._resolve(conn, rerun_of)[0]
            conn.execute(
                _INSERT_RUN,
                dict(
                    id=run_id,
                    project_id=project_id,
                    experiment=experiment,
                    name=name,
                    status="running",
                    source=source,
                    seed=seed,
                    environment=env,
                    inputs=[],
                    error=None,
                    rerun_of=original,
                    started_at=now,
                    ended_at=None,
                    duration_s=None,
                    cpu_s=None,
                    created_by=self._actor.name,
                    process=process,
                    heartbeat_at=None,
                ),
            )
            write_log(conn, run_id, pending)
            details = {"experiment": experiment, "name": name, "source": source}
            if original:
                details["rerun_of"] = original
            audit.record(conn, self._actor, "run.create", "run", run_id, details)
        return RunInfo(
            id=run_id,
            project=self._project,
            experiment=experiment,
            name=name,
            status="running",
            source=source,
            params={k: v[0] for k, v in pending.params.items()},
            metrics={},
            tags=dict(pending.tags),
            seed=seed,
            environment=env,
            inputs=[],
            error=None,
            rerun_of=original,
            started_at=now,
            ended_at=None,
            duration_s=None,
            cpu_s=None,
            created_by=self._actor.name,
        )

    def log(
        self,
        run: str,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        step: int | None = None,
    ) -> str:
        """Write params, metrics and tags to a running run at once, in one transaction (what
        the HTTP API does; in process, ``start`` gives a buffered :class:`ActiveRun`).

        ``metrics`` is ``{key: value}`` (at ``step``) or a list of ``{key, value, step}``.
        Returns the run's full id."""
        pending = self._pending(params, metrics, tags, step)
        with self._store.begin() as conn:
            run_id, project = self._resolve(conn, run)
            self._access.require("run.write", project)
            self._running(conn, run_id)
            write_log(conn, run_id, pending)
        return run_id

    def end(
        self,
        run: str,
        status: str = "finished",
        *,
        cpu_s: float | None = None,
        error: Mapping[str, str] | None = None,
    ) -> RunInfo:
        """End a running run by id (what the HTTP API does): ``finished``, or ``failed`` with
        ``error`` ``{step, message, traceback}``."""
        if status not in ("finished", "failed"):
            raise InvalidInput(f"a run ends finished or failed, not {status!r:.40}")
        if error is not None and status != "failed":
            raise InvalidInput("only a failed run has an error")
        clipped = None
        if error is not None:
            clipped = clip_error(
                error.get("step", "unknown"), error.get("message", ""), error.get("traceback", "")
            )
        if cpu_s is not None and not (isinstance(cpu_s, int | float) and cpu_s >= 0):
            raise InvalidInput(f"cpu_s is a number of seconds >= 0, got {cpu_s!r:.40}")
        with self._store.begin() as conn:
            run_id, project = self._resolve(conn, run)
            self._access.require("run.write", project)
            self._end_in(conn, run_id, Pending(), status, cpu_s, clipped)
        return self.get(run_id)

    def _pending(
        self,
        params: Mapping[str, Any] | None,
        metrics: Sequence[Mapping[str, Any]] | Mapping[str, Any] | None,
        tags: Mapping[str, Any] | None,
        step: int | None,
    ) -> Pending:
        pending = Pending()
        for key, value in (params or {}).items():
            pending.params[check_key(key, "param key")] = param_value(key, value)
        now = utcnow()
        points: list[tuple[Any, Any, Any]]
        if isinstance(metrics, Mapping):
            points = [(k, v, step) for k, v in metrics.items()]
        else:
            points = [(m.get("key"), m.get("value"), m.get("step", step)) for m in metrics or []]
        for key, value, at_step in points:
            checked = check_key(key, "metric key")
            pending.metrics.append(
                run_log.MetricPoint(
                    checked, run_log.metric_value(checked, value), run_log.check_step(at_step), now
                )
            )
        for key, value in (tags or {}).items():
            pending.tags[check_key(key, "tag key")] = tag_value(key, value)
        return pending

    def _running(self, conn: Connection, run_id: str) -> None:
        state = conn.execute(_RUN_STATE, {"run_id": run_id}).first()
        self._check_running(run_id, None if state is None else state.status)

    def _check_running(self, run_id: str, status: str | None) -> None:
        if status is None:
            raise NotFound(f"no run {run_id}", hint="see the runs with: gp runs list")
        if status != "running":
            raise Conflict(
                f"run {run_id} has {status}: nothing more can be logged to it",
                hint="start a new run: ws.runs.start(...)",
            )

    def _end_in(
        self,
        conn: Connection,
        run_id: str,
        pending: Pending,
        status: str,
        cpu_s: float | None,
        error: dict[str, str] | None,
    ) -> None:
        state = conn.execute(_RUN_STATE, {"run_id": run_id}).first()
        self._check_running(run_id, None if state is None else state.status)
        write_log(conn, run_id, pending)
        now = utcnow()
        assert state is not None  # _check_running raised otherwise
        duration = max((now - state.started_at).total_seconds(), 0.0)
        values = {"run_id": run_id, "status": status, "ended_at": now, "duration_s": duration}
        ended = conn.execute(_END_RUN, {**values, "cpu_s": cpu_s, "error": error})
        if ended.rowcount != 1:
            raise Conflict(f"run {run_id} was ended by someone else", hint="nothing to do")
        details: dict[str, Any] = {"status": status, "duration_s": round(duration, 3)}
        if error is not None:
            details.update(step=error["step"], message=error["message"][:200])
        action = "run.fail" if status == "failed" else "run.finish"
        audit.record(conn, self._actor, action, "run", run_id, details)

    # -- reading -------------------------------------------------------------------------------

    def get(self, run: str) -> RunInfo:
        """A run by id or by a unique prefix of at least 6 characters (like git)."""
        with self._store.connect() as conn:
            run_id, project = self._resolve(conn, run)
            self._access.require("run.read", project)
            found = self._load(conn, [run_id])
        return found[0]

    def train_log(self, run: str) -> str:
        """The output of a ``gp train`` run's training process (its ``train.log``): the stored
        artifact once the run has ended, the live file while it runs. Needs ``run.read``."""
        info = self.get(run)
        stored = self._train_log_artifact(info)
        if stored is not None:
            return stored
        live = self._live_train_log(info.id)
        if info.status == "running" and live is not None:
            return live.read_bytes().decode("utf-8", "replace")
        raise NotFound(
            f"run {info.short_id} has no {TRAIN_LOG}"
            + (" yet" if info.status == "running" else ""),
            hint="only gp train keeps one (its training process's output); a run logged from "
            "a notebook has none",
        )

    def follow_train_log(self, run: str, *, poll_seconds: float = 0.5) -> Iterator[str]:
        """``train_log``, then each new part as the training process writes it, until the
        run ends (then what the stored artifact holds beyond what was yielded)."""
        import time

        info = self.get(run)
        sent = 0
        while True:
            stored = self._train_log_artifact(info)
            if stored is not None:
                if len(stored) > sent:
                    yield stored[sent:]
                return
            live = self._live_train_log(info.id)
            if live is not None:
                try:
                    text = live.read_bytes().decode("utf-8", "replace")
                except OSError:  # removed as the run ended: the artifact has it
                    text = ""
                if len(text) > sent:
                    yield text[sent:]
                    sent = len(text)
            if info.status != "running":
                return
            time.sleep(poll_seconds)
            info = self.get(info.id)

    def _train_log_artifact(self, info: RunInfo) -> str | None:
        for artifact in info.artifacts:
            if artifact["name"] == TRAIN_LOG:
                return self._artifacts.read_bytes(artifact["digest"]).decode("utf-8", "replace")
        return None

    def _live_train_log(self, run_id: str) -> Path | None:
        """The training process's output while it runs, in its work dir (named after the
        run by the pipeline: ``storage/tmp/gp-train-RUNID-*/train.log``)."""
        found = sorted(self._scratch.glob(f"{TRAIN_WORKDIR_PREFIX}{run_id}-*/{TRAIN_LOG}"))
        return found[0] if found else None

    def list(
        self,
        filter: str | None = None,
        order_by: Sequence[str] | str | None = None,
        limit: int = 100,
        experiment: str | None = None,
        status: str | None = None,
    ) -> builtins.list[RunInfo]:
        """The project's runs that match ``filter`` (``metrics.roc_auc > 0.8 and
        params.model = 'lgbm'``), ordered by ``order_by`` (``metrics.roc_auc desc``; default
        newest first), at most ``limit`` (up to ``limits.run_list_max``)."""
        self._access.require("run.read", self._project)
        clauses = run_query.parse_filter(filter, self._limits)
        orders = run_query.parse_order(order_by)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput(f"limit is a positive integer, got {limit!r:.40}")
        if limit > self._limits.run_list_max:
            raise InvalidInput(
                f"limit {limit:,} is more than {self._limits.run_list_max:,} (limits.run_list_max)",
                hint="narrow the search with --filter",
            )
        if experiment is not None:
            validate_name(experiment, kind="experiment name")
        if status is not None and status not in run_log.STATUSES:
            raise InvalidInput(
                f"status is one of {', '.join(run_log.STATUSES)}, not {status!r:.40}"
            )
        with self._store.connect() as conn:
            project_id = self._project_ids.get(self._project) or self._project_id(
                conn, self._project, missing_ok=True
            )
            if project_id is None:
                return []
            ids: builtins.list[str] = []
            for query in search_queries(project_id, clauses, orders, limit, experiment, status):
                ids += [row[0] for row in conn.execute(query.limit(limit - len(ids)))]
                if len(ids) >= limit:
                    break
            found = self._load(conn, ids)
        # A run judged lost while it was read is no longer one of the running runs asked for.
        return found if status is None else [r for r in found if r.status == status]

    def compare(self, a: str, b: str) -> RunComparison:
        """Two runs' params and metrics side by side, with differences marked."""
        first, second = self.get(a), self.get(b)

        def rows(
            left: Mapping[str, Any], right: Mapping[str, Any]
        ) -> builtins.list[dict[str, Any]]:
            keys = sorted(set(left) | set(right))
            return [
                {
                    "key": k,
                    "a": left.get(k),
                    "b": right.get(k),
                    "differs": k not in left or k not in right or left[k] != right[k],
                }
                for k in keys
            ]

        metrics = rows(first.metrics, second.metrics)
        for row in metrics:
            both = isinstance(row["a"], float | int) and isinstance(row["b"], float | int)
            row["delta"] = row["b"] - row["a"] if both else None
        attributes = [
            {"key": key, "a": getattr(first, key), "b": getattr(second, key)}
            for key in ("experiment", "status", "source", "seed", "duration_s", "cpu_s")
        ]
        for row in attributes:  # timings always differ a little: shown, never marked
            row["differs"] = row["key"] not in ("duration_s", "cpu_s") and row["a"] != row["b"]
        return RunComparison(first, second, rows(first.params, second.params), metrics, attributes)

    # -- lost runs -----------------------------------------------------------------------------

    def _beat(self, run_id: str) -> bool:
        """Write a running run's heartbeat; False if it is no longer running."""
        with self._store.begin() as conn:
            return bool(conn.execute(_HEARTBEAT, {"run_id": run_id, "now": utcnow()}).rowcount)

    def _lost(self, rows: Any) -> dict[str, Any]:
        """The rows of running runs whose process is gone (judged on this machine) or whose
        heartbeat is older than ``limits.run_lost_after_seconds``, after marking each failed
        ("process lost"): {id: the row as it is now}."""
        now = utcnow()
        found = {}
        for row in rows:
            if row.status != "running" or (row.process is None and row.heartbeat_at is None):
                continue
            why = lost_because(row.process, row.heartbeat_at, now, self._limits)
            if why is not None:
                self.mark_lost(row.id, row.heartbeat_at, why)
                found[row.id] = row
        if not found:
            return {}
        with self._store.connect() as conn:  # as they are now (marked by us or by another)
            fresh = conn.execute(
                select(runs, projects.c.name.label("project"))
                .join(projects, projects.c.id == runs.c.project_id)
                .where(runs.c.id.in_(list(found)))
            )
            return {r.id: r for r in fresh}

    def mark_lost(self, run_id: str, heartbeat_at: datetime | None, why: str) -> bool:
        """End a running run failed, "process lost: ``why``", and audit it, if it is still
        running with the heartbeat this reader saw; True if this call marked it. The UPDATE is
        conditional, so of two readers that judge the same run at once only one marks and
        audits it, and a heartbeat written since the judgement keeps the run running."""
        now = utcnow()
        heartbeat = (
            runs.c.heartbeat_at.is_(None)
            if heartbeat_at is None
            else runs.c.heartbeat_at == heartbeat_at
        )
        message = f"{LOST_REASON}: {why}"
        error = clip_error(LOST_STEP, message, "")
        with self._store.begin() as conn:
            state = conn.execute(_RUN_STATE, {"run_id": run_id}).first()
            if state is None:
                return False
            duration = max((now - state.started_at).total_seconds(), 0.0)
            marked = conn.execute(
                update(runs)
                .where(runs.c.id == run_id, runs.c.status == "running", heartbeat)
                .values(status="failed", ended_at=now, duration_s=duration, error=error)
            )
            if marked.rowcount != 1:
                return False
            audit.record(
                conn,
                self._actor,
                "run.fail",
                "run",
                run_id,
                {
                    "status": "failed",
                    "duration_s": round(duration, 3),
                    "step": LOST_STEP,
                    "reason": LOST_REASON,
                    "message": message[:200],
                },
            )
        return True

    # -- helpers -------------------------------------------------------------------------------

    def _project_id(self, conn: Connection, name: str, missing_ok: bool = False) -> Any:
        found = self._project_ids.get(name)
        if found is None:
            found = conn.execute(select(projects.c.id).where(projects.c.name == name)).scalar()
            if found is None:
                if missing_ok:
                    return None
                raise NotFound(f"no project named {name!r}", hint="see them with: gp projects list")
            self._project_ids[name] = found
        return found

    def _resolve(self, conn: Connection, run: str) -> tuple[str, str]:
        """A run's full id and its project's name, from its id or a unique prefix, among the
        runs the caller may read (any other is :class:`NotFound`, as a missing one)."""
        if not isinstance(run, str):
            raise InvalidInput(f"a run id is text, got {type(run).__name__}")
        wanted = run.strip().upper()
        if not PREFIX_MIN <= len(wanted) <= 26 or not set(wanted) <= _ULID_CHARS:
            shown = run if len(run) <= 40 else run[:30] + "..."
            raise InvalidInput(
                f"not a run id: {shown!r} (a run id is 26 letters and digits; give at least "
                f"its first {PREFIX_MIN})",
                hint="see the runs with: gp runs list",
            )
        query = (
            select(runs.c.id, projects.c.name)
            .join(projects, projects.c.id == runs.c.project_id)
            .where(runs.c.id.between(wanted.ljust(26, "0"), wanted.ljust(26, "Z")))
            .order_by(runs.c.id)
            .limit(2)
        )
        # Only the runs the caller may read: one it may not answers exactly like a missing
        # one (and a prefix is never "ambiguous" because of runs it cannot see).
        readable = self._access.projects_with("run.read")
        if readable is not None:
            query = query.where(projects.c.name.in_(sorted(readable)))
        found = conn.execute(query).all()
        if not found:
            raise NotFound(f"no run {run!r}", hint="see the runs with: gp runs list")
        if len(found) > 1:
            raise InvalidInput(
                f"run id prefix {run!r} names more than one run",
                hint="give more characters of the id",
            )
        return str(found[0][0]), str(found[0][1])

    def _load(self, conn: Connection, ids: builtins.list[str]) -> builtins.list[RunInfo]:
        """Full runs for ``ids``, in that order: one query per table, with IN (...)."""
        if not ids:
            return []
        rows = {
            r.id: r
            for r in conn.execute(
                select(runs, projects.c.name.label("project"))
                .join(projects, projects.c.id == runs.c.project_id)
                .where(runs.c.id.in_(ids))
            )
        }
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        for run_id, key, value in conn.execute(
            select(run_params.c.run_id, run_params.c.key, run_params.c.value).where(
                run_params.c.run_id.in_(ids)
            )
        ):
            params[run_id][key] = value
        metrics: dict[str, dict[str, float | None]] = {i: {} for i in ids}
        for run_id, key, value in conn.execute(
            select(run_metrics.c.run_id, run_metrics.c.key, run_metrics.c.value).where(
                run_metrics.c.run_id.in_(ids)
            )
        ):
            metrics[run_id][key] = value
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        for run_id, key, value in conn.execute(
            select(run_tags.c.run_id, run_tags.c.key, run_tags.c.value).where(
                run_tags.c.run_id.in_(ids)
            )
        ):
            tags[run_id][key] = value
        artifacts: dict[str, builtins.list[dict[str, Any]]] = {i: [] for i in ids}
        for run_id, name, digest, size in conn.execute(
            select(
                run_artifacts.c.run_id,
                run_artifacts.c.name,
                run_artifacts.c.digest,
                run_artifacts.c.size,
            )
            .where(run_artifacts.c.run_id.in_(ids))
            .order_by(run_artifacts.c.name)
        ):
            artifacts[run_id].append({"name": name, "digest": digest, "size": size})
        lost = self._lost(rows.values())
        if lost:
            rows = {**rows, **lost}
        shorts = short_ids(conn, ids)
        result = []
        for run_id in ids:
            r = rows[run_id]
            result.append(
                RunInfo(
                    id=r.id,
                    project=r.project,
                    experiment=r.experiment,
                    name=r.name,
                    status=r.status,
                    source=r.source,
                    params=dict(sorted(params[run_id].items())),
                    metrics=dict(sorted(metrics[run_id].items())),
                    tags=dict(sorted(tags[run_id].items())),
                    seed=r.seed,
                    environment=r.environment,
                    inputs=r.inputs,
                    error=r.error,
                    rerun_of=r.rerun_of,
                    started_at=r.started_at,
                    ended_at=r.ended_at,
                    duration_s=r.duration_s,
                    cpu_s=r.cpu_s,
                    created_by=r.created_by,
                    artifacts=artifacts[run_id],
                    short_id=shorts[run_id],
                )
            )
        return result


def lost_because(
    process: Mapping[str, Any] | None, heartbeat_at: datetime | None, now: datetime, limits: Limits
) -> str | None:
    """Why a running run that records ``process`` and ``heartbeat_at`` is lost, or None if
    nothing says so: its process is gone (a reader on its machine can tell), or its heartbeat
    is older than ``limits.run_lost_after_seconds`` (any reader, on any machine)."""
    if process is not None and processes.is_alive(dict(process)) is False:
        return f"process {process.get('pid')} on {process.get('host')} is gone"
    if heartbeat_at is not None:
        age = (now - heartbeat_at).total_seconds()
        if age > limits.run_lost_after_seconds:
            return (
                f"no heartbeat for {age:,.0f} s (limits.run_lost_after_seconds is "
                f"{limits.run_lost_after_seconds:g})"
            )
    return None


def search_queries(
    project_id: str,
    clauses: Sequence[run_query.Clause],
    orders: Sequence[run_query.Order],
    limit: int,
    experiment: str | None = None,
    status: str | None = None,
) -> builtins.list[Any]:
    """The queries for the ids of one page of a search, to run in turn until ``limit`` ids
    are found: each clause an indexed subquery, each ordering key through a LEFT JOIN on
    (run_id, key), then LIMIT.

    Ordered by a metric first (the common search: the best runs), the first query walks that
    metric's (key, value) index in order and stops once the page is full, instead of sorting
    every match (226 ms -> a few ms at 100k runs, benchmarks/RESULTS.md); clauses on the same
    metric become conditions on that walk. Runs without a value (or NaN) sort last: the second
    query fetches them only if the first did not fill the page."""
    if not orders or orders[0].kind != "metrics":
        return [_search(project_id, clauses, orders, limit, experiment, status)]
    first = orders[0]
    walked = run_metrics.alias("walk")
    same = [c for c in clauses if c.kind == "metrics" and c.key == first.key]
    rest = [c for c in clauses if c not in same]
    value = walked.c.value
    query = (
        select(runs.c.id)
        .select_from(walked.join(runs, runs.c.id == walked.c.run_id))
        .where(walked.c.key == first.key, value.is_not(None))
        .where(*[run_query.compare(c, value) for c in same])
    )
    head = _search(
        project_id,
        rest,
        orders[1:],
        limit,
        experiment,
        status,
        query=query,
        first=value.desc() if first.descending else value.asc(),
        correlated=True,
    )
    if same:  # a run without a value matches no clause on it
        return [head]
    has_value = select(run_metrics.c.run_id).where(
        run_metrics.c.key == first.key, run_metrics.c.value.is_not(None)
    )
    tail = _search(
        project_id,
        [*rest],
        orders[1:],
        limit,
        experiment,
        status,
        query=select(runs.c.id).where(runs.c.id.not_in(has_value)),
    )
    return [head, tail]


def search_query(
    project_id: str,
    clauses: Sequence[run_query.Clause],
    orders: Sequence[run_query.Order],
    limit: int,
    experiment: str | None = None,
    status: str | None = None,
) -> Any:
    """The first (main) query of :func:`search_queries`."""
    return search_queries(project_id, clauses, orders, limit, experiment, status)[0]


def _search(
    project_id: str,
    clauses: Sequence[run_query.Clause],
    orders: Sequence[run_query.Order],
    limit: int,
    experiment: str | None,
    status: str | None,
    *,
    query: Any = None,
    first: Any = None,
    correlated: bool = False,
) -> Any:
    if query is None:
        query = select(runs.c.id)
    query = query.where(runs.c.project_id == project_id)
    condition = run_query.conditions(clauses, correlated)
    if condition is not None:
        query = query.where(condition)
    if experiment is not None:
        query = query.where(runs.c.experiment == experiment)
    if status is not None:
        query = query.where(runs.c.status == status)
    order_terms: builtins.list[Any] = [] if first is None else [first]
    for n, order in enumerate(orders):
        if order.kind == "attribute":
            columns = [runs.c[order.key]]
        else:
            table = {"metrics": run_metrics, "params": run_params, "tags": run_tags}[order.kind]
            joined = table.alias(f"o{n}")
            query = query.outerjoin(
                joined, and_(joined.c.run_id == runs.c.id, joined.c.key == order.key)
            )
            if order.kind == "params":
                columns = [joined.c.number, joined.c.value]
            else:
                columns = [joined.c.value]
        for column in columns:
            term = column.desc() if order.descending else column.asc()
            order_terms.append(term.nulls_last())
    order_terms += [runs.c.started_at.desc(), runs.c.id.desc()]
    return query.order_by(*order_terms).limit(limit)


_SHORT_CHUNK = 200


@cache
def _neighbours() -> Any:
    """One small statement: for each listed id (``:ids``, expanded when it runs), the id just
    before and just after it in the primary key's index. Two correlated subqueries, not two
    per id: it compiles in a fraction of a millisecond whatever the page size, which a fresh
    ``gp runs list`` process pays every time (SQLAlchemy's statement cache dies with it)."""
    before, after = runs.alias("before"), runs.alias("after")
    return select(
        runs.c.id,
        select(func.max(before.c.id)).where(before.c.id < runs.c.id).scalar_subquery(),
        select(func.min(after.c.id)).where(after.c.id > runs.c.id).scalar_subquery(),
    ).where(runs.c.id.in_(bindparam("ids", expanding=True)))


def short_ids(conn: Connection, ids: Sequence[str]) -> dict[str, str]:
    """For each id, its shortest prefix (at least 8 characters) that no other run shares:
    its neighbours in the id index decide (ULIDs begin with the time, so runs started within
    a second share their first 8 characters)."""
    shorts = {}
    for start in range(0, len(ids), _SHORT_CHUNK):  # bounded statement size
        chunk = ids[start : start + _SHORT_CHUNK]
        for run_id, *neighbours in conn.execute(_neighbours(), {"ids": list(chunk)}):
            length = SHORT_ID
            for neighbour in neighbours:
                if neighbour:
                    common = 0
                    while common < 26 and run_id[common] == neighbour[common]:
                        common += 1
                    length = max(length, common + 1)
            shorts[run_id] = run_id[: min(length, 26)]
    return shorts


def format_metric(value: float | None) -> str:
    """A metric as people read it: NaN for a NaN (stored as NULL)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "NaN"
    return f"{value:.6g}"
