"""Feature definitions: what is checked when they are made, and what makes a new version."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from goldenpath.core.errors import InvalidInput, NotFound
from goldenpath.features import (
    Aggregation,
    Entity,
    FeatureService,
    FeatureView,
    Field,
    OnDemandFeatureView,
    SqlSource,
    on_demand,
)
from goldenpath.features.definitions import METADATA
from goldenpath.features.project import Definitions, load_definitions

USER = Entity(name="user", join_keys=["user_id"])


def view(**changes: object) -> FeatureView:
    spec: dict[str, object] = {
        "name": "user_stats",
        "entities": [USER],
        "source": "transactions",
        "timestamp": "event_time",
        "features": [Field(name="amount", dtype="float64")],
        "aggregations": [
            Aggregation(name="tx_count_1h", function="count", window="1h"),
            Aggregation(name="avg_amount_7d", function="mean", column="amount", window="7d"),
        ],
        "ttl": "30d",
    }
    spec.update(changes)
    return FeatureView(**spec)  # type: ignore[arg-type]


def test_windows_and_ttl_are_parsed_and_bounded() -> None:
    v = view()
    assert v.ttl_delta == timedelta(days=30)
    assert v.aggregations[0].window_delta == timedelta(hours=1)
    assert v.aggregations[0].dtype == "int64" and v.aggregations[1].dtype == "float64"
    for bad in ("0h", "1y", "7 days", "-1d", "99999w"):
        with pytest.raises(InvalidInput):
            view(ttl=bad)


def test_bad_definitions_fail_where_they_are_made() -> None:
    with pytest.raises(InvalidInput, match="unknown type"):
        Field(name="x", dtype="float")
    with pytest.raises(InvalidInput, match="unknown aggregation"):
        Aggregation(name="x", function="median", column="amount", window="1h")
    with pytest.raises(InvalidInput, match="needs a column"):
        Aggregation(name="x", function="sum", window="1h")
    with pytest.raises(InvalidInput, match="named twice"):
        view(features=[Field(name="user_id", dtype="string")])
    with pytest.raises(InvalidInput, match="time zone"):
        view(timezone="Mars/Olympus")
    with pytest.raises(InvalidInput, match="feature name"):
        Field(name="Amount-1", dtype="int64")


def test_the_version_hash_covers_values_not_metadata() -> None:
    base = view().version_hash
    assert view(description="new words", owner="risk", tags={"a": "b"}).version_hash == base
    assert view(ttl="7d").version_hash != base
    changed = [Field(name="amount", dtype="float64", expression="amount * 100")]
    assert view(features=changed).version_hash != base


def _ratio(row):  # type: ignore[no-untyped-def]
    return {"ratio": 1.0}


def _ratio_changed(row):  # type: ignore[no-untyped-def]
    return {"ratio": 2.0}


def _odfv(**changes: object) -> OnDemandFeatureView:
    spec: dict[str, object] = {
        "name": "od",
        "function": _ratio,
        "inputs": ["user_stats:amount"],
        "outputs": [Field(name="ratio", dtype="float64")],
        "request": [Field(name="x", dtype="float64")],
    }
    spec.update(changes)
    return OnDemandFeatureView(**spec)  # type: ignore[arg-type]


def _field(**changes: object) -> FeatureView:
    spec: dict[str, object] = {"name": "amount", "dtype": "float64"}
    spec.update(changes)
    return view(features=[Field(**spec)])  # type: ignore[arg-type]


def _aggregation(**changes: object) -> FeatureView:
    spec: dict[str, object] = {
        "name": "n",
        "function": "sum",
        "column": "amount",
        "window": "1h",
        "dtype": "float64",
    }
    spec.update(changes)
    return view(aggregations=[Aggregation(**spec)])  # type: ignore[arg-type]


def _entity(**changes: object) -> FeatureView:
    spec: dict[str, object] = {"name": "user", "join_keys": ["user_id"]}
    spec.update(changes)
    return view(entities=[Entity(**spec)])  # type: ignore[arg-type]


def _service(**changes: object) -> FeatureService:
    spec: dict[str, object] = {"name": "fraud", "features": ["user_stats:amount"]}
    spec.update(changes)
    return FeatureService(**spec)  # type: ignore[arg-type]


def _sql(**changes: object) -> FeatureView:
    spec: dict[str, object] = {"query": "SELECT * FROM tx", "datasets": ["tx"]}
    spec.update(changes)
    return view(source=SqlSource(**spec))  # type: ignore[arg-type]


# Per definition class: how to build one with a field changed (its hash is the one that must
# move: a Field's is its view's), and a changed value for every field that is not metadata.
CHANGES: dict[type, tuple[Callable[..., Any], dict[str, object]]] = {
    FeatureView: (
        view,
        {
            "name": "user_stats2",
            "entities": [Entity(name="card", join_keys=["card_id"])],
            "source": "payments",
            "timestamp": "ts",
            "features": [Field(name="amount", dtype="int64")],
            "aggregations": [Aggregation(name="tx_count_1h", function="count", window="2h")],
            "created_timestamp": "created",
            "ttl": "7d",
            "timezone": "Europe/Paris",
        },
    ),
    Field: (
        _field,
        {
            "name": "amount2",
            "dtype": "int64",
            "expression": "amount * 100",
            "default": -1.0,
        },
    ),
    Aggregation: (
        _aggregation,
        {
            "name": "n2",
            "function": "max",
            "window": "10m",
            "column": "amount * 2",
            "dtype": "int64",
            "default": -1.0,
        },
    ),
    Entity: (_entity, {"name": "card", "join_keys": ["card_id"]}),
    SqlSource: (_sql, {"query": "SELECT * FROM tx WHERE amount > 0", "datasets": ["tx", "u"]}),
    OnDemandFeatureView: (
        _odfv,
        {
            "name": "od2",
            "function": _ratio_changed,
            "inputs": ["user_stats:tx_count_1h"],
            "outputs": [Field(name="ratio", dtype="int64")],
            "request": [Field(name="y", dtype="float64")],
        },
    ),
    FeatureService: (_service, {"name": "fraud2", "features": ["user_stats:tx_count_1h"]}),
}


@pytest.mark.parametrize("kind", list(CHANGES), ids=lambda k: k.__name__)
def test_every_field_is_hashed_or_declared_metadata(kind: type) -> None:
    make, changes = CHANGES[kind]
    base = make().version_hash
    for item in dataclasses.fields(kind):
        if item.name in METADATA:
            value: object = {"team": "x"} if item.name == "tags" else "new words"
            assert make(**{item.name: value}).version_hash == base, item.name
            continue
        assert item.name in changes, (
            f"{kind.__name__}.{item.name} is neither in the version hash test nor metadata: "
            "hash it (content()) and add a changed value here, or add it to METADATA"
        )
        changed = make(**{item.name: changes[item.name]}).version_hash
        assert changed != base, f"changing {kind.__name__}.{item.name} keeps the version hash"


def test_on_demand_functions_are_versioned_by_their_source() -> None:
    @on_demand(inputs=["user_stats:avg_amount_7d"], outputs=[Field(name="ratio", dtype="float64")])
    def ratio(row):  # type: ignore[no-untyped-def]
        return {"ratio": row["amount"] / (row["avg_amount_7d"] or 1.0)}

    @on_demand(inputs=["user_stats:avg_amount_7d"], outputs=[Field(name="ratio", dtype="float64")])
    def ratio2(row):  # type: ignore[no-untyped-def]
        return {"ratio": row["amount"] / (row["avg_amount_7d"] or 2.0)}

    assert len(ratio.source_hash) == 64 and ratio.source_hash != ratio2.source_hash
    assert ratio.function({"amount": 4.0, "avg_amount_7d": 2.0}) == {"ratio": 2.0}


def test_references_and_cycles_are_checked() -> None:
    service = FeatureService(name="fraud", features=["user_stats:tx_count_1h", "nope:x"])
    with pytest.raises(NotFound, match="unknown feature view 'nope'"):
        Definitions.of([view(), service])
    with pytest.raises(NotFound, match="unknown feature 'user_stats:x'"):
        Definitions.of([view(), FeatureService(name="f", features=["user_stats:x"])])

    @on_demand(name="a", inputs=["b:y"], outputs=[Field(name="x", dtype="int64")])
    def a(row):  # type: ignore[no-untyped-def]
        return {"x": 1}

    @on_demand(name="b", inputs=["a:x"], outputs=[Field(name="y", dtype="int64")])
    def b(row):  # type: ignore[no-untyped-def]
        return {"y": 1}

    with pytest.raises(InvalidInput, match=r"cycle: (a -> b -> a|b -> a -> b)"):
        Definitions.of([a, b])


def test_load_definitions_reports_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "features.py"
    good.write_text(
        "from goldenpath.features import Entity, FeatureView, Field, FeatureService\n"
        "user = Entity(name='user', join_keys=['user_id'])\n"
        "stats = FeatureView(name='stats', entities=[user], source='tx', timestamp='ts',\n"
        "                    features=[Field(name='amount', dtype='float64')])\n"
        "svc = FeatureService(name='svc', features=[stats])\n"
    )
    loaded = load_definitions(good)
    assert set(loaded.views) == {"stats"} and set(loaded.entities) == {"user"}
    assert loaded.services["svc"].refs == ("stats:amount",)

    broken = tmp_path / "broken.py"
    broken.write_text("x = 1\n\nraise RuntimeError('boom')\n")
    with pytest.raises(InvalidInput, match=r"broken.py:3: .*RuntimeError: boom"):
        load_definitions(broken)
    bad_type = tmp_path / "bad_type.py"
    bad_type.write_text("from goldenpath.features import Field\n\nf = Field(name='a', dtype='x')\n")
    with pytest.raises(InvalidInput, match=r"bad_type.py:3: .*unknown type"):
        load_definitions(bad_type)
    syntax = tmp_path / "syntax.py"
    syntax.write_text("def (:\n")
    with pytest.raises(InvalidInput, match=r"syntax.py:1: syntax error"):
        load_definitions(syntax)
    with pytest.raises(NotFound):
        load_definitions(tmp_path / "missing.py")
