"""A materialisation killed (SIGKILL) mid-write or before its state is recorded leaves the old
values readable, and the next run redoes the work."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import goldenpath
from goldenpath.features import Aggregation, Entity, FeatureView, Field
from goldenpath.features.online import open_online_store
from goldenpath.features.online_service import OnlineFeatures
from goldenpath.features.project import Definitions

T0 = datetime(2026, 3, 1, tzinfo=UTC)

SCRIPT = """
import sys
from pathlib import Path
import goldenpath
from goldenpath.features import Entity, FeatureView, Field, Aggregation
from goldenpath.features.online import open_online_store
from goldenpath.features.online_service import OnlineFeatures
from goldenpath.features.project import Definitions

home, online = Path(sys.argv[1]), sys.argv[2]
ws = goldenpath.connect(home, actor="alice")
view = FeatureView(
    name="spend", entities=[Entity(name="user", join_keys=["user_id"])], source="tx",
    timestamp="ts", features=[Field(name="amount", dtype="float64")],
    aggregations=[Aggregation(name="n_1h", function="count", window="1h")],
)
store = open_online_store(online, home, namespace=sys.argv[3])
service = OnlineFeatures(Definitions.of([view]), ws.datasets, store, ws.store, ws.actor)
if sys.argv[4] == "push":
    from datetime import UTC, datetime
    row = {"user_id": 1, "ts": datetime(2026, 3, 1, 0, 25, tzinfo=UTC), "amount": 50.0}
    service.push("spend", [row])
else:
    service.materialize()
"""


def _ingest(ws: goldenpath.Workspace, tmp: Path, amounts: list[float], minutes: list[int]) -> None:
    table = pa.table(
        {
            "user_id": pa.array([1] * len(amounts), pa.int64()),
            "ts": pa.array(
                [T0 + timedelta(minutes=m) for m in minutes], pa.timestamp("us", tz="UTC")
            ),
            "amount": amounts,
        }
    )
    path = tmp / f"batch{minutes[0]}.parquet"
    pq.write_table(table, path)
    ws.datasets.ingest("tx", path)


def _run(
    script: Path,
    home: Path,
    online: str,
    ns: str,
    *args: str,
    fault: str | None = None,
    marker: Path | None = None,
) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    if fault is not None and marker is not None:
        env.update(GP_FAULT_POINT=fault, GP_FAULT_MARKER=str(marker))
    return subprocess.Popen(
        [sys.executable, str(script), str(home), online, ns, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _service(home: Path, ws: goldenpath.Workspace, online: str, ns: str) -> OnlineFeatures:
    view = FeatureView(
        name="spend",
        entities=[Entity(name="user", join_keys=["user_id"])],
        source="tx",
        timestamp="ts",
        features=[Field(name="amount", dtype="float64")],
        aggregations=[Aggregation(name="n_1h", function="count", window="1h")],
    )
    store = open_online_store(online, home, namespace=ns)
    return OnlineFeatures(Definitions.of([view]), ws.datasets, store, ws.store, ws.actor)


def _read(service: OnlineFeatures) -> tuple[float, int]:
    got = service.online(
        [{"user_id": 1}], ["spend:amount", "spend:n_1h"], at=T0 + timedelta(minutes=30)
    )
    return got.values["amount"][0], got.values["n_1h"][0]


@pytest.mark.parametrize(
    ("online", "point"),
    [("sqlite", "online.sqlite.before-commit"), ("redis", "materialize.before-state")],
)
def test_a_killed_materialisation_is_redone(tmp_path: Path, online: str, point: str) -> None:
    ns = f"gp-crash-{tmp_path.name}:"
    if online == "redis":
        from tests.features.online.conftest import redis_or_skip

        online = redis_or_skip()
    home = tmp_path / "home"
    ws = goldenpath.connect(home, actor="alice", create=True)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT, encoding="utf-8")
    service = _service(home, ws, online, ns)
    try:
        _ingest(ws, tmp_path, [1.0, 2.0], [0, 1])
        service.materialize()
        _ingest(ws, tmp_path, [7.0], [20])
        marker = tmp_path / "marker"
        killed = _run(script, home, online, ns, "materialize", fault=point, marker=marker)
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert killed.poll() is None, killed.stderr.read() if killed.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        # before the store's commit: the old values; after it: the new ones. Never a mix.
        assert _read(service) == ((2.0, 2) if point == "online.sqlite.before-commit" else (7.0, 3))
        again = service.materialize().views[0]
        assert (again.mode, again.rows_read, again.dataset_versions) == (
            "incremental",
            1,
            {"tx": [2]},
        )
        assert _read(service) == (7.0, 3)
    finally:
        if online.startswith("redis"):
            open_online_store(online, home, namespace=ns).drop("spend")
        ws.close()


def test_a_push_killed_after_the_offline_log_is_repaired_by_materialise(tmp_path: Path) -> None:
    home = tmp_path / "home"
    ws = goldenpath.connect(home, actor="alice", create=True)
    script = tmp_path / "run.py"
    script.write_text(SCRIPT, encoding="utf-8")
    service = _service(home, ws, "sqlite", "")
    try:
        _ingest(ws, tmp_path, [1.0, 2.0], [0, 1])
        service.materialize()
        marker = tmp_path / "marker"
        killed = _run(script, home, "sqlite", "", "push", fault="push.after-offline", marker=marker)
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert killed.poll() is None, killed.stderr.read() if killed.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.05)
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        # the offline log has the row, the online store not yet: never the other way round
        assert ws.datasets.get("tx").version == 2
        assert _read(service) == (2.0, 2)
        again = service.materialize().views[0]
        assert (again.mode, again.dataset_versions) == ("incremental", {"tx": [2]})
        assert _read(service) == (50.0, 3)
    finally:
        ws.close()
