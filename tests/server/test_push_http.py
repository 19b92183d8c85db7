"""Push over HTTP (issue 22, §5): times travel as ISO-8601 text and are parsed per the view's
dataset schema, for naive and zone-aware timestamp columns and dates alike, through raw HTTP,
the remote SDK against a live server, and ``GP_SERVER=... gp features push``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

import goldenpath
from goldenpath.cli.app import app as cli_app
from tests.features.conftest import FEATURES_PY
from tests.server.conftest import serving

T0 = datetime(2025, 1, 1)  # naive: the dataset's times carry no zone (as a CSV's often do)
AT = datetime(2025, 1, 1, 1, tzinfo=UTC)


@dataclass
class Served:
    url: str
    ws: goldenpath.Workspace
    token: str
    base: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    base = tmp_path_factory.mktemp("push-http")
    ws = goldenpath.connect(base / "home", actor="alice", create=True)
    table = pa.table(
        {
            "user_id": pa.array([1, 2], pa.int64()),
            "event_time": pa.array([T0, T0], pa.timestamp("us")),
            "amount": pa.array([10.0, 5.0], pa.float64()),
            "day": pa.array([date(2025, 1, 1)] * 2, pa.date32()),
        }
    )
    pq.write_table(table, base / "tx.parquet")
    ws.datasets.ingest("transactions", base / "tx.parquet")
    naive = FEATURES_PY.replace(
        'timestamp="event_time",', 'timestamp="event_time", timezone="UTC",'
    )
    assert naive != FEATURES_PY
    (base / "features.py").write_text(naive)
    ws.features.apply(base / "features.py")
    ws.features.materialize(full=True)
    token = ws.principals.create_token("alice", expires_in="1h").secret
    with serving(ws) as url:
        yield Served(url, ws, token, base)
    ws.close()


def _amount(served: Served, user: int) -> float | None:
    got = served.ws.features.online([{"user_id": user}], ["user_tx:amount"], at=AT)
    return got.values["amount"][0]


def test_raw_http_push_parses_iso_text_per_the_schema(served: Served) -> None:
    row = {"user_id": 11, "event_time": "2025-01-01T00:20:00", "amount": 7.5, "day": "2025-01-01"}
    answer = httpx.post(
        f"{served.url}/api/v1/features/views/user_tx/push",
        json={"rows": [row]},
        headers={"Authorization": f"Bearer {served.token}"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["rows"] == 1 and answer.json()["online"]["mode"] == "push"
    assert _amount(served, 11) == 7.5
    rows = served.ws.datasets.read("transactions").to_pylist()
    (pushed,) = [r for r in rows if r["user_id"] == 11]
    assert pushed == {
        "user_id": 11,
        "event_time": T0 + timedelta(minutes=20),
        "amount": 7.5,
        "day": date(2025, 1, 1),
    }


def test_the_remote_sdk_pushes_against_a_live_server(served: Served) -> None:
    rows = [
        {"user_id": 12, "event_time": T0 + timedelta(minutes=30), "amount": 3.0},
        {"user_id": 13, "event_time": T0 + timedelta(minutes=31), "amount": 4.0, "day": None},
    ]
    with goldenpath.connect(served.url, token=served.token) as remote:
        result = remote.features.push("user_tx", rows)
        assert result.rows == 2 and result.online.entities_written == 2
        got = remote.features.online([{"user_id": 12}, {"user_id": 13}], ["user_tx:amount"], at=AT)
    assert got.values == {"amount": [3.0, 4.0]}


def test_gp_features_push_over_gp_server(served: Served) -> None:
    table = pa.table(
        {
            "user_id": pa.array([14], pa.int64()),
            "event_time": pa.array([T0 + timedelta(minutes=40)], pa.timestamp("us")),
            "amount": pa.array([9.0], pa.float64()),
        }
    )
    file = served.base / "next.parquet"
    pq.write_table(table, file)
    env = {**os.environ, "GP_SERVER": served.url, "GP_TOKEN": served.token, "GP_HOME": "/none"}
    result = CliRunner().invoke(cli_app, ["features", "push", "user_tx", str(file)], env=env)
    assert result.exit_code == 0, (result.output, result.exception)
    assert "1 row pushed" in result.output
    assert _amount(served, 14) == 9.0


@pytest.mark.parametrize(
    ("row", "says"),
    [
        ({"user_id": 15, "event_time": "yesterday", "amount": 1.0}, "'event_time'"),
        ({"user_id": 15, "event_time": "2025-01-01T00:00:00", "day": "1/1/25"}, "'day'"),
        ({"user_id": 15, "event_time": 5, "amount": 1.0}, "event_time"),
    ],
)
def test_times_that_do_not_parse_are_422_naming_the_column(
    served: Served, row: dict[str, object], says: str
) -> None:
    before = served.ws.datasets.get("transactions").version
    answer = httpx.post(
        f"{served.url}/api/v1/features/views/user_tx/push",
        json={"rows": [row]},
        headers={"Authorization": f"Bearer {served.token}"},
        timeout=30,
    )
    assert answer.status_code == 422, answer.text
    assert says in answer.json()["detail"]
    assert served.ws.datasets.get("transactions").version == before
