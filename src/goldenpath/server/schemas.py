"""The shapes of the API's answers, for ``/openapi.json`` and ``/docs``.

Each model mirrors a result type the SDK returns (``DatasetVersion.as_dict()``,
``AuditEvent.as_dict()``, ...). Routes declare them with :func:`answer` for documentation
only: they still return the services' own dicts, serialised directly. Validating each answer
through pydantic would add its cost to every request (the authorized read is held to a p99
budget by ``benchmarks/governance.py``), and the shapes are held instead by
``tests/server/test_schemas.py``, which checks every route's real answers against these
schemas, undeclared fields included.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# A value in a data row as JSON carries it (other types, such as timestamps, become text).
Scalar = str | int | float | bool | None


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


def answer(model: Any, status: int = 200, description: str = "Success") -> dict[int | str, Any]:
    """``responses=`` for a route whose ``status`` answer has the shape ``model``."""
    return {status: {"model": model, "description": description}}


def content(media_type: str, description: str) -> dict[int | str, Any]:
    """``responses=`` for a route that answers 200 with bytes of ``media_type``."""
    schema = {"type": "string", "format": "binary"}
    return {200: {"description": description, "content": {media_type: {"schema": schema}}}}


class Health(_Answer):
    status: Literal["ok"]
    version: str


# Datasets ------------------------------------------------------------------------------------


class Column(_Answer):
    name: str
    type: str = Field(description="Arrow type, e.g. int64, double, string")
    nullable: bool


class SchemaChanges(_Answer):
    added: list[str]
    removed: list[str]
    retyped: list[dict[str, str]] = Field(description="{column, from, to} per retyped column")


class DatasetVersion(_Answer):
    """One version of a dataset (``ws.datasets.get``)."""

    dataset: str
    version: int
    ref: str = Field(description="name@version")
    id: str
    mode: Literal["append", "overwrite"]
    row_count: int = Field(description="Rows in the dataset at this version")
    batch_rows: int = Field(description="Rows this version's batch added")
    quarantined_rows: int
    schema_: list[Column] = Field(alias="schema")
    schema_changes: SchemaChanges
    fingerprint: str
    batch_fingerprint: str | None = Field(
        description="This version's batch (same rows, columns and contract = same batch); "
        "null for versions recorded before batch fingerprints"
    )
    source: dict[str, Any] = Field(description="The ingested file: path, format, bytes, sha256")
    contract_sha256: str | None
    created_at: datetime
    created_by: str
    delta_version: int


class DatasetSummary(_Answer):
    """A dataset in a listing (``ws.datasets.list``)."""

    name: str
    versions: int
    latest_version: int
    rows: int
    has_contract: bool
    created_at: datetime
    updated_at: datetime


class RuleFailure(_Answer):
    rule: str = Field(description="column.rule or table.rule")
    scope: Literal["row", "table"]
    failed: int
    message: str
    examples: list[str]


class PassedRule(_Answer):
    rule: str
    scope: Literal["row", "table"]


class ValidationReport(_Answer):
    """What checking a batch against its contract found."""

    passed: bool
    rows_checked: int
    rows_failed: int
    rules_checked: int
    seconds: float
    failures: list[RuleFailure]
    passed_rules: list[PassedRule]
    pending: list[str] = Field(
        default=[], description="A push's table rules, left for the next materialisation"
    )
    not_applied: list[str] = Field(
        default=[], description="A push's table rules never applied to pushes (table.rows)"
    )


class StoredValidation(ValidationReport):
    # pending: a push whose table rules wait; failed: they failed when checked (materialise)
    outcome: Literal["accepted", "quarantined", "pending", "failed"]
    checked: dict[str, Any] | None = Field(
        default=None, description="A push's table rules as checked by a later materialisation"
    )


class IngestResult(_Answer):
    version: DatasetVersion = Field(
        description="The version made, or (outcome unchanged) the version holding the batch"
    )
    ref: str = Field(description="name@version of that version")
    outcome: Literal["accepted", "quarantined", "unchanged"]
    validation: ValidationReport | None
    schema_changes: SchemaChanges
    warnings: list[str] = Field(description="For example: a version that accepted no rows")


class TopValue(_Answer):
    value: Scalar
    count: int


class ColumnProfile(_Answer):
    type: str
    kind: str = Field(description="numeric, temporal, string, bool or other")
    count: int
    nulls: int
    distinct: int = Field(description="Exact, or approximate (HyperLogLog) when distinct_approx")
    distinct_approx: bool | None = Field(
        default=None, description="Whether distinct is an estimate (absent in older profiles)"
    )
    null_fraction: float
    min: Scalar = None
    max: Scalar = None
    mean: float | None = None
    std: float | None = None
    quantiles: dict[str, float] | None = Field(default=None, description="p05 ... p95")
    true_fraction: float | None = None
    top_values: list[TopValue] | None = None


class Profile(_Answer):
    rows: int
    content_sum: str = Field(description="Order-independent content hash")
    columns: dict[str, ColumnProfile]


class QuarantinedRow(BaseModel):
    """A held-back row: its own columns (as text) and why it was held back."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Scalar]  # the row's own columns

    rules: list[str] = Field(alias="_gp_rules", description="The rules the row broke")
    row: int = Field(alias="_gp_row")
    quarantined_at: str = Field(alias="_gp_quarantined_at")
    dataset_version: int = Field(alias="_gp_version")


# Access ---------------------------------------------------------------------------------------


class Principal(_Answer):
    id: str
    name: str
    kind: Literal["user", "service", "agent"]
    owner: str | None
    allowed_actions: list[str] | None
    expires_at: datetime | None
    disabled_at: datetime | None
    created_at: datetime


class Grant(_Answer):
    principal: str
    role: str
    scope_kind: Literal["workspace", "team", "project"]
    scope_name: str
    created_at: datetime


class WhoAmI(_Answer):
    principal: Principal
    grants: list[Grant]


class Project(_Answer):
    name: str
    team: str
    created_at: datetime


class TokenInfo(_Answer):
    id: str
    principal: str
    scopes: list[str] | None
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime
    parent: str | None = Field(description="The token it was created with; revoked with it")


class CreatedToken(TokenInfo):
    token: str = Field(description="The secret: shown in this answer only")


class Disabled(_Answer):
    disabled: str


class TokenRevoked(_Answer):
    revoked: str


class GrantRevoked(_Answer):
    revoked: str = Field(description="The role")
    principal: str


class WorkspaceStatus(_Answer):
    """Who acts where; the rest is shown to workspace admins only."""

    version: str
    principal: str
    project: str
    home: str | None = None
    stack: dict[str, str] | None = None
    sources: dict[str, str] | None = Field(default=None, description="Where each value came from")
    effect: dict[str, str] | None = Field(
        default=None, description="'in effect', or 'not built yet: ...' per setting"
    )
    counts: dict[str, int] | None = None
    training_sandbox: str | None = Field(
        default=None, description="What training runs are held to on the server's machine"
    )


# Audit ----------------------------------------------------------------------------------------


class AuditEvent(_Answer):
    seq: int
    id: str
    at: datetime
    actor: str
    action: str
    object_type: str
    object_ref: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


class CheckpointLink(_Answer):
    seq: int
    digest: str


class Checkpoint(_Answer):
    """A signed checkpoint of the chain's head, with the public key to check it."""

    id: str
    seq: int
    count: int
    head_hash: str
    at: datetime
    key_id: str
    signature: str
    public_key: str
    previous: CheckpointLink | None = None


class AuditProblem(_Answer):
    kind: str = Field(
        description="edited, deleted, inserted, reordered, truncated, checkpoint, key, "
        "guard or anchor"
    )
    seq: int | None = Field(description="The event it is seen at")
    message: str


class AuditVerification(_Answer):
    ok: bool
    events: int
    head_seq: int
    head_hash: str
    problems: list[AuditProblem]
    checkpoint: dict[str, Any] | None = Field(description="The newest checkpoint checked")
    seconds: float
    notes: list[str]
    anchor: dict[str, Any] | None = Field(description="The exported checkpoint checked against")


class KeyRotation(_Answer):
    old_key_id: str | None
    new_key_id: str
    endorsed: bool = Field(description="Whether the old key signed the new one")
    checkpoint: Checkpoint


# Policies -------------------------------------------------------------------------------------


class Policy(_Answer):
    name: str
    description: str
    actions: list[str]
    when: str | None
    allow: str
    message: str
    approval: bool
    file: str


class PolicyDecision(_Answer):
    allowed: bool
    policy: str | None = Field(description="The first policy that denied")
    message: str
    evaluated: list[str]


class ApprovalRequest(_Answer):
    id: str
    policy: str
    action: str
    object_ref: str
    project: str | None
    attributes: dict[str, Any]
    requested_by: str
    status: Literal["pending", "approved", "rejected", "used"]
    decided_by: str | None
    decided_at: datetime | None
    reason: str | None
    created_at: datetime


# Models ----------------------------------------------------------------------------------------


class ModelSummary(_Answer):
    """A model (``ws.models.list``): its newest version and where its aliases point."""

    name: str
    project: str
    description: str
    latest_version: int
    versions: int
    aliases: dict[str, int] = Field(description="alias -> version")
    created_at: datetime
    created_by: str


class ModelVersion(_Answer):
    """One registered model version (``ws.models.get``); docs/models.md describes each part."""

    name: str
    version: int
    ref: str = Field(description="name@version")
    id: str
    project: str
    status: Literal["ready", "archived"]
    flavor: Literal["sklearn", "lightgbm", "xgboost"]
    task: Literal["classification", "regression"]
    estimator: str
    fingerprint: str
    native_digest: str
    native_format: str
    onnx_digest: str
    profile_digest: str
    validation_digest: str | None
    signature: dict[str, Any] = Field(description="inputs (name, type, shape), outputs, classes")
    metrics: dict[str, float | None] = Field(description="null: NaN (undefined on the data)")
    parity: dict[str, Any] = Field(description="max_abs_diff, row, tolerance, rows, versions")
    card: dict[str, Any]
    gates: dict[str, Any]
    lineage: dict[str, Any]
    run_id: str | None
    aliases: list[str]
    created_at: datetime
    created_by: str


class AliasMove(_Answer):
    """One move of an alias (``to_version`` null: removed)."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    forced: bool
    reason: str
    moved_at: datetime
    moved_by: str


class GateResult(_Answer):
    name: str
    passed: bool
    message: str
    value: float | None
    threshold: float | None
    champion_value: float | None
    margin: float | None


class Promotion(_Answer):
    """The outcome of a promotion: the alias move and each gate's result."""

    model: str
    alias: str
    from_version: int | None
    to_version: int
    forced: bool
    reason: str
    gates: list[GateResult]
    changed: bool = Field(description="false: the alias already pointed at the version")


# Runs -----------------------------------------------------------------------------------------


class RunArtifact(_Answer):
    name: str
    digest: str = Field(description="sha256 of the bytes (content address)")
    size: int


class RunError(_Answer):
    step: str
    message: str
    traceback: str


class Run(_Answer):
    """A run (``ws.runs.get``): metrics are the newest values, null for NaN."""

    id: str
    short_id: str = Field(description="The shortest unique prefix of id, 8 characters or more")
    project: str
    experiment: str
    name: str
    status: Literal["running", "finished", "failed"]
    source: str
    params: dict[str, str]
    metrics: dict[str, float | None]
    tags: dict[str, str]
    seed: int | None
    environment: dict[str, Any]
    inputs: list[dict[str, Any]] = Field(description="{kind, id, ref, ...attributes} each")
    error: RunError | None
    rerun_of: str | None
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    cpu_s: float | None
    created_by: str
    artifacts: list[RunArtifact]


class RunDifference(_Answer):
    key: str
    a: Any
    b: Any
    differs: bool
    delta: float | None = Field(default=None, description="b - a, for two numeric metrics")


class RunComparison(_Answer):
    """Two runs side by side (``ws.runs.compare``)."""

    a: Run
    b: Run
    params: list[RunDifference]
    metrics: list[RunDifference]
    attributes: list[RunDifference]


class RunLogged(_Answer):
    id: str
    params: int
    metrics: int
    tags: int


class LineageNode(_Answer):
    """An object of the lineage graph; its other fields describe it (rows, status, ...)."""

    model_config = ConfigDict(extra="allow")
    kind: str
    ref: str
    id: str
    project: str


class LineageEdge(_Answer):
    from_: str = Field(alias="from")
    to: str
    relation: str
    attributes: dict[str, Any]


class LineageHidden(_Answer):
    kind: str
    count: int
    reason: str


class LineageFeature(_Answer):
    """A served feature value of a prediction and where it came from."""

    feature: str
    value: Any
    status: str | None
    age_seconds: float | None
    view_version: str | None
    dataset_versions: list[str]
    event_time: str | None
    resolved: Literal["recorded", "materialization", "none"]
    hidden: int


class LineagePredictionCount(_Answer):
    deployment: str
    scored: int
    served_values: int


class LineagePredictions(_Answer):
    scored: int
    served_values: int
    deployments: list[LineagePredictionCount]
    hidden_deployments: int | None = None


class Lineage(_Answer):
    """``ws.lineage.upstream`` / ``downstream``: the graph around one object."""

    ref: str
    direction: Literal["upstream", "downstream"]
    root: LineageNode
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    hidden: list[LineageHidden]
    truncated: bool
    features: list[LineageFeature] | None = None
    predictions: LineagePredictions | None = None


class OpenLineageEvent(_Answer):
    """One OpenLineage run event (spec 2-0-2), as openlineage-python serialises it."""

    model_config = ConfigDict(extra="allow")
    eventType: str
    eventTime: str
    producer: str
    schemaURL: str
    run: dict[str, Any]
    job: dict[str, Any]
    inputs: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
