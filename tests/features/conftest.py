"""A workspace with a transactions dataset and a features.py over it (shared per module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import goldenpath

FEATURES_PY = """
from goldenpath.features import Aggregation, Entity, FeatureService, FeatureView, Field, on_demand

user = Entity(name="user", join_keys=["user_id"], description="a card holder", owner="risk")

user_tx = FeatureView(
    name="user_tx",
    entities=[user],
    source="transactions",
    timestamp="event_time",
    ttl="2h",
    description="spending of a user",
    owner="risk",
    features=[
        Field(name="amount", dtype="float64"),
        Field(name="large", dtype="bool", expression="amount > 100", default=False),
    ],
    aggregations=[
        Aggregation(name="tx_count_1h", function="count", window="1h"),
        Aggregation(name="amount_mean_7d", function="mean", column="amount", window="7d"),
    ],
)


@on_demand(
    inputs=["user_tx:amount_mean_7d"],
    request=[Field(name="request_amount", dtype="float64")],
    outputs=[Field(name="amount_ratio", dtype="float64")],
)
def ratio(row):
    mean = row["amount_mean_7d"]
    return {"amount_ratio": None if not mean else row["request_amount"] / mean}


fraud = FeatureService(
    name="fraud",
    features=[
        "user_tx:amount", "user_tx:tx_count_1h", "user_tx:amount_mean_7d", "ratio:amount_ratio"
    ],
)
"""

UTC_US = pa.timestamp("us", tz="UTC")


def transactions_file(directory: Path, rows: dict[str, list[object]], name: str) -> Path:
    table = pa.table(
        {
            "user_id": pa.array(rows["user_id"], pa.int64()),
            "event_time": pa.array(rows["event_time"], UTC_US),
            "amount": pa.array(rows["amount"], pa.float64()),
        }
    )
    path = directory / name
    pq.write_table(table, path)
    return path


@pytest.fixture(scope="module")
def feature_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[goldenpath.Workspace]:
    """A workspace (SQLite) with dataset ``transactions`` and features.py applied."""
    from datetime import UTC, datetime, timedelta

    base = tmp_path_factory.mktemp("features")
    ws = goldenpath.connect(base / "home", actor="alice", create=True)
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows = {
        "user_id": [1, 1, 1, 2, 2],
        "event_time": [
            t0,
            t0 + timedelta(minutes=30),
            t0 + timedelta(hours=3),
            t0,
            t0 + timedelta(days=1),
        ],
        "amount": [10.0, 200.0, 30.0, 5.0, 7.0],
    }
    ws.datasets.ingest("transactions", transactions_file(base, rows, "tx.parquet"))
    (base / "features.py").write_text(FEATURES_PY)
    ws.features.apply(base / "features.py")
    yield ws
    ws.close()
