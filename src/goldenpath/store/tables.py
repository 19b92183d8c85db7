"""SQLAlchemy Core table definitions: the metadata schema at the newest migration.

Alembic migrations in ``store/migrations/versions`` create and evolve these tables; a test
checks that migrating an empty database yields exactly this schema.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores it without a zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("timestamps stored in the metadata database must be timezone-aware")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

# Indexes that are hash indexes on PostgreSQL (equality is all they serve, and a B-tree entry
# cannot hold a long value). Migration 0009 makes them so; the tables here do not say it,
# because a ``postgresql_*`` option on a table loads SQLAlchemy's PostgreSQL dialect (~50 ms)
# in every process, SQLite workspaces included. tests/store/test_store.py checks both.
HASH_INDEXES = ("ix_run_params_value", "ix_run_tags_value")

# Every state change writes one row here, in the same transaction as the change.
audit_events = Table(
    "audit_events",
    metadata,
    Column(
        "seq",
        Integer().with_variant(BigInteger(), "postgresql"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("id", String(26), nullable=False, unique=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_ref", String(256), nullable=False),
    Column("details", JSON, nullable=False),
    # sha256 chain: each event's hash covers its content and the previous event's hash.
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
)

# Signed (Ed25519) statements of the chain's head, so a cut-off tail can be detected.
audit_checkpoints = Table(
    "audit_checkpoints",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("seq", Integer().with_variant(BigInteger(), "postgresql"), nullable=False),
    Column("count", Integer().with_variant(BigInteger(), "postgresql"), nullable=False),
    Column("head_hash", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("key_id", String(64), nullable=False),
    Column("signature", String(128), nullable=False),
)

DEFAULT_PROJECT_ID = "0000000000000000000DEFAULT"

projects = Table(
    "projects",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("team", String(63), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
)

principals = Table(
    "principals",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("owner", String(63), nullable=True),
    Column("allowed_actions", JSON, nullable=True),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("disabled_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
)

# Only the sha256 of a token is stored: the 256-bit secret is shown once, at creation.
tokens = Table(
    "tokens",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("principal_id", String(26), ForeignKey("principals.id"), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scopes", JSON, nullable=True),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime(), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
    # The token this one was created with (NULL: issued by an admin or the OS user). Revoking
    # a token revokes its descendants in the same transaction, so authenticating stays one
    # indexed lookup that never walks the chain.
    Column("parent_id", String(26), ForeignKey("tokens.id"), nullable=True),
    Index("ix_tokens_parent_id", "parent_id"),
)

grants = Table(
    "grants",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("principal_id", String(26), ForeignKey("principals.id"), nullable=False),
    Column("role", String(16), nullable=False),
    Column("scope_kind", String(16), nullable=False),
    Column("scope_name", String(63), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
    UniqueConstraint(
        "principal_id", "role", "scope_kind", "scope_name", name="uq_grants_principal_role_scope"
    ),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("project_id", String(26), ForeignKey("projects.id"), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
    # The attached contract (YAML text) and its sha256; later ingests enforce it by default.
    Column("contract", Text, nullable=True),
    Column("contract_sha256", String(64), nullable=True),
)

dataset_versions = Table(
    "dataset_versions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("dataset_id", String(26), ForeignKey("datasets.id"), nullable=False),
    Column("version", Integer, nullable=False),
    # The Delta Lake table version holding this dataset version's data (time travel).
    Column("delta_version", Integer, nullable=False),
    Column("mode", String(16), nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("batch_rows", BigInteger, nullable=False),
    Column("quarantined_rows", BigInteger, nullable=False),
    Column("schema", JSON, nullable=False),
    Column("schema_changes", JSON, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    # Order-independent sum of row hashes (mod 2**64) and row count: lets an append extend the
    # previous version's fingerprint without re-reading the whole table.
    Column("content_sum", String(24), nullable=False),
    Column("source", JSON, nullable=False),
    Column("contract_sha256", String(64), nullable=True),
    Column("profile", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
    # The fingerprint of the batch this version was made from (data/ingest.py,
    # batch_fingerprint): an ingest of a batch already in the dataset is a no-op, found by
    # the index below. NULL for versions recorded before migration 0006 (unknown).
    Column("batch_fingerprint", String(64), nullable=True),
    UniqueConstraint("dataset_id", "version", name="uq_dataset_versions_dataset_version"),
    Index("ix_dataset_versions_batch_fingerprint", "dataset_id", "batch_fingerprint", "version"),
)

validations = Table(
    "validations",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("dataset_id", String(26), ForeignKey("datasets.id"), nullable=False),
    # The version the validated batch produced; NULL when the batch was rejected.
    Column("version_id", String(26), ForeignKey("dataset_versions.id"), nullable=True),
    Column("outcome", String(16), nullable=False),  # accepted | quarantined | rejected
    Column("rows_checked", BigInteger, nullable=False),
    Column("rows_failed", BigInteger, nullable=False),
    Column("report", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
)

# An action held by a policy until an approver (not the requester) signs it off; used once.
approval_requests = Table(
    "approval_requests",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("policy", String(63), nullable=False),
    Column("action", String(64), nullable=False),
    Column("object_ref", String(256), nullable=False),
    Column("project", String(63), nullable=True),
    Column("attributes", JSON, nullable=False),
    Column("requested_by", String(128), nullable=False),
    Column("status", String(16), nullable=False),
    Column("decided_by", String(128), nullable=True),
    Column("decided_at", UTCDateTime(), nullable=True),
    Column("reason", Text, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_approval_requests_lookup", "action", "object_ref", "status"),
)

# -- feature store (issue 13) ----------------------------------------------------------------

# One row per named definition (entity, feature view, on-demand view, feature service) of a
# project. ``current_version`` is what new users get; metadata (description, owner, tags) is
# edited in place, since it never changes a value. ``removed_at`` marks a definition dropped
# from features.py: its versions stay readable for the users that pinned them.
feature_definitions = Table(
    "feature_definitions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("project_id", String(26), ForeignKey("projects.id"), nullable=False),
    Column("kind", String(16), nullable=False),  # entity | feature_view | on_demand | service
    Column("namespace", String(8), nullable=False),  # entity | view | service
    Column("name", String(63), nullable=False),
    Column("current_version", Integer, nullable=False),
    Column("description", Text, nullable=False),
    Column("owner", String(128), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("removed_at", UTCDateTime(), nullable=True),
    UniqueConstraint("namespace", "name", name="uq_feature_definitions_namespace_name"),
)

# Immutable definition versions, one per distinct content hash of a definition.
feature_versions = Table(
    "feature_versions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("definition_id", String(26), ForeignKey("feature_definitions.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("version_hash", String(64), nullable=False),
    Column("content", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
    UniqueConstraint("definition_id", "version", name="uq_feature_versions_definition_version"),
    UniqueConstraint("definition_id", "version_hash", name="uq_feature_versions_definition_hash"),
)

# Who reads which definition version (a training set now, a model later): the record the
# breaking-change check of ``gp features apply`` consults.
feature_users = Table(
    "feature_users",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("version_id", String(26), ForeignKey("feature_versions.id"), nullable=False),
    Column("user_kind", String(32), nullable=False),  # training_set | model | ...
    Column("user_id", String(128), nullable=False),
    Column("features", JSON, nullable=False),  # the feature names it reads
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_feature_users_version", "version_id"),
)

# Stored, versioned point-in-time training sets (data: a Delta table under the storage root).
training_sets = Table(
    "training_sets",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("project_id", String(26), ForeignKey("projects.id"), nullable=False),
    Column("name", String(63), nullable=False),
    Column("version", Integer, nullable=False),
    Column("delta_version", Integer, nullable=False),
    Column("row_count", BigInteger, nullable=False),
    Column("schema", JSON, nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("entity_fingerprint", String(64), nullable=False),
    # features asked for, view versions + hashes, on-demand source hashes, dataset versions
    # read and the event-time range read.
    Column("spec", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
    UniqueConstraint("name", "version", name="uq_training_sets_name_version"),
)

# Typed lineage: from one versioned object to another, recorded in the transaction that makes
# the second. Every capability records with ``lineage.edges.record_edge``.
lineage_edges = Table(
    "lineage_edges",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("from_kind", String(32), nullable=False),
    Column("from_id", String(128), nullable=False),
    Column("to_kind", String(32), nullable=False),
    Column("to_id", String(128), nullable=False),
    Column("relation", String(32), nullable=False),
    Column("attributes", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_lineage_edges_from", "from_kind", "from_id"),
    Index("ix_lineage_edges_to", "to_kind", "to_id"),
)

# The online feature store's materialisation state, one row per (online store, feature view):
# the definition its values were computed with and the newest source dataset versions read.
# Written only after the online store holds the values (features/materialize.py).
feature_online_state = Table(
    "feature_online_state",
    metadata,
    Column("store", String(256), primary_key=True),
    Column("view", String(63), primary_key=True),
    Column("definition_hash", String(64), nullable=False),
    Column("source_versions", JSON, nullable=False),
    Column("rows_read", BigInteger, nullable=False),
    Column("entities_written", BigInteger, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(128), nullable=False),
)

# -- training runs (issue 14) -------------------------------------------------------------------

# One row per run: a `gp train` pipeline run, or one logged from a notebook.
runs = Table(
    "runs",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("project_id", String(26), ForeignKey("projects.id"), nullable=False),
    Column("experiment", String(63), nullable=False),
    Column("name", String(128), nullable=False),
    Column("status", String(16), nullable=False),  # running | finished | failed
    Column("source", String(16), nullable=False),  # pipeline | notebook
    Column("seed", BigInteger, nullable=True),
    Column("environment", JSON, nullable=False),  # python, packages, platform, git
    Column("inputs", JSON, nullable=False),  # dataset versions, training set, feature versions
    Column("error", JSON, nullable=True),  # {"step", "message", "traceback"} of a failed run
    Column("rerun_of", String(26), nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("ended_at", UTCDateTime(), nullable=True),
    Column("duration_s", Float, nullable=True),
    Column("cpu_s", Float, nullable=True),
    Column("created_by", String(128), nullable=False),
    # The process that owns a running run ({"pid", "started", "boot_id", "host"}; migration
    # 0012) and the heartbeat it writes while it trains: readers judge lost runs by them.
    Column("process", JSON, nullable=True),
    Column("heartbeat_at", UTCDateTime(), nullable=True),
    Index("ix_runs_project_started", "project_id", "started_at"),
    Index("ix_runs_project_experiment_started", "project_id", "experiment", "started_at"),
)

# A run's parameters; ``number`` is the value read as a number where it is one, so filters and
# ordering compare numbers as numbers.
run_params = Table(
    "run_params",
    metadata,
    Column("run_id", String(26), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Column("number", Float, nullable=True),
    Index("ix_run_params_key_number", "key", "number"),
    # Text filters (params.model = 'lgbm'). A value may be 6,000 characters, more than a
    # PostgreSQL B-tree entry holds, so there it is a hash index (see HASH_INDEXES).
    Index("ix_run_params_value", "value"),
)

# A run's tags (filters read them through the value index, as for parameters).
run_tags = Table(
    "run_tags",
    metadata,
    Column("run_id", String(26), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Text, nullable=False),
    Index("ix_run_tags_value", "value"),
)

# A run's metrics, newest value per key (what filters and ordering read).
run_metrics = Table(
    "run_metrics",
    metadata,
    Column("run_id", String(26), ForeignKey("runs.id"), primary_key=True),
    Column("key", String(250), primary_key=True),
    Column("value", Float, nullable=True),  # NULL: NaN
    Column("step", BigInteger, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_run_metrics_key_value", "key", "value"),
)

# Every logged metric value, by step.
run_metric_history = Table(
    "run_metric_history",
    metadata,
    Column("run_id", String(26), ForeignKey("runs.id"), nullable=False),
    Column("key", String(250), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("value", Float, nullable=True),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_run_metric_history_run_key", "run_id", "key"),
)

# Files a run produced (its log, reports, the model's native artifact), by content address.
run_artifacts = Table(
    "run_artifacts",
    metadata,
    Column("run_id", String(26), ForeignKey("runs.id"), primary_key=True),
    Column("name", String(512), primary_key=True),
    Column("digest", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
)

# -- model registry (issue 14) ------------------------------------------------------------------

models = Table(
    "models",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("project_id", String(26), ForeignKey("projects.id"), nullable=False),
    Column("name", String(63), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
)

# Immutable model versions. Artifacts are content addresses under the storage root
# (core/artifacts.py); a version row is written only after its artifacts are durable.
model_versions = Table(
    "model_versions",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("model_id", String(26), ForeignKey("models.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # ready | archived
    Column("run_id", String(26), nullable=True),
    Column("flavor", String(16), nullable=False),  # sklearn | lightgbm | xgboost
    Column("task", String(16), nullable=False),  # classification | regression
    Column("fingerprint", String(64), nullable=False),
    Column("native_digest", String(64), nullable=False),
    Column("native_format", String(32), nullable=False),
    Column("onnx_digest", String(64), nullable=False),
    Column("signature", JSON, nullable=False),
    Column("metrics", JSON, nullable=False),
    Column("parity", JSON, nullable=False),
    Column("profile_digest", String(64), nullable=False),
    Column("validation_digest", String(64), nullable=True),
    Column("card", JSON, nullable=False),
    Column("gates", JSON, nullable=False),
    Column("lineage", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
    UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
)

model_aliases = Table(
    "model_aliases",
    metadata,
    Column("model_id", String(26), ForeignKey("models.id"), primary_key=True),
    Column("alias", String(63), primary_key=True),
    Column("version_id", String(26), ForeignKey("model_versions.id"), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(128), nullable=False),
)

# Every move of an alias (who, from which version to which, forced or not, why), so a
# rollback can move it back.
model_alias_history = Table(
    "model_alias_history",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("model_id", String(26), ForeignKey("models.id"), nullable=False),
    Column("alias", String(63), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("forced", Boolean, nullable=False),
    Column("reason", Text, nullable=False),
    Column("moved_at", UTCDateTime(), nullable=False),
    Column("moved_by", String(128), nullable=False),
    Index("ix_model_alias_history_model_alias", "model_id", "alias", "moved_at"),
)

# Deployments (migration 0011): a model's versions behind one endpoint. ``primary_version``
# answers; ``candidate_version`` takes ``canary_percent`` of the traffic (mode ``canary``) or
# is scored and logged without answering (mode ``shadow``); ``previous_version`` is where a
# rollback returns. ``generation`` counts changes: the server loads the spec it names.
deployments = Table(
    "deployments",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("project_id", String(26), ForeignKey("projects.id"), nullable=False),
    Column("name", String(63), nullable=False, unique=True),
    Column("model", String(63), nullable=False),  # the registry model's name
    Column("stage", String(8), nullable=False),  # dev | prod
    Column("runtime", String(16), nullable=False),  # local | kubernetes
    Column("status", String(16), nullable=False),  # running | stopped
    Column("primary_version", Integer, nullable=False),
    Column("candidate_version", Integer, nullable=True),
    Column("candidate_mode", String(8), nullable=True),  # canary | shadow
    Column("canary_percent", Integer, nullable=True),
    Column("previous_version", Integer, nullable=True),
    Column("generation", Integer, nullable=False),
    Column("host", String(64), nullable=False),
    Column("port", Integer, nullable=False),
    Column("settings", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("updated_by", String(128), nullable=False),
)

# Every change of a deployment's versions or traffic: deploy, swap, canary, shadow, promote,
# rollback, stop (what DORA metrics and the monitor's rollback will read).
deployment_events = Table(
    "deployment_events",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("deployment_id", String(26), ForeignKey("deployments.id"), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_version", Integer, nullable=True),
    Column("to_version", Integer, nullable=True),
    Column("detail", JSON, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("by", String(128), nullable=False),
    Index("ix_deployment_events_deployment_at", "deployment_id", "at"),
)
# Each monitor window's figures (issue 25): one row per deployment, version, subject (a model
# input, "score", or "*" for the quality rates) and metric, so trends read without the log.
monitoring_figures = Table(
    "monitoring_figures",
    metadata,
    Column("id", String(26), primary_key=True),
    Column("deployment_id", String(26), ForeignKey("deployments.id"), nullable=False),
    Column("window_start", UTCDateTime(), nullable=False),
    Column("window_end", UTCDateTime(), nullable=False),
    Column("computed_at", UTCDateTime(), nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("role", String(8), nullable=False),  # primary | canary | shadow
    Column("samples", Integer, nullable=False),  # the version's rows in the window
    Column("subject", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # feature | score | quality
    Column("metric", String(32), nullable=False),
    Column("value", Float, nullable=True),
    Column("verdict", String(32), nullable=False),
    Index("ix_monitoring_figures_deployment_end", "deployment_id", "window_end"),
)
