"""Datasets: versioned Delta tables validated against their contracts on the way in.

This is what the CLI, the server and the SDK call (``ws.datasets``). Every state change records
an audit event in the same database transaction that records the change.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, RowMapping, bindparam, func, select

from goldenpath.core import faults
from goldenpath.core.actor import Actor
from goldenpath.core.clock import utcnow
from goldenpath.core.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from goldenpath.core.humanize import plural
from goldenpath.core.ids import new_id
from goldenpath.core.limits import Limits
from goldenpath.core.names import Ref, parse_ref, validate_name
from goldenpath.core.progress import NoProgress, Progress
from goldenpath.data import Mode
from goldenpath.data.schema import SchemaChanges, diff_schemas, schema_json
from goldenpath.data.versions import DatasetSummary, DatasetVersion, IngestResult, PendingCheck
from goldenpath.governance import audit
from goldenpath.governance.access import AccessControl
from goldenpath.governance.principals import Enforcer
from goldenpath.store.engine import MetadataStore
from goldenpath.store.tables import dataset_versions, datasets, projects, validations

if TYPE_CHECKING:  # the engines (pyarrow, DuckDB, deltalake) load with the call that needs them
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as pads

    from goldenpath.data.contracts import Contract, LoadedContract
    from goldenpath.data.validation import ValidatedBatch, ValidationReport


# The validation outcome of a pushed version whose table rules are not checked yet.
PENDING = "pending"
# Failing rows named in a refused push's message before "and N more".
ROWS_SHOWN = 20

_VERSION_COLUMNS = [c for c in dataset_versions.c if c.name != "profile"]
# A version and its project in one query, built once (the hot path of every read and of the
# server's GET /datasets/{name}; a statement built per call costs as much as running it).
_BY_NAME = (
    select(*_VERSION_COLUMNS, projects.c.name.label("project"))
    .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
    .join(projects, projects.c.id == datasets.c.project_id)
    .where(datasets.c.name == bindparam("name"))
)
_NEWEST_VERSION = _BY_NAME.order_by(dataset_versions.c.version.desc()).limit(1)
_VERSION = _BY_NAME.where(dataset_versions.c.version == bindparam("version"))
# The newest version made from a batch (index ix_dataset_versions_batch_fingerprint), and
# whether an overwrite replaced the table after a version (the (dataset, version) index).
_SAME_BATCH = (
    _BY_NAME.where(dataset_versions.c.batch_fingerprint == bindparam("batch"))
    .order_by(dataset_versions.c.version.desc())
    .limit(1)
)
# A version and the ones before it, newest first (head walks back to the last overwrite).
_SINCE_REPLACED = (
    select(dataset_versions.c.version, dataset_versions.c.delta_version, dataset_versions.c.mode)
    .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
    .where(datasets.c.name == bindparam("name"), dataset_versions.c.version <= bindparam("version"))
    .order_by(dataset_versions.c.version.desc())
)
_REPLACED_AFTER = (
    select(dataset_versions.c.version)
    .join(datasets, datasets.c.id == dataset_versions.c.dataset_id)
    .where(
        datasets.c.name == bindparam("name"),
        dataset_versions.c.version > bindparam("version"),
        dataset_versions.c.mode == "overwrite",
    )
    .limit(1)
)


class DatasetService:
    """Ingest, inspect and read versioned datasets."""

    def __init__(
        self,
        store: MetadataStore,
        storage_root: Path,
        actor: Actor,
        access: AccessControl,
        project: str,
        policies: Enforcer | None = None,
        *,
        project_named: bool = False,
        limits: Limits | None = None,
    ) -> None:
        """``project``: where a new dataset goes; ``project_named``: the caller asked for it
        (then writing to a dataset of another project is refused rather than redirected)."""
        self._store = store
        self._root = storage_root
        self._actor = actor
        self._access = access
        self._project = project
        self._project_named = project_named
        self._policies = policies
        self._limits = limits or Limits()

    # -- reading ------------------------------------------------------------------------------

    def list(self) -> builtins.list[DatasetSummary]:
        """Every dataset with its newest version."""
        v = dataset_versions
        latest = (
            select(
                v.c.dataset_id,
                func.max(v.c.version).label("version"),
                func.count().label("versions"),
            )
            .group_by(v.c.dataset_id)
            .subquery()
        )
        query = (
            select(
                projects.c.name.label("project"),
                datasets.c.name,
                datasets.c.contract_sha256,
                datasets.c.created_at,
                latest.c.versions,
                v.c.version,
                v.c.row_count,
                v.c.created_at.label("at"),
            )
            .join(latest, latest.c.dataset_id == datasets.c.id)
            .join(v, (v.c.dataset_id == datasets.c.id) & (v.c.version == latest.c.version))
            .join(projects, projects.c.id == datasets.c.project_id)
            .order_by(datasets.c.name)
        )
        visible = self._access.projects_with("dataset.read")
        if visible is not None:
            query = query.where(projects.c.name.in_(sorted(visible)))
        with self._store.connect() as conn:
            rows = conn.execute(query).all()
        return [
            DatasetSummary(
                r.name,
                r.versions,
                r.version,
                r.row_count,
                r.contract_sha256 is not None,
                r.created_at,
                r.at,
            )
            for r in rows
        ]

    def get(self, ref: str) -> DatasetVersion:
        """A version by reference: ``name`` (the newest) or ``name@N``."""
        parsed = parse_ref(ref, kind="dataset name")
        with self._store.connect() as conn:
            return self._version(conn, parsed)

    def history(self, name: str) -> builtins.list[DatasetVersion]:
        """Every version of a dataset, oldest first."""
        validate_name(name, kind="dataset name")
        with self._store.connect() as conn:
            dataset_id = self._dataset_id(conn, name)
            rows = (
                conn.execute(
                    select(dataset_versions)
                    .where(dataset_versions.c.dataset_id == dataset_id)
                    .order_by(dataset_versions.c.version)
                )
                .mappings()
                .all()
            )
        return [self._to_version(name, row) for row in rows]

    def read(self, ref: str, columns: builtins.list[str] | None = None) -> pa.Table:
        """A version's rows as an Arrow table (``name@N`` reads exactly that version)."""
        from goldenpath.data.tables import DatasetFiles

        version = self.get(ref)
        if columns:
            unknown = [c for c in columns if c not in {f["name"] for f in version.schema}]
            if unknown:
                raise InvalidInput(f"{version.ref} has no column(s) {', '.join(unknown)}")
        return DatasetFiles(self._root, version.dataset).read(version.delta_version, columns)

    def scan(self, ref: str) -> pads.Dataset:
        """A version as a lazily scanned Arrow dataset: a consumer (DuckDB) reads only the
        columns and batches it pulls."""
        from goldenpath.data.tables import DatasetFiles

        version = self.get(ref)
        return DatasetFiles(self._root, version.dataset).dataset(version.delta_version)

    def batches_in_write_order(
        self, ref: str, columns: builtins.list[str] | None = None
    ) -> Iterator[tuple[int, pa.RecordBatch]]:
        """A version's rows in the order they were written, as ``(dataset version that added
        them, batch)`` pairs, oldest first: the order that breaks ties between equal rows."""

        from goldenpath.data.tables import DatasetFiles

        version = self.get(ref)
        with self._store.connect() as conn:
            recorded = conn.execute(
                select(dataset_versions.c.delta_version, dataset_versions.c.version)
                .where(dataset_versions.c.dataset_id == self._dataset_id(conn, version.dataset))
                .where(dataset_versions.c.version <= version.version)
                .order_by(dataset_versions.c.version)
            ).all()
        number_of = {int(r.delta_version): int(r.version) for r in recorded}
        files = DatasetFiles(self._root, version.dataset)
        for delta_version, fragment in files.fragments_in_write_order(sorted(number_of)):
            for batch in fragment.to_batches(columns=columns):
                yield number_of[delta_version], batch

    def read_pandas(self, ref: str, columns: builtins.list[str] | None = None) -> pd.DataFrame:
        """A version's rows as a pandas DataFrame."""
        return self.read(ref, columns).to_pandas()

    def head(self, ref: str, rows: int = 10) -> pa.Table:
        """The first ``rows`` rows of a version, in file order: the rows of the oldest
        version still in it first, each batch's rows in the order of its file."""
        from goldenpath.data.tables import DatasetFiles

        if rows < 1:
            raise InvalidInput("the number of rows must be at least 1")
        version = self.get(ref)
        # Oldest first, from the newest version that replaced the table (an overwrite or
        # version 1): the versions whose batches make up this one.
        lineage: builtins.list[int] = []
        with self._store.connect() as conn:
            params = {"name": version.dataset, "version": version.version}
            for row in conn.execute(_SINCE_REPLACED, params):
                lineage.insert(0, row.delta_version)
                if row.mode == "overwrite" or row.version == 1:
                    break
        return DatasetFiles(self._root, version.dataset).head(lineage, rows)

    def profile(self, ref: str) -> dict[str, Any]:
        """The stored column profile of a version."""
        parsed = parse_ref(ref, kind="dataset name")
        with self._store.connect() as conn:
            version = self._version(conn, parsed)
            row = conn.execute(
                select(dataset_versions.c.profile).where(dataset_versions.c.id == version.id)
            ).one()
        return dict(row.profile)

    def validation(self, ref: str) -> dict[str, Any] | None:
        """The stored validation report of the batch that produced a version, if checked."""
        version = self.get(ref)
        with self._store.connect() as conn:
            row = conn.execute(
                select(validations.c.outcome, validations.c.report).where(
                    validations.c.version_id == version.id
                )
            ).first()
        return None if row is None else {"outcome": row.outcome, **row.report}

    def quarantine(self, name: str, limit: int | None = None) -> pa.Table:
        """Rows held back by the contract, with the rules each broke and its source version,
        oldest version first, each version's rows in file order (``_gp_row``)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        from goldenpath.data.tables import DatasetFiles

        validate_name(name, kind="dataset name")
        with self._store.connect() as conn:
            dataset_id = self._dataset_id(conn, name)
            found = conn.execute(
                select(
                    dataset_versions.c.id,
                    dataset_versions.c.version,
                    dataset_versions.c.batch_fingerprint,
                ).where(dataset_versions.c.dataset_id == dataset_id)
            ).all()
        recorded = {r.id: r.version for r in found}
        # Rows quarantined before migration 0006 (versions without a batch fingerprint) were
        # numbered from 0; shown from 1 like every later row (issue 12, point 9).
        from_zero = {r.id for r in found if r.batch_fingerprint is None}
        table = DatasetFiles(self._root, name).read_quarantine()
        if table is None:
            return pa.table(
                {
                    "_gp_version": pa.array([], pa.int64()),
                    "_gp_rules": pa.array([], pa.list_(pa.string())),
                }
            )
        # Rows from a writer that died before recording its version are not shown.
        ids = table.column("_gp_version_id").to_pylist()
        keep = pa.array([i in recorded for i in ids])
        table = table.filter(keep)
        ids_kept = table.column("_gp_version_id").to_pylist()
        versions = pa.array([recorded[i] for i in ids_kept], pa.int64())
        if from_zero and "_gp_row" in table.column_names:
            shift = pa.array([int(i in from_zero) for i in ids_kept], pa.int64())
            index = table.schema.get_field_index("_gp_row")
            table = table.set_column(index, "_gp_row", pc.add(table.column(index), shift))
        table = table.drop_columns(["_gp_version_id"]).append_column("_gp_version", versions)
        # In the order they came, as head shows rows (Delta lists the newest files first).
        order = [("_gp_version", "ascending"), ("_gp_row", "ascending")]
        table = table.sort_by([o for o in order if o[0] in table.column_names])
        return table.slice(0, limit) if limit is not None else table

    # -- validating and ingesting --------------------------------------------------------------

    def validate(
        self, name: str, path: Path, *, contract: Path | None = None, fmt: str | None = None
    ) -> ValidationReport:
        """Check a file against the dataset's contract (or ``contract``); write nothing."""
        from goldenpath.data.formats import read_table
        from goldenpath.data.ingest import pinned_types
        from goldenpath.data.tables import DatasetFiles
        from goldenpath.data.validation import validate_batch

        validate_name(name, kind="dataset name")
        self._target_project(name, "dataset.read")
        loaded = self._contract_for(name, contract)
        if loaded is None:
            raise InvalidInput(
                f"dataset {name!r} has no contract to validate against",
                hint="pass one with --contract FILE",
            )
        table, _ = read_table(path, fmt, column_types=pinned_types(loaded), limits=self._limits)
        with self._store.connect() as conn:
            latest = self._latest_or_none(conn, name)
        existing = (
            DatasetFiles(self._root, name).dataset(latest.delta_version)
            if latest is not None
            else None
        )
        return validate_batch(
            table,
            loaded.contract,
            now=utcnow(),
            existing=existing,
            examples_max=self._limits.error_examples_max,
            example_chars_max=self._limits.example_chars_max,
        ).report

    def ingest(
        self,
        name: str,
        path: Path,
        *,
        mode: Mode = "append",
        contract: Path | None = None,
        fmt: str | None = None,
        allow_breaking: bool = False,
        force: bool = False,
        progress: Progress | None = None,
    ) -> IngestResult:
        """Ingest a CSV, Parquet or JSON Lines file as a new version of dataset ``name``.

        The batch is checked against the contract (``contract`` attaches a new one). On
        ``reject`` any failure refuses the batch; on ``quarantine`` failing rows go to the
        quarantine table and the rest become the version. Nothing is written on refusal.

        A batch already in the dataset (see :func:`~goldenpath.data.ingest.batch_fingerprint`)
        writes nothing: the result's outcome is ``unchanged`` and its version the one holding
        the batch. On append that is any version since the table was last replaced; on
        overwrite, the newest version if it replaced the table. ``force`` records it anyway.
        """
        from goldenpath.data.formats import read_table
        from goldenpath.data.ingest import file_source, pinned_types

        validate_name(name, kind="dataset name")
        if mode not in ("append", "overwrite"):
            raise InvalidInput(f"unknown mode {mode!r}", hint="use append or overwrite")
        project = self._target_project(name, "dataset.write")
        steps = progress or NoProgress()
        loaded = self._contract_for(name, contract)
        if self._policies is not None:
            self._policies.enforce(
                "dataset.ingest",
                name,
                {
                    "dataset": name,
                    "project": project,
                    "mode": mode,
                    "classification": loaded.contract.classification if loaded else None,
                    "has_contract": loaded is not None,
                },
                project=project,
            )
        with steps.step("read"):
            table, fmt = read_table(
                path, fmt, column_types=pinned_types(loaded), limits=self._limits
            )
            source = file_source(path, fmt)
        return self._write_batch(
            name,
            project,
            table,
            source,
            mode,
            loaded,
            allow_breaking,
            steps,
            contract=contract,
            force=force,
            reject=False,
        )

    def append_rows(self, name: str, rows: pa.Table, *, source: dict[str, Any]) -> IngestResult:
        """Append ``rows`` (already an Arrow table) to the existing dataset ``name`` as a new
        version, checked against the *row* rules of its contract in reject mode whatever its
        ``on_violation`` says: if any row breaks one, :class:`ValidationFailed` names each
        failing row (counted from 1) and rule, carries the report, and nothing is written.
        ``source`` describes where the rows came from (stored with the version, e.g.
        ``{"kind": "feature_push", "view": "..."}``).

        Table rules judge a batch, not a few rows: the report lists them as ``pending`` (the
        next :meth:`check_pending_rules`, which materialisation runs, checks them over all the
        rows pushed since) or ``not_applied`` (``table.rows``, which counts a batch's rows).
        The feature store's push writes its offline log through this.
        """
        validate_name(name, kind="dataset name")
        if rows.num_rows > self._limits.rows_per_upload_max:
            raise InvalidInput(
                f"{rows.num_rows} rows is more than limits.rows_per_upload_max "
                f"({self._limits.rows_per_upload_max})",
                hint="send them in smaller batches",
            )
        project = self._target_project(name, "dataset.write")
        self.get(name)  # an existing dataset: NotFound otherwise
        loaded = self._contract_for(name, None)
        if self._policies is not None:
            self._policies.enforce(
                "dataset.ingest",
                name,
                {
                    "dataset": name,
                    "project": project,
                    "mode": "append",
                    "classification": loaded.contract.classification if loaded else None,
                    "has_contract": loaded is not None,
                },
                project=project,
            )
        return self._write_batch(
            name, project, rows, source, "append", loaded, False, NoProgress(), reject=True
        )

    def check_pending_rules(self, name: str) -> PendingCheck | None:
        """Check the table rules that pushes to ``name`` left pending (see :meth:`append_rows`)
        over every row pushed since the last check, as one batch, against the dataset's
        contract now; record the outcome with each pushed version (``gp data show``) and audit
        it. None when nothing is pending. A failed rule is reported, not enforced: the rows are
        already in the dataset and online. Needs ``dataset.read`` (materialisation runs it).
        """
        import pyarrow as pa

        from goldenpath.data.validation import validate_batch

        validate_name(name, kind="dataset name")
        self._target_project(name, "dataset.read")
        with self._store.connect() as conn:
            pending = conn.execute(
                select(validations.c.id, validations.c.report, dataset_versions.c.version)
                .join(dataset_versions, dataset_versions.c.id == validations.c.version_id)
                .join(datasets, datasets.c.id == validations.c.dataset_id)
                .where(datasets.c.name == name, validations.c.outcome == PENDING)
                .order_by(dataset_versions.c.version)
            ).all()
        if not pending:
            return None
        numbers = [row.version for row in pending]
        loaded = self._contract_for(name, None)
        batches = self.read_batches(name, after=numbers[0] - 1, upto=numbers[-1])
        # Pushed versions only (an ingest between two pushes was checked as its own batch); a
        # pushed version an overwrite has since replaced has no rows left to judge.
        wanted = set(numbers)
        tables = [table for version, table in batches if version.version in wanted]
        report: ValidationReport | None = None
        rows = sum(t.num_rows for t in tables)
        if loaded is not None and tables:
            report = validate_batch(
                pa.concat_tables(tables),
                loaded.contract.table_rules(pushed=True),
                now=utcnow(),
                examples_max=self._limits.error_examples_max,
                example_chars_max=self._limits.example_chars_max,
            ).report
        check = PendingCheck(name, numbers, rows, report)
        outcome = "accepted" if check.passed else "failed"
        with self._store.begin() as conn:
            changed = 0
            for row in pending:
                # Conditional: of two materialisations checking at once, one records it.
                changed += conn.execute(
                    validations.update()
                    .where(validations.c.id == row.id, validations.c.outcome == PENDING)
                    .values(
                        outcome=outcome,
                        report={**row.report, "pending": [], "checked": check.as_dict()},
                    )
                ).rowcount
            if changed:
                audit.record(
                    conn,
                    self._actor,
                    "dataset.pending_rules_checked",
                    "dataset",
                    name,
                    {
                        "versions": numbers,
                        "rows": rows,
                        "passed": check.passed,
                        "failed": [] if report is None else [r.rule for r in report.failures],
                    },
                )
        return check

    def read_batches(
        self, name: str, *, after: int | None = None, upto: int | None = None
    ) -> builtins.list[tuple[DatasetVersion, pa.Table]]:
        """The rows each version of ``name`` added, for the versions in ``(after, upto]``
        (default: all up to the newest), oldest first, each with its version.

        An append version's batch is the rows its Delta commit added (files in the commit's
        order, rows in file order: a row's index in its batch is its *row position*); an
        overwrite version's batch is the whole table. Every batch is read with the schema of
        version ``upto`` (columns added later are null in older batches). If an overwrite
        version lies in the range, the result starts at the newest such version: its batch
        plus the ones after it are exactly the table at ``upto``.
        """

        from goldenpath.data.tables import DatasetFiles

        validate_name(name, kind="dataset name")
        history = self.history(name)
        top = upto if upto is not None else history[-1].version
        chosen = [v for v in history if (after is None or v.version > after) and v.version <= top]
        if upto is not None and (not history or history[-1].version < upto):
            raise NotFound(f"dataset {name!r} has no version {upto}")
        for index in range(len(chosen) - 1, -1, -1):
            if chosen[index].mode == "overwrite":
                chosen = chosen[index:]
                break
        if not chosen:
            return []
        files = DatasetFiles(self._root, name)
        schema = files.stored_schema(chosen[-1].delta_version)
        by_number = {v.version: v for v in history}
        batches = []
        for version in chosen:
            before = by_number.get(version.version - 1)
            previous = None if version.mode == "overwrite" or before is None else before
            batches.append(
                (
                    version,
                    files.read_added(
                        version.delta_version,
                        None if previous is None else previous.delta_version,
                        schema,
                    ),
                )
            )
        return batches

    def _write_batch(
        self,
        name: str,
        project: str,
        table: pa.Table,
        source: dict[str, Any],
        mode: Mode,
        loaded: LoadedContract | None,
        allow_breaking: bool,
        steps: Progress,
        *,
        contract: Path | None = None,
        force: bool = False,
        reject: bool,
    ) -> IngestResult:
        """Write one batch as a new version: ``reject`` (the feature store's push) applies
        the contract's row rules only and refuses the whole batch on any broken one whatever
        its ``on_violation``; its table rules are recorded as pending."""
        from goldenpath.data.ingest import (
            batch_fingerprint,
            check_evolution,
            conform,
            tag_quarantine,
        )
        from goldenpath.data.profiles import profile
        from goldenpath.data.tables import DatasetFiles

        batch = batch_fingerprint(table, loaded.sha256 if loaded else None)
        full = loaded
        if loaded is not None and reject:
            loaded = loaded.model_copy(update={"contract": loaded.contract.row_rules()})
        files = DatasetFiles(self._root, name)
        early: ValidatedBatch | None = None
        if loaded is not None:
            with self._store.connect() as conn:
                new_dataset = self._latest_or_none(conn, name) is None
            if new_dataset:
                # A new dataset: the batch is checked before anything of it is on disk (its
                # lock file included), so a refusal leaves the storage tree as it was.
                early = self._validate(name, source, table, loaded, contract, None, reject, steps)
        with files.lock():
            # Again under the dataset's lock (every writer, and so every creator, holds it):
            # the dataset may have been created in another project since the check above
            # (and the policies were evaluated for that project: the caller retries).
            if (locked := self._target_project(name, "dataset.write")) != project:
                raise self._elsewhere(name, locked, project)
            with self._store.connect() as conn:
                previous = self._latest_or_none(conn, name)
                # Under the lock: of two identical ingests at once, the second sees the first.
                same = None if force else self._same_batch(conn, previous, batch, mode)
            if same is not None:
                # Nothing changes, so nothing is audited; the result names the version.
                return IngestResult(same, "unchanged", None, SchemaChanges())
            report = None
            valid, quarantined = table, None
            if loaded is not None:
                checked = early
                if checked is None or previous is not None:  # created meanwhile: check again
                    existing = (
                        files.dataset(previous.delta_version)
                        if previous is not None and mode == "append"
                        else None
                    )
                    checked = self._validate(
                        name, source, table, loaded, contract, existing, reject, steps
                    )
                report, valid, quarantined = checked.report, checked.valid, checked.quarantined
                if reject and full is not None:
                    report = _with_deferred(report, full.contract)
                    quarantined = None  # a push is refused whole, never split
            changes = (
                diff_schemas(previous.schema, valid.schema)
                if previous is not None
                else SchemaChanges(added=list(valid.column_names))
            )
            schema_mode = check_evolution(name, previous, mode, changes, loaded, allow_breaking)
            with steps.step("write"):
                exists = files.prepare(previous.delta_version if previous else None)
                if exists and previous is not None and mode == "append":
                    valid = conform(valid, files.stored_schema(previous.delta_version))
                delta_version = files.write(
                    valid, mode=mode, exists=exists, schema_mode=schema_mode
                )
                faults.reach("ingest.after-data-commit")
                version_id = new_id()
                if quarantined is not None and quarantined.num_rows:
                    files.quarantine(tag_quarantine(quarantined, version_id))
            with steps.step("profile"):
                stored = files.dataset(delta_version)
                version_profile = profile(stored)
            faults.reach("ingest.before-metadata-commit")
            with steps.step("record"):
                result = self._record(
                    project,
                    name,
                    version_id,
                    previous,
                    mode,
                    delta_version,
                    valid,
                    quarantined,
                    stored.schema,
                    changes,
                    source,
                    loaded,
                    version_profile,
                    report,
                    batch,
                )
        return result

    # -- internals -----------------------------------------------------------------------------

    def _validate(
        self,
        name: str,
        source: dict[str, Any],
        table: pa.Table,
        loaded: LoadedContract,
        contract: Path | None,
        existing: Any,
        reject: bool,
        steps: Progress,
    ) -> ValidatedBatch:
        """The batch checked against ``loaded`` (``existing``: the rows it must be unique
        against); raises if the contract refuses it."""
        from goldenpath.data.validation import validate_batch

        with steps.step("validate"):
            checked = validate_batch(
                table,
                loaded.contract,
                now=utcnow(),
                existing=existing,
                # A push is refused whole; split only to name its failing rows.
                split=reject or loaded.contract.on_violation == "quarantine",
                examples_max=self._limits.error_examples_max,
                example_chars_max=self._limits.example_chars_max,
            )
        self._refuse_if_broken(
            name, source, loaded, contract, checked.report, reject=reject, rows=checked.quarantined
        )
        return checked

    def contract(self, ref: str) -> Contract | None:
        """The contract attached to a dataset now (None without one): what serving checks a
        model's inputs against. Needs ``dataset.read``."""
        version = self.get(ref)  # checks dataset.read
        loaded = self._contract_for(version.dataset, None)
        return None if loaded is None else loaded.contract

    def _contract_for(self, name: str, path: Path | None) -> LoadedContract | None:
        from goldenpath.data.contracts import load_contract, parse_contract

        if path is not None:
            loaded = load_contract(path)
            if loaded.contract.dataset not in (None, name):
                raise InvalidInput(
                    f"{path} is the contract of dataset {loaded.contract.dataset!r}, not {name!r}"
                )
            return loaded
        with self._store.connect() as conn:
            row = conn.execute(select(datasets.c.contract).where(datasets.c.name == name)).first()
        if row is None or row.contract is None:
            return None
        return parse_contract(row.contract, source=f"contract of {name}")

    def _refuse_if_broken(
        self,
        name: str,
        source: dict[str, Any],
        loaded: LoadedContract,
        contract: Path | None,
        report: ValidationReport,
        *,
        reject: bool = False,
        rows: pa.Table | None = None,
    ) -> None:
        quarantine = not reject and loaded.contract.on_violation == "quarantine"
        if report.passed or (quarantine and not report.table_failures):
            return
        with self._store.begin() as conn:
            audit.record(
                conn,
                self._actor,
                "dataset.ingest_rejected",
                "dataset",
                name,
                {"source": source, "validation": report.as_dict()},
            )
        if reject:
            headline, details = _failing_rows(report, rows, self._limits)
            raise ValidationFailed(
                f"push refused for {name!r}: {headline}; nothing was written\n{details}",
                hint="fix those rows (numbered from 1 in the order pushed) and push again; "
                "a push applies the contract's row rules (docs/contracts.md)",
                report=report,
            )
        reason = (
            "table rules failed, which quarantine cannot fix"
            if quarantine
            else "rows broke the contract (pushes are never partly applied)"
            if reject
            else "the contract says on_violation: reject"
        )
        raise ValidationFailed(
            f"batch refused for {name!r}: {reason}; nothing was written\n{report.summary()}",
            hint=report.refusal_hint(
                quarantine=quarantine,
                contract="the contract passed with this ingest"
                if contract is not None
                else f"the contract of {name!r} (then pass it with --contract FILE)",
            ),
            report=report,
        )

    def _record(
        self,
        project: str,
        name: str,
        version_id: str,
        previous: DatasetVersion | None,
        mode: Mode,
        delta_version: int,
        valid: pa.Table,
        quarantined: pa.Table | None,
        stored: pa.Schema,
        changes: SchemaChanges,
        source: dict[str, Any],
        loaded: LoadedContract | None,
        version_profile: dict[str, Any],
        report: ValidationReport | None,
        batch: str,
    ) -> IngestResult:
        from goldenpath.data.ingest import fingerprint

        now = utcnow()
        number = previous.version + 1 if previous is not None else 1
        if previous is None:
            mode = "append"  # a first version replaces nothing: one word for it, whatever was asked
        schema = schema_json(stored)
        quarantined_rows = quarantined.num_rows if quarantined is not None else 0
        with self._store.begin() as conn:
            existing = conn.execute(
                select(datasets.c.id, datasets.c.contract_sha256, projects.c.name.label("project"))
                .join(projects, projects.c.id == datasets.c.project_id)
                .where(datasets.c.name == name)
            ).first()
            if existing is not None and existing.project != project:
                # Checked in the transaction that records the version: access was granted on
                # ``project``, and the version must not land anywhere else.
                raise self._elsewhere(name, existing.project, project)
            if existing is None:
                dataset_id = new_id()
                project_id = conn.execute(
                    select(projects.c.id).where(projects.c.name == project)
                ).scalar_one()
                conn.execute(
                    datasets.insert().values(
                        id=dataset_id,
                        name=name,
                        project_id=project_id,
                        created_at=now,
                        created_by=self._actor.name,
                        contract=loaded.text if loaded else None,
                        contract_sha256=loaded.sha256 if loaded else None,
                    )
                )
                audit.record(
                    conn, self._actor, "dataset.create", "dataset", name, {"project": project}
                )
            else:
                dataset_id = existing.id
                if loaded is not None and loaded.sha256 != existing.contract_sha256:
                    conn.execute(
                        datasets.update()
                        .where(datasets.c.id == dataset_id)
                        .values(contract=loaded.text, contract_sha256=loaded.sha256)
                    )
                    audit.record(
                        conn,
                        self._actor,
                        "dataset.contract_set",
                        "dataset",
                        name,
                        {"sha256": loaded.sha256},
                    )
            row = {
                "id": version_id,
                "dataset_id": dataset_id,
                "version": number,
                "delta_version": delta_version,
                "mode": mode,
                "row_count": version_profile["rows"],
                "batch_rows": valid.num_rows,
                "quarantined_rows": quarantined_rows,
                "schema": schema,
                "schema_changes": changes.as_dict(),
                "fingerprint": fingerprint(
                    schema, version_profile["rows"], version_profile["content_sum"]
                ),
                "content_sum": version_profile["content_sum"],
                "source": source,
                "contract_sha256": loaded.sha256 if loaded else None,
                "profile": version_profile,
                "created_at": now,
                "created_by": self._actor.name,
                # In the same row as the version: a fingerprint never outlives a lost version.
                "batch_fingerprint": batch,
            }
            conn.execute(dataset_versions.insert().values(**row))
            outcome = "quarantined" if quarantined_rows else "accepted"
            if report is not None:
                conn.execute(
                    validations.insert().values(
                        id=new_id(),
                        dataset_id=dataset_id,
                        version_id=version_id,
                        # A push's table rules wait for check_pending_rules.
                        outcome=PENDING if report.pending else outcome,
                        rows_checked=report.rows_checked,
                        rows_failed=report.rows_failed,
                        report=report.as_dict(),
                        created_at=now,
                        created_by=self._actor.name,
                    )
                )
            audit.record(
                conn,
                self._actor,
                "dataset.ingest",
                "dataset_version",
                f"{name}@{number}",
                {
                    "mode": mode,
                    "rows": valid.num_rows,
                    "quarantined": quarantined_rows,
                    "source": source.get("path", source.get("kind")),
                    "schema_changes": changes.describe(),
                },
            )
        version = self._to_version(name, {**row, "profile": None})
        return IngestResult(version, outcome, report, changes, self._warnings(valid, quarantined))

    @staticmethod
    def _warnings(valid: pa.Table, quarantined: pa.Table | None) -> tuple[str, ...]:
        if valid.num_rows:
            return ()
        held = quarantined.num_rows if quarantined is not None else 0
        why = f"{plural(held, 'row')} quarantined" if held else "the batch is empty"
        return (f"no rows accepted ({why}): the version adds none",)

    def _same_batch(
        self, conn: Connection, previous: DatasetVersion | None, batch: str, mode: Mode
    ) -> DatasetVersion | None:
        """The version already holding this batch in the current data, if any.

        On overwrite, only the newest version counts, and only if it replaced the table
        itself (an overwrite, or version 1): overwriting with the batch of a later append
        would drop the rows before it, which is a change. On append, any version since the
        table was last replaced counts: an indexed lookup on (dataset, batch fingerprint).
        """
        if previous is None:
            return None
        if mode == "overwrite":
            replaced = previous.mode == "overwrite" or previous.version == 1
            return previous if replaced and previous.batch_fingerprint == batch else None
        row = conn.execute(_SAME_BATCH, {"name": previous.dataset, "batch": batch}).mappings()
        found = row.first()
        if found is None:
            return None
        replaced_since = conn.execute(
            _REPLACED_AFTER, {"name": previous.dataset, "version": found["version"]}
        ).first()
        return None if replaced_since is not None else self._to_version(previous.dataset, found)

    def _dataset_id(self, conn: Connection, name: str, permission: str = "dataset.read") -> str:
        """The dataset's id, once the acting principal is allowed ``permission`` on it."""
        row = conn.execute(
            select(datasets.c.id, projects.c.name.label("project"))
            .join(projects, projects.c.id == datasets.c.project_id)
            .where(datasets.c.name == name)
        ).first()
        if row is None or not self._access.allowed("dataset.read", row.project):
            # One the caller may not read answers exactly like a missing one (no oracle).
            raise NotFound(f"no dataset named {name!r}", hint="list datasets with: gp data list")
        self._access.require(permission, row.project)
        return str(row.id)

    @staticmethod
    def _elsewhere(name: str, actual: str, requested: str) -> Conflict:
        return Conflict(
            f"dataset {name!r} is in project {actual!r}, not {requested!r}",
            hint=f"write to it with --project {actual} (if you have a role there), "
            "or choose another dataset name",
        )

    def _target_project(self, name: str, permission: str) -> str:
        """The project a dataset is in (or, if new, would be created in), access checked.

        A caller who named a project gets an error if the dataset lives in another one; a
        caller who did not (the ``default`` fallback) writes to the dataset's own project,
        with access checked there: the fallback only says where *new* datasets go."""
        with self._store.connect() as conn:
            row = conn.execute(
                select(projects.c.name)
                .join(datasets, projects.c.id == datasets.c.project_id)
                .where(datasets.c.name == name)
            ).first()
            if row is not None and self._project_named and row.name != self._project:
                if not self._access.allowed(permission, row.name):
                    # The refusal that matters first, still naming both projects.
                    raise PermissionDenied(
                        f"{self._access.principal.name!r} may not {permission} on project "
                        f"{row.name!r}: dataset {name!r} is in project {row.name!r}, "
                        f"not {self._project!r}",
                        hint="choose another dataset name, or ask an admin or the project's "
                        f"maintainer for a role on {row.name!r}",
                    )
                raise self._elsewhere(name, row.name, self._project)
            project = row.name if row is not None else self._project
            if (
                row is None
                and conn.execute(select(projects.c.id).where(projects.c.name == project)).first()
                is None
            ):
                raise NotFound(
                    f"no project named {project!r}", hint="see them with: gp projects list"
                )
        self._access.require(permission, project)
        return str(project)

    def _latest_or_none(self, conn: Connection, name: str) -> DatasetVersion | None:
        try:
            return self._version(conn, Ref(name))
        except NotFound:
            return None

    def _version(self, conn: Connection, ref: Ref) -> DatasetVersion:
        # Access is checked before anything is returned.
        if ref.version is None:
            found = conn.execute(_NEWEST_VERSION, {"name": ref.name})
        else:
            found = conn.execute(_VERSION, {"name": ref.name, "version": ref.version})
        row = found.mappings().first()
        if row is not None and self._access.allowed("dataset.read", row["project"]):
            return self._to_version(ref.name, row)
        dataset_id = self._dataset_id(conn, ref.name)  # NotFound or PermissionDenied first
        count = conn.execute(
            select(func.max(dataset_versions.c.version)).where(
                dataset_versions.c.dataset_id == dataset_id
            )
        ).scalar()
        raise NotFound(
            f"dataset {ref.name!r} has no version {ref.version}",
            hint=f"its versions are 1..{count}; see: gp data history {ref.name}",
        )

    @staticmethod
    def _to_version(name: str, row: RowMapping | dict[str, Any]) -> DatasetVersion:
        return DatasetVersion(
            dataset=name,
            version=row["version"],
            id=row["id"],
            mode=row["mode"],
            row_count=row["row_count"],
            batch_rows=row["batch_rows"],
            quarantined_rows=row["quarantined_rows"],
            schema=row["schema"],
            schema_changes=row["schema_changes"],
            fingerprint=row["fingerprint"],
            source=row["source"],
            contract_sha256=row["contract_sha256"],
            created_at=row["created_at"],
            created_by=row["created_by"],
            delta_version=row["delta_version"],
            batch_fingerprint=row["batch_fingerprint"],
        )


def _with_deferred(report: ValidationReport, contract: Contract) -> ValidationReport:
    """A push's report with the contract's table rules it left pending or did not apply."""
    from dataclasses import replace

    from goldenpath.data.contracts import BATCH_ONLY_RULES

    names = contract.table_rule_names()
    return replace(
        report,
        pending=[n for n in names if n not in BATCH_ONLY_RULES],
        not_applied=[n for n in names if n in BATCH_ONLY_RULES],
    )


def _failing_rows(
    report: ValidationReport, rows: pa.Table | None, limits: Limits
) -> tuple[str, str]:
    """``2 rows of 3 break row rules`` (``1 row of 3 breaks``) and one line per failing row
    of a push (numbered from 1) naming the rules it broke and the values that broke them."""
    from goldenpath.data.validation import shorten

    if rows is None or rows.num_rows == 0:
        return "rows break its contract's row rules", report.summary()
    described = []
    for row in rows.slice(0, ROWS_SHOWN).to_pylist():
        broken = []
        for rule in row["_gp_rules"]:
            column = rule.rsplit(".", 1)[0]
            value = row.get(column)
            shown = "null" if value is None else repr(shorten(value, limits.example_chars_max))
            broken.append(f"{shorten(rule, 120)} ({shorten(column, 120)}={shown})")
        described.append(f"  row {row['_gp_row']} breaks {', '.join(broken)}")
    more = rows.num_rows - ROWS_SHOWN
    if more > 0:
        described.append(f"  ... and {plural(more, 'more row')}")
    verb = "breaks" if rows.num_rows == 1 else "break"
    headline = f"{plural(rows.num_rows, 'row')} of {report.rows_checked:,} {verb} row rules"
    return headline, "\n".join(described)
