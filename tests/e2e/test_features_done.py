"""Issue 13's "Done means": a feature view with a 1h count and a 7d mean over a transactions
dataset builds a training set and serves the same values online, from the CLI (the real
``gp``), the SDK and over HTTP (and ``gp`` pointed at the server)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pyarrow.parquet as pq

import goldenpath
from tests.server.conftest import serving

GP = Path(sys.executable).parent / "gp"
AT = datetime(2025, 6, 8, 12, 0, tzinfo=UTC)
USERS = (1, 2, 3, 4)  # 4 has no transactions

FEATURES = """
from goldenpath.features import Aggregation, Entity, FeatureView

user_tx = FeatureView(
    name="user_tx",
    entities=[Entity(name="user", join_keys=["user_id"])],
    source="transactions",
    timestamp="ts",
    aggregations=[
        Aggregation(name="tx_count_1h", function="count", window="1h"),
        Aggregation(name="amount_mean_7d", function="mean", column="amount", window="7d"),
    ],
)
"""


def _transactions() -> str:
    lines = ["tx_id,user_id,ts,amount"]
    # (user, minutes before AT, amount): inside and outside each window, and on its edges.
    events = [
        (1, 5, 10.0), (1, 30, 20.0), (1, 60, 99.0), (1, 61, 5.0), (1, 3 * 24 * 60, 7.5),
        (1, 7 * 24 * 60, 1000.0), (2, 2 * 24 * 60, 3.0), (2, 6 * 24 * 60, 4.0),
        (3, 8 * 24 * 60, 50.0),
    ]  # fmt: skip
    for n, (user, minutes, amount) in enumerate(events):
        ts = (AT - timedelta(minutes=minutes)).isoformat()
        lines.append(f"tx{n},{user},{ts},{amount}")
    return "\n".join(lines) + "\n"


def gp(cwd: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [str(GP), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"gp {args} -> {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_a_training_set_and_online_serving_agree_from_cli_sdk_and_http(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    env.update(GP_HOME=str(home), GP_ACTOR="alice", COLUMNS="200")
    (tmp_path / "tx.csv").write_text(_transactions())
    (tmp_path / "features.py").write_text(FEATURES)
    rows = "".join(f"{u},{AT.isoformat()}\n" for u in USERS)
    (tmp_path / "rows.csv").write_text("user_id,event_timestamp\n" + rows)
    refs = ["user_tx:tx_count_1h", "user_tx:amount_mean_7d"]
    wanted = [a for r in refs for a in ("--feature", r)]

    gp(tmp_path, env, "init")
    gp(tmp_path, env, "data", "ingest", "transactions", "tx.csv")
    gp(tmp_path, env, "features", "apply")
    gp(tmp_path, env, "features", "training-set", "--entities", "rows.csv", *wanted,
       "--name", "done", "--output", "done.parquet")  # fmt: skip
    trained = pq.read_table(tmp_path / "done.parquet")
    expected = {
        "tx_count_1h": trained.column("tx_count_1h").to_pylist(),
        "amount_mean_7d": trained.column("amount_mean_7d").to_pylist(),
    }
    # The rules, by hand: (AT - 1h, AT] holds 2 of user 1's rows (the one exactly 1h before
    # AT is out); (AT - 7d, AT] 5 of them (the one exactly 7d before is out).
    assert expected == {
        "tx_count_1h": [2, 0, 0, 0],
        "amount_mean_7d": [(10 + 20 + 99 + 5 + 7.5) / 5, 3.5, None, None],
    }

    done = json.loads(gp(tmp_path, env, "features", "materialize", "--json"))
    assert [(v["view"], v["mode"], v["rows_read"]) for v in done["views"]] == [
        ("user_tx", "full", 9)
    ]
    entities = [a for u in USERS for a in ("--entity", f"user_id={u}")]
    features = [a for r in refs for a in ("--features", r)]
    lookup = [*entities, *features, "--at", AT.isoformat(), "--json"]

    def values(answer: dict[str, Any]) -> dict[str, list[Any]]:
        return {n: [row[n] for row in answer["rows"]] for n in expected}

    assert values(json.loads(gp(tmp_path, env, "features", "online", *lookup))) == expected

    ws = goldenpath.connect(home, actor="alice")
    assert isinstance(ws, goldenpath.Workspace)
    try:
        sdk = ws.features.online([{"user_id": u} for u in USERS], refs, at=AT)
        assert sdk.values == expected
        token = ws.principals.create_token("alice", expires_in="1h").secret
        with serving(ws) as url:
            answer = httpx.post(
                f"{url}/api/v1/features/online",
                json={
                    "entities": [{"user_id": u} for u in USERS],
                    "features": refs,
                    "at": AT.isoformat(),
                },
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            assert answer.status_code == 200, answer.text
            assert values(answer.json()) == expected
            remote = {**env, "GP_SERVER": url, "GP_TOKEN": token}
            over_http = json.loads(gp(tmp_path, remote, "features", "online", *lookup))
            assert values(over_http) == expected
    finally:
        ws.close()
