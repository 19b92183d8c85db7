"""The tie rule through real Delta appends: with no created timestamp, among rows with the
same key and event time the later dataset version wins, then the later row in a version."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

import goldenpath
from tests.features.conftest import UTC_US, transactions_file

T0 = datetime(2025, 1, 1, tzinfo=UTC)

FEATURES_PY = """
from goldenpath.features import Aggregation, Entity, FeatureView, Field
user = Entity(name="user", join_keys=["user_id"])
last = FeatureView(
    name="last", entities=[user], source="events", timestamp="event_time",
    features=[Field(name="amount", dtype="float64")],
    aggregations=[Aggregation(name="n_1h", function="count", window="1h")],
)
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[goldenpath.Workspace]:
    """``events`` in two versions; user 1 ties across them, user 2 within the second."""
    base: Path = tmp_path_factory.mktemp("ties")
    workspace = goldenpath.connect(base / "home", actor="alice", create=True)
    first = {"user_id": [1, 2], "event_time": [T0, T0 - timedelta(hours=1)], "amount": [1.0, 7.0]}
    second = {
        "user_id": [2, 1, 2, 2],
        "event_time": [T0, T0, T0, T0 - timedelta(days=1)],
        "amount": [20.0, 2.0, 30.0, 9.0],
    }
    workspace.datasets.ingest("events", transactions_file(base, first, "v1.parquet"))
    workspace.datasets.ingest("events", transactions_file(base, second, "v2.parquet"))
    (base / "features.py").write_text(FEATURES_PY)
    workspace.features.apply(base / "features.py")
    yield workspace
    workspace.close()


def test_the_later_version_then_the_later_row_wins_a_tie(ws: goldenpath.Workspace) -> None:
    assert ws.datasets.get("events").version == 2
    entities = pa.table(
        {
            "user_id": pa.array([1, 2, 2, 3, 1], pa.int64()),
            "event_timestamp": pa.array(
                [T0, T0 + timedelta(minutes=5), T0 - timedelta(minutes=1), T0, None], UTC_US
            ),
        }
    )
    built = ws.features.training_set(entities, ["last:amount", "last:n_1h"]).table
    # user 1: 1.0 (version 1) and 2.0 (version 2) at T0: version 2 wins.
    # user 2 at T0: 20.0 then 30.0 in version 2: the later row wins; both count (the row an
    # hour before T0 is out of the window). A minute before T0: the row an hour earlier, from
    # version 1. user 3: no rows. No instant: nothing matches.
    assert built.column("amount").to_pylist() == [2.0, 30.0, 7.0, None, None]
    assert built.column("n_1h").to_pylist() == [2, 2, 1, 0, 0]
