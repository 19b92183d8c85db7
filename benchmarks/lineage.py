"""``gp lineage prediction:ID`` on a deployment with 1M logged predictions (issue 25 §7:
under 50 ms in process and over HTTP, not counting ``gp`` start-up).

One workspace: the fraud example (docs/examples/fraud) ingested, its features applied,
trained once, materialised and pushed to; ``fraud@1`` deployed, asked one real prediction
(whose logged feature entries, with their dataset versions, every generated record copies),
then stopped. Its prediction log then gets ``--records`` records spread over ``--hours`` hours
(hour partitions, as the server's ids make), appended in ``--commits`` Delta commits (the
supervisor flushes every few seconds: a real log has many). Then, for ``--samples`` random
logged request ids:

1. ``ws.lineage.upstream("prediction:ID")`` in process, ms;
2. ``GET /api/v1/lineage/upstream?ref=prediction:ID`` on the control plane (uvicorn on
   127.0.0.1, one keep-alive client), ms;

each as p50 / p99 / max, the first (cold) call apart. A lookup reads only the hour partition
its id names (the id is a ULID: its first 48 bits are its time).

Run from the repository root::

    .venv/bin/python benchmarks/lineage.py                    # 1,000,000 records
    .venv/bin/python benchmarks/lineage.py --records 100000   # a quick check
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa

import goldenpath
from goldenpath.serving.prediction_log import SCHEMA, partition_of

EXAMPLE = Path(__file__).resolve().parents[1] / "docs" / "examples" / "fraud"
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ulid(ms: int, rng: random.Random) -> str:
    head = []
    for _ in range(10):
        ms, digit = divmod(ms, 32)
        head.append(CROCKFORD[digit])
    tail = "".join(rng.choice(CROCKFORD) for _ in range(16))
    return "".join(reversed(head)) + tail


def _workspace(tmp: Path) -> tuple[Any, str, dict[str, Any]]:
    from datetime import UTC, datetime, timedelta

    project = tmp / "fraud"
    project.mkdir()
    for name in (
        "gp.yaml",
        "train.py",
        "features.py",
        "transactions.csv",
        "transactions.contract.yaml",
    ):
        shutil.copy(EXAMPLE / name, project / name)
    ws = goldenpath.connect(tmp / "home", actor="alice", create=True)
    os.environ["GP_HOME"] = str(tmp / "home")
    ws.datasets.ingest(
        "transactions",
        project / "transactions.csv",
        contract=project / "transactions.contract.yaml",
    )
    ws.features.apply(project / "features.py")
    ws.training.train(project)
    ws.features.materialize()
    now = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=1)
    ws.features.push(
        "user_tx",
        [
            {
                "tx_id": f"tx_{900000 + i:06d}",
                "user_id": 1 + i,
                "amount": 20.0 + i,
                "currency": "EUR",
                "ts": now,
                "is_fraud": False,
            }
            for i in range(100)
        ],
    )
    info = ws.deployments.deploy("fraud@1", "bench-lineage")
    try:
        answer = httpx.post(
            f"{info.url}/v1/predict",
            json={"entities": {"user_id": 3}, "request": {"currency": "EUR"}},
            timeout=10,
        )
        answer.raise_for_status()
        request_id = answer.json()["request_id"]
        deadline = time.monotonic() + 30
        while True:
            try:
                record = ws.predictions.show(request_id)
                break
            except goldenpath.NotFound:
                assert time.monotonic() < deadline, "the prediction was never logged"
                time.sleep(0.1)
    finally:
        ws.deployments.stop(info.name)
    return ws, info.name, record


def _fill(
    ws: Any, name: str, record: dict[str, Any], records: int, hours: int, commits: int
) -> list[str]:
    import json

    from deltalake import write_deltalake

    location = str(ws.storage_root / "predictions" / name)
    rng = random.Random(7)
    end_ms = int(time.time() * 1000) - 3_600_000
    start_ms = end_ms - hours * 3_600_000
    step = (end_ms - start_ms) / records
    features = json.dumps(record["features"], separators=(",", ":"))
    ids: list[str] = []
    per = -(-records // commits)
    for first in range(0, records, per):
        count = min(per, records - first)
        batch_ids = [_ulid(int(start_ms + (first + i) * step), rng) for i in range(count)]
        ids += batch_ids
        micros = [int(start_ms + (first + i) * step) * 1000 for i in range(count)]
        columns = {
            "request_id": batch_ids,
            "time": pa.array(micros, pa.int64()).cast(SCHEMA.field("time").type),
            "partition": [partition_of(i) for i in batch_ids],
            "deployment": [name] * count,
            "model": ["fraud"] * count,
            "model_version": [1] * count,
            "role": ["primary"] * count,
            "returned": [True] * count,
            "entities": [json.dumps(record["entities"])] * count,
            "request": [json.dumps(record["request"])] * count,
            "features": [features] * count,
            "contract_passed": [True] * count,
            "contract": ["[]"] * count,
            "output": [json.dumps(record["output"])] * count,
            "latency_ms": [1.0] * count,
            "status": [200] * count,
        }
        table = pa.Table.from_pydict(columns, schema=SCHEMA)
        write_deltalake(location, table, mode="append", partition_by=["partition"])
    return ids


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _figures(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {statistics.median(ordered):.1f} ms, p99 {p99:.1f} ms, max {ordered[-1]:.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--commits", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        started = time.perf_counter()
        ws, name, record = _workspace(tmp)
        print(
            f"workspace trained, deployed, one prediction logged: "
            f"{time.perf_counter() - started:.0f} s"
        )
        started = time.perf_counter()
        ids = _fill(ws, name, record, args.records, args.hours, args.commits)
        print(
            f"{args.records:,} predictions in {args.commits} commits over {args.hours} h: "
            f"{time.perf_counter() - started:.0f} s"
        )
        rng = random.Random(11)
        sample = rng.sample(ids, args.samples)
        found = ws.lineage.upstream(f"prediction:{sample[0]}")
        assert found.features and all(f["dataset_versions"] for f in found.features), found
        cold: list[float] = []
        local: list[float] = []
        for index, request_id in enumerate(sample):
            began = time.perf_counter()
            ws.lineage.upstream(f"prediction:{request_id}")
            (cold if index == 0 else local).append((time.perf_counter() - began) * 1000)
        print(f"in process: first {cold[0]:.1f} ms; then {_figures(local)}")

        import uvicorn

        from goldenpath.server.app import create_app

        port = _free_port()
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(ws.stack, ws.store), host="127.0.0.1", port=port, log_level="warning"
            )
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        token = ws.principals.create_token("alice", expires_in="1h").secret
        remote: list[float] = []
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as client:
            for index, request_id in enumerate(sample):
                began = time.perf_counter()
                answer = client.get(
                    "/api/v1/lineage/upstream", params={"ref": f"prediction:{request_id}"}
                )
                elapsed = (time.perf_counter() - began) * 1000
                answer.raise_for_status()
                if index:
                    remote.append(elapsed)
        print(f"over HTTP: {_figures(remote)}")
        server.should_exit = True
        thread.join(timeout=10)
        ws.close()


if __name__ == "__main__":
    main()
