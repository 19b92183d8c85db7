"""Limits on everything a caller controls, in one typed, documented place.

Each limit has a default that suits a laptop and a shared server alike, can be changed in the
workspace's ``config.yaml`` under ``limits:`` and overridden per process by
``GP_LIMIT_<NAME>`` (for example ``GP_LIMIT_UPLOAD_MAX_BYTES=1073741824``). A project's
``gp.yaml`` cannot change them: a project must not loosen what protects the server.
``docs/security.md`` lists them with the attack each one answers.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from goldenpath.core.errors import InvalidInput

MiB = 1 << 20


class Limits(BaseModel):
    """The limits in force. Every field is a positive number; units are in the names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # HTTP
    body_max_bytes: int = Field(default=1 * MiB, gt=0, description="a JSON request body")
    upload_max_bytes: int = Field(default=512 * MiB, gt=0, description="an uploaded file, as sent")
    # Files read into datasets
    columns_max: int = Field(default=2_000, gt=0, description="columns in one file")
    rows_per_upload_max: int = Field(
        default=50_000_000, gt=0, description="rows decoded from one file"
    )
    decompression_ratio_max: float = Field(
        default=100.0, gt=0, description="decoded bytes per byte of a compressed file"
    )
    decompressed_max_bytes: int = Field(default=8 << 30, gt=0, description="one file, decompressed")
    upload_seconds_max: float = Field(
        default=900.0, gt=0, description="parsing, checking and writing one upload (server)"
    )
    nesting_depth_max: int = Field(default=32, gt=0, description="nesting of JSON values and YAML")
    column_name_chars_max: int = Field(
        default=10_000, gt=0, description="characters in one column name"
    )
    # Policies
    policy_evaluation_seconds: float = Field(
        default=1.0, gt=0, description="one policy evaluation, wall clock"
    )
    policy_input_bytes_max: int = Field(
        default=64 * 1024, gt=0, description="attributes a policy is evaluated on, as JSON"
    )
    # Online features
    online_entities_max: int = Field(
        default=10_000, gt=0, description="entity rows in one online feature lookup"
    )
    push_rows_max: int = Field(
        default=100_000, gt=0, description="rows in one push to a feature view"
    )
    online_lookup_seconds: float = Field(
        default=0.5,
        gt=0,
        description="one online feature lookup by an inference server over the network "
        "(Redis), wall clock (then 503)",
    )
    freshness_entities_max: int = Field(
        default=10_000,
        gt=0,
        description="entities of each feature view a deploy's freshness check looks up",
    )
    # Lineage
    lineage_edges_max: int = Field(
        default=10_000,
        gt=0,
        description="lineage edges one query reads per object and direction (then it says cut)",
    )
    openlineage_runs_max: int = Field(
        default=10_000, gt=0, description="training runs in one OpenLineage export"
    )
    # Serving (the inference server of a deployment)
    deployment_grants_reload_seconds: float = Field(
        default=30.0,
        gt=0,
        description="how often an inference server re-reads its deployment principal's grants",
    )
    predict_body_max_bytes: int = Field(
        default=1 * MiB, gt=0, description="one inference request body"
    )
    predict_rows_max: int = Field(
        default=1_000, gt=0, description="rows (entities or tensor rows) in one inference request"
    )
    predict_inflight_max: int = Field(
        default=64, gt=0, description="requests one inference server works on at once (then 429)"
    )
    predict_readers_max: int = Field(
        default=256,
        gt=0,
        description="request bodies one inference server receives at once (then 429)",
    )
    predict_seconds: float = Field(
        default=2.0,
        gt=0,
        description="one inference request, wall clock (408 while its body arrives, then 503)",
    )
    prediction_log_queue_max: int = Field(
        default=10_000, gt=0, description="predictions waiting to be logged (then dropped, counted)"
    )
    monitor_window_rows_max: int = Field(
        default=200_000,
        gt=0,
        description="prediction-log rows one monitor window reads (then the window is capped)",
    )
    invoke_token_cache_seconds: float = Field(
        default=2.0,
        gt=0,
        description="how long a checked invoke token is trusted before re-reading",
    )
    # Runs
    run_filter_chars_max: int = Field(
        default=4_000, gt=0, description="characters in one run search filter"
    )
    run_filter_clauses_max: int = Field(
        default=20, gt=0, description="clauses (joined by and) in one run search filter"
    )
    run_list_max: int = Field(default=10_000, gt=0, description="runs in one search answer")
    run_log_entries_max: int = Field(
        default=1_000, gt=0, description="params, metrics and tags in one log call over HTTP"
    )
    run_heartbeat_seconds: float = Field(
        default=5.0,
        gt=0,
        description="how often gp train writes its run's heartbeat while it works",
    )
    run_lost_after_seconds: float = Field(
        default=120.0,
        gt=0,
        description="a running run whose heartbeat is older than this is failed (process lost)",
    )
    # Models (the registry)
    model_features_max: int = Field(
        default=2_000, gt=0, description="feature columns of one model (at packaging)"
    )
    model_validation_rows_max: int = Field(
        default=5_000_000, gt=0, description="rows of validation data a model is packaged with"
    )
    model_predict_rows_max: int = Field(
        default=1_000_000, gt=0, description="rows scored by one ws.models.predict call"
    )
    model_description_chars_max: int = Field(
        default=10_000, gt=0, description="characters in a model version's description"
    )
    model_reason_chars_max: int = Field(
        default=1_000, gt=0, description="characters in a promotion's or alias change's reason"
    )
    model_lineage_items_max: int = Field(
        default=1_000,
        gt=0,
        description="datasets, feature versions or contracts in one version's lineage",
    )
    model_lineage_max_bytes: int = Field(
        default=1_000_000, gt=0, description="one version's lineage, as JSON"
    )
    model_card_text_chars_max: int = Field(
        default=10_000, gt=0, description="characters in one text field of a model card"
    )
    model_card_owners_max: int = Field(default=50, gt=0, description="owners on a model card")
    model_card_owner_chars_max: int = Field(
        default=200, gt=0, description="characters in one owner's name on a model card"
    )
    # Tokens
    token_lifetime_max_days: int = Field(default=90, gt=0, description="the longest a token lives")
    # Errors and audit events
    error_examples_max: int = Field(default=5, gt=0, description="examples per failed rule")
    example_chars_max: int = Field(default=80, gt=0, description="characters per example")

    @model_validator(mode="after")
    def _heartbeat_within_lost(self) -> Limits:
        if self.run_lost_after_seconds < 2 * self.run_heartbeat_seconds:
            raise ValueError(
                "run_lost_after_seconds must be at least twice run_heartbeat_seconds "
                f"({self.run_heartbeat_seconds:g}), or a live run would be judged lost"
            )
        return self


FIELDS = tuple(Limits.model_fields)


def resolve_limits(configured: Mapping[str, object] | None = None) -> Limits:
    """The limits: ``GP_LIMIT_*`` > the workspace config's ``limits:`` > defaults."""
    values: dict[str, object] = dict(configured or {})
    for name in FIELDS:
        env = os.environ.get(f"GP_LIMIT_{name.upper()}")
        if env:
            values[name] = env
    try:
        return Limits.model_validate(values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = str(first["loc"][0]) if first["loc"] else "limits"
        source = f"GP_LIMIT_{key.upper()}" if os.environ.get(f"GP_LIMIT_{key.upper()}") else key
        raise InvalidInput(
            f"limit {source}: {first['msg']}",
            hint=f"the limits are: {', '.join(FIELDS)} (see docs/security.md)",
        ) from None
