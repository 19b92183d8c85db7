"""Where ``/v1/predict`` finds each model input: online features, on-demand features, or the
request.

The plan is read from the model version's lineage (the definition versions its training set
read), so serving looks up exactly the features the model was trained on:

- an input named by a batch feature view the training set read is looked up online, by the
  view's join keys (``entities`` in the request);
- an input computed by an on-demand view runs the view's function from the project's
  ``features.py``: its source must hash to the applied version's (checked by ``ws.features``
  on every lookup), and the applied version must be the one training used, else the
  deployment is refused;
- every other input is a request field (``request`` in the request), typed by the signature.

Lookups run on the server's event loop without blocking it (:meth:`FeaturePlan.resolve_async`:
a Redis read is awaited, under ``limits.online_lookup_seconds``; SQLite is read inline).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from goldenpath.core.errors import (
    BackendUnavailable,
    Conflict,
    InvalidInput,
    PermissionDenied,
    Unauthenticated,
)
from goldenpath.serving.columns import column, feature_column, kind_of
from goldenpath.serving.problem import Problem, invalid

ENTITY_KEY_CHARS_MAX = 256
log = logging.getLogger("goldenpath.serving")


@dataclass(frozen=True)
class Resolved:
    """The feeds of a batch of /v1 rows and what each feature was (for the answer and log)."""

    feeds: dict[str, Any]
    features: list[dict[str, dict[str, Any]]]  # per row: name -> value, status, age, source


@dataclass
class FeaturePlan:
    """How one model version's inputs are found for ``/v1/predict``."""

    inputs: list[tuple[str, str]]
    refs: dict[str, str] = field(default_factory=dict)  # input -> "view:feature"
    sources: dict[str, str] = field(default_factory=dict)  # input -> "view@N"
    entity_keys: tuple[str, ...] = ()
    request_fields: dict[str, str] = field(default_factory=dict)  # name -> kind
    request_only: dict[str, str] = field(default_factory=dict)  # on-demand request fields
    definitions: Path | None = None
    # rows -> OnlineResult (and read_async), pinned to the feature versions current at load
    # (ws.features.online_reader).
    reader: Any = None

    @property
    def uses_features(self) -> bool:
        return bool(self.refs)

    async def resolve_async(
        self,
        rows: Sequence[Mapping[str, Any]],
        count: Callable[[str, int], None] | None = None,
        *,
        seconds: float,
    ) -> Resolved:
        """Feeds for ``rows`` (each ``{"entities": {...}, "request": {...}}``, already
        shape-checked), looking the features up with ``reader`` on the event loop: a network
        store (Redis) is awaited, never read blocking, and a lookup that takes longer than
        ``seconds`` (``limits.online_lookup_seconds``) is abandoned: 503 for this request,
        logged, while every other request goes on. ``count(status, n)`` hears how many values
        were present, missing or expired (before a missing one is refused)."""
        entity_rows, feeds = self._prepare(rows)
        result = None
        if self.refs:
            assert self.reader is not None
            try:
                async with asyncio.timeout(seconds):
                    result = await self.reader.read_async(entity_rows)
            except TimeoutError:
                log.warning(
                    "online feature lookup of %s abandoned after %g s "
                    "(limits.online_lookup_seconds): answered 503",
                    ", ".join(dict.fromkeys(r.split(":", 1)[0] for r in self.refs.values())),
                    seconds,
                )
                raise _unavailable(
                    f"the online feature store did not answer within {seconds:g} s "
                    "(limits.online_lookup_seconds)"
                ) from None
            except InvalidInput as exc:
                raise invalid(str(exc), "entities") from None
            except BackendUnavailable as exc:
                log.warning("online feature lookup failed: %s: answered 503", exc)
                raise _unavailable(str(exc)) from None
            except (PermissionDenied, Unauthenticated) as exc:
                # The deployment's own principal lost its grant (or was disabled): the server
                # says so once per check in its log and in gp deployments status.
                raise _unavailable(
                    f"this deployment may not read online features now ({exc}); see "
                    "gp deployments status"
                ) from None
        return self._finish(rows, entity_rows, feeds, result, count)

    def _prepare(
        self, rows: Sequence[Mapping[str, Any]]
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The request's checks, the entity rows to look up, and the request fields' feeds."""
        n = len(rows)
        entity_rows = []
        for index, row in enumerate(rows):
            entities, request = row["entities"], row["request"]
            where = f"[{index}]" if n > 1 else ""
            self._check_entities(entities, where)
            self._check_request(request, where)
            entity_rows.append({**entities, **request} if self.definitions else entities)
        feeds: dict[str, Any] = {}
        for name, kind in self.request_fields.items():
            feeds[name] = column(kind, [r["request"][name] for r in rows], f"request.{name}")
        for name, kind in self.request_only.items():
            column(kind, [r["request"][name] for r in rows], f"request.{name}")
        return entity_rows, feeds

    def _finish(
        self,
        rows: Sequence[Mapping[str, Any]],
        entity_rows: list[dict[str, Any]],
        feeds: dict[str, Any],
        result: Any,
        count: Callable[[str, int], None] | None,
    ) -> Resolved:
        n = len(rows)
        features: list[dict[str, dict[str, Any]]] = [{} for _ in range(n)]
        if result is not None:
            kinds = dict(self.inputs)
            if count is not None:
                tally: dict[str, int] = {}
                for ref in self.refs.values():
                    for status in result.statuses[ref.split(":", 1)[1]]:
                        tally[status] = tally.get(status, 0) + 1
                for status, values_read in tally.items():
                    count(status, values_read)
            for name, ref in self.refs.items():
                feature = ref.split(":", 1)[1]
                values = result.values[feature]
                statuses = result.statuses[feature]
                ages = result.ages[feature]
                origins = result.origins.get(feature) or [None] * n
                for index in range(n):
                    if values[index] is None and statuses[index] != "present":
                        where = f"[{index}] " if n > 1 else ""
                        raise Problem(
                            422,
                            f"{where}feature {name} ({ref}) has no online value for "
                            f"{_keys(entity_rows[index], self.entity_keys)} ({statuses[index]}) "
                            "and declares no default",
                            field=f"features.{name}",
                        )
                    entry = {
                        "value": values[index],
                        "status": statuses[index],
                        "age_seconds": ages[index],
                        "source": self.sources.get(name),
                    }
                    origin = origins[index]
                    if origin is not None:
                        entry.update(_origin(origin))
                    features[index][name] = entry
                feeds[name] = feature_column(kinds[name], values, f"features.{name}")
        return Resolved(feeds, features)

    def _check_entities(self, entities: Mapping[str, Any], where: str) -> None:
        missing = [k for k in self.entity_keys if k not in entities]
        if missing:
            raise invalid(
                f"entities{where} lacks the join key(s) {', '.join(missing)}",
                f"entities.{missing[0]}",
            )
        extra = [k for k in entities if k not in self.entity_keys]
        if extra:
            expected = ", ".join(self.entity_keys) or "none"
            raise invalid(
                f"entities{where}: unknown key(s) {', '.join(map(str, extra[:5]))}; "
                f"this model's keys: {expected}",
                f"entities.{extra[0]}",
            )
        for key, value in entities.items():
            if not isinstance(value, (int, str)) or isinstance(value, bool):
                raise invalid(
                    f"entities.{key} must be an integer or a string, got {kind_of(value)}",
                    f"entities.{key}",
                )
            if isinstance(value, str) and len(value) > ENTITY_KEY_CHARS_MAX:
                raise invalid(
                    f"entities.{key} is longer than {ENTITY_KEY_CHARS_MAX} characters",
                    f"entities.{key}",
                )

    def _check_request(self, request: Mapping[str, Any], where: str) -> None:
        for name in (*self.request_fields, *self.request_only):
            if name not in request:
                raise invalid(f"request{where} lacks the field {name}", f"request.{name}")
        if len(request) > len(self.request_fields) + len(self.request_only):
            known = {*self.request_fields, *self.request_only}
            extra = [k for k in request if k not in known]
            raise invalid(
                f"request{where}: unknown field(s) {', '.join(map(str, extra[:5]))}; "
                "the model reads "
                f"{', '.join(sorted(known)) or 'no request fields'}",
                f"request.{extra[0]}",
            )


def _origin(origin: tuple[str | None, tuple[int, ...], int]) -> dict[str, Any]:
    """A value's origin as the prediction log keeps it: ``dataset_versions`` (``name@N``,
    one per source version; empty for a view over a SQL query, which the lineage query
    resolves from the materialisation then in force) and ``event_time`` (ISO-8601 UTC) of
    the row (for an aggregation: the newest event in its window)."""
    dataset, versions, event_us = origin
    return {
        "dataset_versions": [f"{dataset}@{v}" for v in versions],
        "event_time": _iso_us(event_us),
    }


def _iso_us(micros: int) -> str:
    return (_EPOCH + timedelta(microseconds=micros)).isoformat().replace("+00:00", "Z")


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _unavailable(detail: str) -> Problem:
    return Problem(
        503,
        f"{detail}; no prediction was made",
        field="features",
        headers={"Retry-After": "1"},
    )


def _keys(row: Mapping[str, Any], keys: Sequence[str]) -> str:
    return ", ".join(f"{k}={row.get(k)!r}" for k in keys)


def plan_for(
    inputs: list[tuple[str, str]],
    lineage: Mapping[str, Any],
    features: Any,
    definitions: Path | None,
) -> FeaturePlan:
    """The plan of a model version (``inputs`` from its signature, ``lineage`` as registered)
    over the workspace's feature store ``features`` (``ws.features``)."""
    plan = FeaturePlan(inputs=list(inputs))
    names = {name for name, _ in inputs}
    keys: list[str] = []
    on_demand: list[tuple[str, int]] = []
    for used in lineage.get("feature_versions") or []:
        kind = used.get("kind")
        if kind not in ("feature_view", "on_demand"):
            continue
        view, _, version = str(used["ref"]).partition("@")
        for feature in used.get("features") or []:
            if feature in names and feature not in plan.refs:
                plan.refs[feature] = f"{view}:{feature}"
                plan.sources[feature] = used["ref"]
        if kind == "feature_view":
            for entity in features.view(view, int(version)).entities:
                keys += [k for k in entity.join_keys if k not in keys]
        else:
            on_demand.append((view, int(version)))
    plan.entity_keys = tuple(keys)
    plan.request_fields = {n: k for n, k in inputs if n not in plan.refs}
    if on_demand:
        plan.definitions = _check_on_demand(on_demand, features, definitions, plan)
    if plan.refs:
        refs = list(dict.fromkeys(plan.refs.values()))
        plan.reader = features.online_reader(refs, definitions=plan.definitions)
    return plan


def _check_on_demand(
    used: list[tuple[str, int]], features: Any, definitions: Path | None, plan: FeaturePlan
) -> Path:
    from goldenpath.features.project import load_definitions

    if definitions is None:
        names = ", ".join(name for name, _ in used)
        raise InvalidInput(
            f"the model reads on-demand feature(s) of {names}, which run project code",
            hint="deploy from the project folder, or pass --features path/to/features.py",
        )
    loaded = load_definitions(definitions)
    for name, version in used:
        entry = features.show(name)
        if entry.version != version:
            raise Conflict(
                f"on-demand view {name} is at version {entry.version}; the model was trained "
                f"with version {version}: serving would compute different features",
                hint="retrain the model on the applied features (gp train), then deploy it",
            )
        code = loaded.on_demand.get(name)
        if code is None or code.source_hash != entry.content.get("source_hash"):
            raise Conflict(
                f"on-demand view {name} in {definitions} is not the applied version "
                f"{name}@{version}",
                hint="deploy from the project whose features.py was applied (gp features plan)",
            )
        for request_field in code.request:
            if request_field.name not in plan.request_fields:
                kind = "string" if request_field.dtype == "string" else "float"
                plan.request_only[request_field.name] = kind
    return Path(definitions).resolve()
