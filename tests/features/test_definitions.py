"""Feature definitions: what is checked when they are made, and what makes a new version."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from goldenpath.core.errors import InvalidInput, NotFound
from goldenpath.features import Aggregation, Entity, FeatureService, FeatureView, Field, on_demand
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
