"""What a user writes in a project's ``features.py``: entities, feature views, on-demand
features and feature services.

These are plain, frozen declarations; nothing here touches a database, a file or DuckDB. They
check what can be checked without data (names, types, windows, references) when they are made,
so a typo fails at the line that made it. What needs the data (does an expression compile over
the source's columns? is the join key's type right?) is checked by the registry at plan time.

Each definition has a *version hash*: sha256 over what decides the values it produces (source,
timestamps, TTL, expressions, types, windows, an on-demand function's source code). Metadata
(description, owner, tags) is not part of it: editing a description never makes a new version.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from goldenpath.core.errors import InvalidInput
from goldenpath.core.names import validate_name

# The value types a feature can have, named as users know them; ``DUCKDB_TYPES`` maps each to
# the type the offline engine and materialisation cast to, so both paths agree on one type.
Dtype = Literal["int64", "float64", "string", "bool", "timestamp"]
DTYPES: tuple[str, ...] = ("int64", "float64", "string", "bool", "timestamp")
DUCKDB_TYPES = {
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "string": "VARCHAR",
    "bool": "BOOLEAN",
    "timestamp": "TIMESTAMPTZ",
}

# A feature or column name becomes a column in training sets and a key in online answers:
# lower-case identifier, no '-' (it would need quoting in every user's SQL).
FEATURE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

AggregationFunction = Literal["sum", "count", "mean", "min", "max", "count_distinct"]
AGGREGATION_FUNCTIONS: tuple[str, ...] = ("sum", "count", "mean", "min", "max", "count_distinct")

_DURATION = re.compile(r"^([0-9]{1,6})(s|m|h|d|w)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
# Windows and TTLs are bounded: a window of ten years keeps every event online forever.
MAX_DURATION = timedelta(days=3_660)


def parse_duration(text: str | timedelta, *, what: str) -> timedelta:
    """``"10m"``, ``"1h"``, ``"7d"``, ``"2w"`` (or a ``timedelta``) as a positive ``timedelta``."""
    if isinstance(text, timedelta):
        value = text
    else:
        match = _DURATION.fullmatch(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise InvalidInput(
                f"invalid {what} {text!r}: write a whole number and a unit (s, m, h, d, w)",
                hint="for example: 10m, 1h, 7d, 30d",
            )
        value = timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    if value <= timedelta(0) or value > MAX_DURATION:
        raise InvalidInput(
            f"invalid {what} {text!r}: it must be more than 0 and at most 3660 days",
            hint="for example: 10m, 1h, 7d, 30d",
        )
    return value


def duration_text(value: timedelta) -> str:
    """The shortest exact form of a duration: ``timedelta(hours=1)`` is ``"1h"``."""
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds % _UNIT_SECONDS[unit] == 0:
            return f"{seconds // _UNIT_SECONDS[unit]}{unit}"
    return f"{seconds}s"


def _feature_name(name: str, *, kind: str) -> str:
    if not isinstance(name, str) or not FEATURE_NAME.fullmatch(name):
        raise InvalidInput(
            f"invalid {kind} {name!r}: use 1-63 lower-case letters, digits or '_', "
            "not starting with a digit",
            hint="for example: amount, tx_count_1h, avg_amount_7d",
        )
    return name


def _dtype(value: str, *, where: str) -> str:
    if value not in DTYPES:
        raise InvalidInput(
            f"{where}: unknown type {value!r}",
            hint=f"use one of: {', '.join(DTYPES)}",
        )
    return value


def _tags(tags: Mapping[str, str]) -> dict[str, str]:
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise InvalidInput("tags must map text to text", hint='for example: {"team": "risk"}')
    return dict(tags)


METADATA = frozenset({"description", "owner", "tags"})
"""The fields of every definition that are metadata: edited in place, never part of a version
hash. Every other field decides values and is in its definition's ``content()`` (checked field
by field in tests/features/test_definitions.py)."""


def _digest(content: Mapping[str, Any]) -> str:
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, kw_only=True)
class Entity:
    """What features describe (a user, a card, a merchant), identified by its join keys."""

    name: str
    join_keys: Sequence[str]
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_name(self.name, kind="entity name")
        keys = tuple(self.join_keys) if not isinstance(self.join_keys, str) else ()
        if not keys:
            raise InvalidInput(
                f"entity {self.name!r} needs at least one join key",
                hint='for example: Entity(name="user", join_keys=["user_id"])',
            )
        for key in keys:
            _feature_name(key, kind=f"join key of entity {self.name!r}")
        if len(set(keys)) != len(keys):
            raise InvalidInput(f"entity {self.name!r} names a join key twice")
        object.__setattr__(self, "join_keys", keys)
        object.__setattr__(self, "tags", _tags(self.tags))

    def content(self) -> dict[str, Any]:
        return {"kind": "entity", "name": self.name, "join_keys": list(self.join_keys)}

    @property
    def version_hash(self) -> str:
        return _digest(self.content())


@dataclass(frozen=True, kw_only=True)
class Field:
    """A row-level feature: a SQL expression over the source's columns (default: the column of
    the same name), of one type. ``default`` is served when no live value exists."""

    name: str
    dtype: str
    expression: str | None = None
    default: Any = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _feature_name(self.name, kind="feature name")
        _dtype(self.dtype, where=f"feature {self.name!r}")
        if self.expression is not None and not (
            isinstance(self.expression, str) and self.expression.strip()
        ):
            raise InvalidInput(f"feature {self.name!r}: expression must be non-empty SQL text")
        object.__setattr__(self, "tags", _tags(self.tags))

    @property
    def sql(self) -> str:
        """The expression to evaluate (a bare column reference when none was given)."""
        return self.expression if self.expression is not None else f'"{self.name}"'

    def content(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "expression": self.sql,
            "default": self.default,
        }


@dataclass(frozen=True, kw_only=True)
class Aggregation:
    """A windowed aggregation: ``function`` over ``column`` (a SQL expression) for the source
    rows whose event time lies in ``(T - window, T]``. A count over no rows is 0; every other
    function over no rows is null (or ``default``)."""

    name: str
    function: str
    window: str | timedelta
    column: str | None = None
    dtype: str | None = None
    default: Any = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _feature_name(self.name, kind="feature name")
        if self.function not in AGGREGATION_FUNCTIONS:
            raise InvalidInput(
                f"feature {self.name!r}: unknown aggregation {self.function!r}",
                hint=f"use one of: {', '.join(AGGREGATION_FUNCTIONS)}",
            )
        if self.function != "count" and not (isinstance(self.column, str) and self.column.strip()):
            raise InvalidInput(
                f"feature {self.name!r}: {self.function} needs a column (a SQL expression)",
                hint=f'for example: Aggregation(name="{self.name}", function="{self.function}", '
                'column="amount", window="7d")',
            )
        window = parse_duration(self.window, what=f"window of feature {self.name!r}")
        object.__setattr__(self, "window", window)
        dtype = self.dtype or _AGGREGATION_DTYPE.get(self.function)
        if dtype is None:
            raise InvalidInput(
                f"feature {self.name!r}: say the type of its {self.function} (dtype=...)",
                hint="min and max keep the column's type, for example dtype='float64'",
            )
        object.__setattr__(self, "dtype", _dtype(dtype, where=f"feature {self.name!r}"))
        object.__setattr__(self, "tags", _tags(self.tags))

    @property
    def window_delta(self) -> timedelta:
        assert isinstance(self.window, timedelta)
        return self.window

    def content(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "function": self.function,
            "column": self.column,
            "window_seconds": int(self.window_delta.total_seconds()),
            "dtype": self.dtype,
            "default": self.default,
        }


_AGGREGATION_DTYPE = {"count": "int64", "count_distinct": "int64", "sum": None, "mean": "float64"}


@dataclass(frozen=True, kw_only=True)
class SqlSource:
    """A feature view's source computed by a SQL query over datasets, run on the sandboxed
    DuckDB connection with each named dataset registered as a table of that name."""

    query: str
    datasets: Sequence[str]

    def __post_init__(self) -> None:
        if not isinstance(self.query, str) or not self.query.strip():
            raise InvalidInput("a SQL source needs a query")
        names = tuple(validate_name(d, kind="dataset name") for d in self.datasets)
        if not names:
            raise InvalidInput("a SQL source must name the datasets its query reads")
        object.__setattr__(self, "datasets", names)

    def content(self) -> dict[str, Any]:
        return {"query": self.query, "datasets": list(self.datasets)}


@dataclass(frozen=True, kw_only=True)
class FeatureView:
    """Features of one or more entities computed from one source (a dataset, or a SQL query over
    datasets), keyed by the entities' join keys and an event-timestamp column.

    ``ttl``: a row-level value is live at time T while ``T - event_time <= ttl`` (no TTL: live
    forever). ``created_timestamp`` breaks ties between rows with the same event time.
    ``timezone``: the zone of a naive event timestamp; without it, a naive timestamp is an error.
    """

    name: str
    entities: Sequence[Entity]
    source: str | SqlSource
    timestamp: str
    features: Sequence[Field] = ()
    aggregations: Sequence[Aggregation] = ()
    created_timestamp: str | None = None
    ttl: str | timedelta | None = None
    timezone: str | None = None
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_name(self.name, kind="feature view name")
        entities = tuple(self.entities)
        if not entities or not all(isinstance(e, Entity) for e in entities):
            raise InvalidInput(
                f"feature view {self.name!r} needs at least one Entity",
                hint="for example: entities=[user]",
            )
        object.__setattr__(self, "entities", entities)
        if isinstance(self.source, str):
            validate_name(self.source, kind=f"source dataset of feature view {self.name!r}")
        elif not isinstance(self.source, SqlSource):
            raise InvalidInput(
                f"feature view {self.name!r}: source must be a dataset name or a SqlSource"
            )
        _feature_name(self.timestamp, kind=f"timestamp column of feature view {self.name!r}")
        if self.created_timestamp is not None:
            _feature_name(self.created_timestamp, kind="created timestamp column")
        if self.ttl is not None:
            object.__setattr__(
                self, "ttl", parse_duration(self.ttl, what=f"ttl of feature view {self.name!r}")
            )
        if self.timezone is not None:
            _check_timezone(self.timezone, view=self.name)
        features = tuple(self.features)
        aggregations = tuple(self.aggregations)
        if not features and not aggregations:
            raise InvalidInput(f"feature view {self.name!r} defines no features")
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "aggregations", aggregations)
        names = [f.name for f in features] + [a.name for a in aggregations]
        keys = {k for e in entities for k in e.join_keys}
        clash = sorted({n for n in names if names.count(n) > 1} | (set(names) & keys))
        if clash:
            raise InvalidInput(
                f"feature view {self.name!r}: {', '.join(clash)} named twice "
                "(features, aggregations and join keys share one namespace)"
            )
        object.__setattr__(self, "tags", _tags(self.tags))

    @property
    def join_keys(self) -> tuple[str, ...]:
        return tuple(k for e in self.entities for k in e.join_keys)

    @property
    def ttl_delta(self) -> timedelta | None:
        assert self.ttl is None or isinstance(self.ttl, timedelta)
        return self.ttl

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features) + tuple(a.name for a in self.aggregations)

    def content(self) -> dict[str, Any]:
        ttl = self.ttl_delta
        return {
            "kind": "feature_view",
            "name": self.name,
            "entities": [e.content() for e in self.entities],
            "source": self.source if isinstance(self.source, str) else self.source.content(),
            "timestamp": self.timestamp,
            "created_timestamp": self.created_timestamp,
            "ttl_seconds": None if ttl is None else int(ttl.total_seconds()),
            "timezone": self.timezone,
            "features": [f.content() for f in self.features],
            "aggregations": [a.content() for a in self.aggregations],
        }

    @property
    def version_hash(self) -> str:
        return _digest(self.content())


def _check_timezone(name: str, *, view: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"feature view {view!r}: unknown time zone {name!r}",
            hint="use an IANA name, for example: Europe/Paris, America/New_York, UTC",
        ) from None


@dataclass(frozen=True, kw_only=True)
class OnDemandFeatureView:
    """Features computed by a Python function from request data and other features, by the same
    code when building training sets and when serving.

    ``function`` takes one mapping (request fields and input features by name) and returns a
    mapping with one value per output. Its source code's hash is part of the version, so a
    changed function is a new version, and it is checked wherever the function runs.
    """

    name: str
    function: Callable[[Mapping[str, Any]], Mapping[str, Any]]
    inputs: Sequence[str]
    outputs: Sequence[Field]
    request: Sequence[Field] = ()
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_name(self.name, kind="on-demand feature view name")
        if not callable(self.function):
            raise InvalidInput(f"on-demand feature view {self.name!r}: function is not callable")
        inputs = tuple(self.inputs)
        for ref in inputs:
            parse_feature_ref(ref)
        outputs = tuple(self.outputs)
        if not outputs:
            raise InvalidInput(f"on-demand feature view {self.name!r} has no outputs")
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "outputs", outputs)
        object.__setattr__(self, "request", tuple(self.request))
        object.__setattr__(self, "tags", _tags(self.tags))
        object.__setattr__(self, "_source_hash", function_source_hash(self.function))

    @property
    def source_hash(self) -> str:
        """sha256 of the function's source text (dedented), as recorded with training sets."""
        return str(self.__dict__["_source_hash"])

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.outputs)

    def content(self) -> dict[str, Any]:
        return {
            "kind": "on_demand",
            "name": self.name,
            "inputs": list(self.inputs),
            "request": [f.content() for f in self.request],
            "outputs": [f.content() for f in self.outputs],
            "function": getattr(self.function, "__qualname__", "function"),
            "source_hash": self.source_hash,
        }

    @property
    def version_hash(self) -> str:
        return _digest(self.content())


def function_source_hash(function: Callable[..., Any]) -> str:
    """sha256 of a function's source text, dedented so moving it into a class does not count."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        raise InvalidInput(
            f"cannot read the source of {getattr(function, '__qualname__', function)!r}",
            hint="define on-demand functions with def in a .py file (not a lambda in a REPL)",
        ) from None
    return hashlib.sha256(textwrap.dedent(source).encode()).hexdigest()


def on_demand(
    *,
    inputs: Sequence[str],
    outputs: Sequence[Field],
    request: Sequence[Field] = (),
    name: str | None = None,
    description: str = "",
    owner: str = "",
    tags: Mapping[str, str] | None = None,
) -> Callable[[Callable[[Mapping[str, Any]], Mapping[str, Any]]], OnDemandFeatureView]:
    """Decorator form of :class:`OnDemandFeatureView`; the view is named after the function
    (``_`` kept, since view names allow it) unless ``name`` is given."""

    def wrap(function: Callable[[Mapping[str, Any]], Mapping[str, Any]]) -> OnDemandFeatureView:
        return OnDemandFeatureView(
            name=name or function.__name__,
            function=function,
            inputs=inputs,
            outputs=outputs,
            request=request,
            description=description or (inspect.getdoc(function) or "").split("\n")[0],
            owner=owner,
            tags=tags or {},
        )

    return wrap


@dataclass(frozen=True, kw_only=True)
class FeatureService:
    """The named set of features a model uses: ``"view:feature"`` references, or whole views."""

    name: str
    features: Sequence[str | FeatureView | OnDemandFeatureView]
    description: str = ""
    owner: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_name(self.name, kind="feature service name")
        refs: list[str] = []
        for item in self.features:
            if isinstance(item, (FeatureView, OnDemandFeatureView)):
                refs.extend(f"{item.name}:{f}" for f in item.feature_names)
            else:
                view, feature = parse_feature_ref(item)
                refs.append(f"{view}:{feature}")
        if not refs:
            raise InvalidInput(f"feature service {self.name!r} names no features")
        if len(set(refs)) != len(refs):
            raise InvalidInput(f"feature service {self.name!r} names a feature twice")
        object.__setattr__(self, "features", tuple(refs))
        object.__setattr__(self, "tags", _tags(self.tags))

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(str(f) for f in self.features)

    def content(self) -> dict[str, Any]:
        return {"kind": "feature_service", "name": self.name, "features": list(self.refs)}

    @property
    def version_hash(self) -> str:
        return _digest(self.content())


def parse_feature_ref(ref: str) -> tuple[str, str]:
    """``"user_stats:avg_amount_7d"`` as ``("user_stats", "avg_amount_7d")``."""
    view, sep, feature = ref.partition(":") if isinstance(ref, str) else ("", "", "")
    if not sep:
        raise InvalidInput(
            f"invalid feature reference {ref!r}: write view:feature",
            hint="for example: user_stats:avg_amount_7d",
        )
    validate_name(view, kind="feature view name")
    _feature_name(feature, kind="feature name")
    return view, feature


Definition = Entity | FeatureView | OnDemandFeatureView | FeatureService


def entity_from_content(content: Mapping[str, Any], **metadata: Any) -> Entity:
    """An :class:`Entity` rebuilt from its stored ``content()``."""
    return Entity(name=content["name"], join_keys=list(content["join_keys"]), **metadata)


def view_from_content(content: Mapping[str, Any], **metadata: Any) -> FeatureView:
    """A :class:`FeatureView` rebuilt from its stored ``content()`` (the registry keeps the
    content JSON; the server and the online path rebuild views from it, without project code).
    The rebuilt view has the same ``version_hash``. ``metadata``: description, owner, tags."""
    source = content["source"]
    ttl = content.get("ttl_seconds")
    return FeatureView(
        name=content["name"],
        entities=[entity_from_content(e) for e in content["entities"]],
        source=source if isinstance(source, str) else SqlSource(**source),
        timestamp=content["timestamp"],
        created_timestamp=content.get("created_timestamp"),
        ttl=None if ttl is None else timedelta(seconds=int(ttl)),
        timezone=content.get("timezone"),
        features=[
            Field(
                name=f["name"], dtype=f["dtype"], expression=f["expression"], default=f["default"]
            )
            for f in content["features"]
        ],
        aggregations=[
            Aggregation(
                name=a["name"],
                function=a["function"],
                column=a["column"],
                window=timedelta(seconds=int(a["window_seconds"])),
                dtype=a["dtype"],
                default=a["default"],
            )
            for a in content["aggregations"]
        ],
        **metadata,
    )
