"""Serving under load: goldenpath vs ``mlflow models serve`` vs a bare app (issue 15).

    .venv/bin/python benchmarks/serving.py                          # all targets, 300 s soak
    .venv/bin/python benchmarks/serving.py --targets bare,mlflow --soak 0 --duration 5

Builds the quickstart's fraud model the way the product does, in a temporary ``GP_HOME``
(``gp quickstart``, ``gp features apply``, ``gp train``, ``gp features materialize``), then
starts each target alone on 127.0.0.1, one after another, and loads it:

1. **bare**: ``_serving_bare_app.py``, Starlette + onnxruntime serving the same ONNX graph
   (uvicorn, uvloop + httptools, one worker): the limit.
2. **mlflow**: ``mlflow models serve --env-manager local -w 1`` in ``.venv-mlflow`` (``make
   bench-mlflow-env``), serving the same sklearn pipeline trained on the same training rows by
   ``_mlflow_serving_runner.py``; bodies in MLflow's ``dataframe_split`` form.
3. **goldenpath**: ``gp deploy fraud@1 --name bench --port PORT``, ``POST /v1/predict``
   (entity-keyed: online features, then the model) and V2 ``/v2/models/fraud/infer``; skipped
   with a note on a checkout without ``gp deploy``.

Each target's answers are checked first (bare and MLflow must give the same probabilities:
the same model). Then per route: a warm-up; ``wrk`` (16 connections, one thread, a Lua script
cycling 16 bodies) for the maximum throughput; then each fixed rate up to what that sustained,
from ``_rate_client.py`` (below; ``--rate-client wrk`` uses wrk with a Lua schedule,
``_WRK_RATE``, and ``--rate-client hey`` 16 ``hey`` processes, ``hey_command`` saying why
not one ``hey -c 16``). One table: target, route, rate, achieved
rate, p50, p99, errors. ``--soak`` drives one target at 1,000 req/s the same way and samples
every 10 s the resident memory of the process listening on its port and, for goldenpath, of
the deployment's supervisor: ``gp deploy`` runs two processes, the server and a supervisor
beside it that restarts it and flushes the prediction log into Delta every 5 s, so goldenpath
is never one process alone.

Fixed rates come from ``_rate_client.py`` by default: 16 keep-alive connections sharing one
schedule, each request timed from its intended send time (no coordinated omission: a stalled
server is charged for the requests queued behind the stall); it prints its own lateness.
``--rate-client wrk`` / ``hey`` time from the actual send. The realistic features workload
(issue 22): ``/v1/predict`` also runs as route "v1 predict zipf": 20,000 more users, each
pushed 30 transactions in the last 50 minutes (so the 1h count and the 7d mean aggregate 30
events), and 65,536 bodies whose user ids are drawn Zipf-like (exponent 1.0, seeded) over
them (the distinct count is printed), beside the 16-user hot set.

Every process the harness starts runs in its own process group and is ended in a ``finally``
(Ctrl-C and SIGTERM included).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import markdown_table

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
GP = BIN / "gp"
CONNECTIONS = 16  # the clients: wrk's connections, hey's workers
BODIES = 16  # distinct request bodies per route, cycled
WARMUP_SECONDS = 3
SOAK_RATE = 1000
SOAK_SAMPLE_SECONDS = 10
STOP_SECONDS = 10
MODEL = "fraud@1"
V2_MODEL = "fraud"  # the model name in /v2/models/{name}/infer
MISSING_TOOL = {
    "wrk": "install it: apt-get install -y wrk (Debian's package)",
    "hey": "install it: apt-get install -y hey (Debian's package)",
}
# Budgets (DESIGN.md): p99 under 5 ms at 1,000 req/s with online features; maximum
# throughput at least 10x MLflow's and at least half the bare app's.
P99_BUDGET_MS = 5.0
VS_MLFLOW = 10.0
VS_BARE = 0.5


# -- processes ------------------------------------------------------------------------------


def start_group(
    command: Sequence[str], *, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start ``command`` in a new session (its own process group), output to ``log``: Ctrl-C
    in the terminal does not reach it, so :func:`stop_group` decides when it ends."""
    with log.open("ab") as out:
        return subprocess.Popen(
            list(command),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,
        )


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the process's whole group; SIGKILL to whatever of it is left after
    :data:`STOP_SECONDS` (uvicorn's server under ``mlflow models serve`` is a child)."""
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    while time.monotonic() < deadline:
        process.poll()
        try:
            os.killpg(process.pid, 0)  # anyone left in the group?
        except ProcessLookupError:
            break
        time.sleep(0.05)
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextmanager
def group(
    command: Sequence[str], *, log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    process = start_group(command, log=log, env=env, cwd=cwd)
    try:
        yield process
    finally:
        stop_group(process)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def listening_pids(port: int) -> list[int]:
    """The processes holding the listening socket of 127.0.0.1:``port`` (read from /proc: the
    served process, whichever launcher started it)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                pids.append(int(proc.name))
        except OSError:
            continue
    return sorted(pids)


def supervisor_pids(home: Path) -> list[int]:
    """The deployment supervisors under ``home`` (``gp deploy`` runs one beside the server: it
    restarts the server and flushes the prediction log into Delta every 5 s)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if b"goldenpath.serving.supervisor" in cmdline and str(home).encode() in cmdline:
            pids.append(int(proc.name))
    return sorted(pids)


def rss_bytes(pid: int) -> int:
    """VmRSS from /proc/PID/status (psutil is not a dependency)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise SystemExit(f"no VmRSS for process {pid}")


def wait_until_up(url: str, process: subprocess.Popen[bytes] | None, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process is not None and process.poll() not in (None, 0):
            raise SystemExit(f"{url}: the server exited ({process.returncode}):\n{tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not answer 200 within 120 s:\n{tail(log)}")


def tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def post_json(url: str, body: bytes) -> Any:
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise SystemExit(f"POST {url}: {exc.code} {exc.read()[:500]!r}") from None


# -- the model, built the product's way -----------------------------------------------------


@dataclass
class Built:
    """The quickstart's fraud model and what the targets need of it."""

    home: Path
    project: Path
    onnx: Path
    signature_file: Path
    signature: dict[str, Any]
    train_rows: Path  # Parquet: the rows gp train trained on
    spec: Path  # JSON: the pipeline's settings for the MLflow runner
    rows: list[dict[str, Any]]  # validation rows: the bodies' inputs
    users: list[int]  # user ids with online features
    zipf_users: list[int]  # the realistic workload's bodies' user ids (empty: not built)


def gp(home: Path, *args: str, cwd: Path) -> str:
    env = {**os.environ, "GP_HOME": str(home), "COLUMNS": "200"}
    env.pop("GP_SERVER", None)
    done = subprocess.run(
        [str(GP), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    if done.returncode != 0:
        raise SystemExit(f"gp {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


# The realistic workload: distinct users (tx ids 100000-699999: at most 20,000 users), each
# with ZIPF_EVENTS events. 65,536 bodies drawn with exponent 1.0 name about 10,900 distinct
# users (printed): a 10 s run at 1,000 req/s sends the first 10,000 of them (also printed).
ZIPF_USERS = 20_000
ZIPF_EVENTS = 30  # in the last 50 minutes: inside the 1h count's and the 7d mean's windows
ZIPF_EXPONENT = 1.0  # user k drawn with probability proportional to 1 / k
ZIPF_BODIES = 65_536  # bodies drawn, cycled
ZIPF_FIRST = 5_000_000  # their user ids start here (the sample's users are below)


def zipf_rows(now: dt.datetime, users: int) -> list[dict[str, Any]]:
    """ZIPF_EVENTS transactions for each of ``users`` new users, 100 s apart."""
    return [
        {
            "tx_id": f"tx_{100_000 + user * ZIPF_EVENTS + event:06d}",  # the contract's form
            "user_id": ZIPF_FIRST + user,
            "amount": 5.0 + (user * 7 + event * 13) % 300,
            "currency": "EUR",
            "ts": now - dt.timedelta(seconds=100 * event),
            "is_fraud": False,
        }
        for user in range(users)
        for event in range(ZIPF_EVENTS)
    ]


def zipf_draw(users: int, count: int) -> list[int]:
    """``count`` user ids drawn Zipf-like over ``users`` (seeded): a few hot, a long tail."""
    weights = 1.0 / np.arange(1, users + 1) ** ZIPF_EXPONENT
    rng = np.random.default_rng(22)
    drawn = rng.choice(users, size=count, p=weights / weights.sum())
    return [ZIPF_FIRST + int(u) for u in drawn]


def build(tmp: Path, zipf_users: int = ZIPF_USERS) -> Built:
    """``gp quickstart --data-only``, ``features apply``, ``train``, ``materialize`` in a fresh
    GP_HOME; then the ONNX graph, its signature, and the training rows (split as the product
    splits them) written out for the other processes."""
    import goldenpath
    from goldenpath.core.artifacts import ArtifactStore
    from goldenpath.training import pipeline
    from goldenpath.training.config import load_training_config
    from goldenpath.workspace import Workspace

    home = tmp / "home"
    started = time.perf_counter()
    gp(home, "quickstart", "--data-only", cwd=tmp)  # the fixed-time sample, no endpoint
    project = home / "quickstart"
    gp(home, "features", "apply", "--file", "features.py", cwd=project)
    gp(home, "train", ".", cwd=project)
    gp(home, "features", "materialize", cwd=project)
    print(
        f"model built in {time.perf_counter() - started:.1f} s (gp quickstart, apply, train, "
        "materialize)"
    )
    ws = cast(Workspace, goldenpath.connect(home))
    with ws:
        version = ws.models.get(MODEL)
        onnx = tmp / "model.onnx"
        onnx.write_bytes(ArtifactStore(ws.storage_root).read_bytes(version.onnx_digest))
        signature_file = tmp / "signature.json"
        signature_file.write_text(json.dumps(version.signature), encoding="utf-8")
        config = load_training_config(project)
        ref = str(version.lineage["training_set"]["ref"])
        table = ws.features.read_training_set(ref)
        refs = [str(r) for r in ws.features.get_training_set(ref).spec["features"]]
        inputs = [i["name"] for i in version.signature["inputs"]]
        # The pipeline's own (private) steps: MLflow must train on exactly the rows ours did.
        assert inputs == pipeline._inputs(config, table, refs), "signature != training inputs"
        train, valid, _ = pipeline._split(config, table, inputs)
        users = sorted(int(u) for u in set(table.column("user_id").to_pylist()))
        # The sample's transactions are months old: past the view's TTL online. Each user
        # gets a transaction a minute old (pushed: dataset and online store), so /v1/predict
        # reads live values as it would in production.
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(minutes=1)
        ws.features.push(
            "user_tx",
            [
                {
                    "tx_id": f"tx_{900000 + i:06d}",
                    "user_id": user,
                    "amount": 20.0 + i % 100,
                    "currency": "EUR",
                    "ts": now,
                    "is_fraud": False,
                }
                for i, user in enumerate(users)
            ],
        )
        if zipf_users:
            started = time.perf_counter()
            pending = zipf_rows(now, zipf_users)
            for first in range(0, len(pending), 50_000):  # under limits.push_rows_max
                ws.features.push("user_tx", pending[first : first + 50_000])
            drawn = zipf_draw(zipf_users, ZIPF_BODIES)
            print(
                f"realistic workload: {zipf_users:,} users x {ZIPF_EVENTS} events pushed in "
                f"{time.perf_counter() - started:.1f} s; {ZIPF_BODIES:,} bodies drawn Zipf-like "
                f"(exponent {ZIPF_EXPONENT}) over them, naming {len(set(drawn)):,} distinct "
                f"users (the first 10,000 bodies, a 10 s run at 1,000 req/s: "
                f"{len(set(drawn[:10_000])):,}; the most drawn user: "
                f"{max(np.unique(drawn, return_counts=True)[1]):,} bodies)"
            )
    train_rows = tmp / "train.parquet"
    train[[*inputs, config.label]].to_parquet(train_rows, index=False)
    categorical = [i["name"] for i in version.signature["inputs"] if i["type"] == "string"]
    spec = tmp / "spec.json"
    spec.write_text(
        json.dumps(
            {
                "inputs": inputs,
                "categorical": categorical,
                "numeric": [i for i in inputs if i not in categorical],
                "label": config.label,
                "params": config.params,
                "seed": config.seed,
            }
        ),
        encoding="utf-8",
    )
    rows = [
        {k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        for row in valid[inputs].head(BODIES).to_dict("records")
    ]
    step = max(1, len(users) // BODIES)
    return Built(
        home,
        project,
        onnx,
        signature_file,
        dict(version.signature),
        train_rows,
        spec,
        rows,
        users[::step][:BODIES],
        zipf_draw(zipf_users, ZIPF_BODIES) if zipf_users else [],
    )


# -- targets ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    """One endpoint to load, with the bodies cycled over it."""

    name: str
    path: str
    bodies: list[bytes]


@dataclass
class Target:
    """A server up on 127.0.0.1, with its routes."""

    name: str
    url: str
    port: int
    routes: list[Route]


def _numbers_as_json(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (float(v) if isinstance(v, int | float) else v) for k, v in row.items()}


@contextmanager
def start_bare(built: Built, tmp: Path) -> Iterator[Target]:
    port = free_port()
    log = tmp / "bare.log"
    command = [
        sys.executable,
        str(HERE / "_serving_bare_app.py"),
        str(built.onnx),
        str(built.signature_file),
        str(port),
    ]
    with group(command, log=log) as process:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/healthz", process, log)
        bodies = [json.dumps({"inputs": _numbers_as_json(r)}).encode() for r in built.rows]
        yield Target("bare", url, port, [Route("predict", "/predict", bodies)])


@contextmanager
def start_mlflow(built: Built, tmp: Path, python: Path) -> Iterator[Target]:
    folder = tmp / "mlflow"
    done = subprocess.run(
        [
            str(python),
            str(HERE / "_mlflow_serving_runner.py"),
            "--dir",
            str(folder),
            "--train",
            str(built.train_rows),
            "--spec",
            str(built.spec),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"_mlflow_serving_runner.py failed:\n{done.stderr[-3000:]}")
    logged = json.loads(done.stdout.strip().splitlines()[-1])
    port = free_port()
    log = tmp / "mlflow.log"
    command = [
        str(python.parent / "mlflow"),
        "models",
        "serve",
        "-m",
        logged["model_uri"],
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        "1",
        "--env-manager",
        "local",
    ]
    # As in an activated virtualenv: mlflow runs ``uvicorn`` from PATH.
    env = {
        "MLFLOW_TRACKING_URI": logged["tracking_uri"],
        "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    with group(command, log=log, env=env) as process:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(f"{url}/ping", process, log)
        columns = list(built.rows[0])
        bodies = [
            json.dumps(
                {"dataframe_split": {"columns": columns, "data": [[r[c] for c in columns]]}}
            ).encode()
            for r in built.rows
        ]
        print(f"MLflow {logged['mlflow']}: the pipeline trained on {logged['rows']:,} rows")
        yield Target("mlflow", url, port, [Route("invocations", "/invocations", bodies)])


def goldenpath_serving_available(built: Built) -> bool:
    """Whether this checkout's ``gp`` has ``gp deploy`` (issue 15's serving)."""
    done = subprocess.run(
        [str(GP), "deploy", "--help"],
        capture_output=True,
        env={**os.environ, "GP_HOME": str(built.home)},
        timeout=60,
    )
    return done.returncode == 0


def redis_namespace(built: Built) -> str:
    """The key prefix of the benchmark workspace's online values in Redis (one per metadata
    database: ``goldenpath.workspace.online_namespace``)."""
    from goldenpath.workspace import online_namespace

    return online_namespace(f"sqlite:///{built.home.resolve() / 'gp.db'}")


def drop_redis_keys(url: str, namespace: str) -> int:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5)
    try:
        doomed = list(client.scan_iter(match=f"{namespace}*", count=1000))
        for first in range(0, len(doomed), 1000):
            client.unlink(*doomed[first : first + 1000])
        return len(doomed)
    finally:
        client.close()


@contextmanager
def start_goldenpath(
    built: Built, tmp: Path, redis_url: str | None = None
) -> Iterator[Target | None]:
    """``gp deploy fraud@1 --name bench --port PORT`` until the block ends, then ``gp
    deployments stop bench`` (and the process group, and whatever still listens on the port,
    in case the stop did not end it). Yields None on a checkout without ``gp deploy``.

    With ``redis_url`` (target goldenpath-redis): the same workspace with ``GP_ONLINE`` set to
    it, ``gp features materialize`` first (a new store: a full run, pushed rows included, so
    Redis holds what SQLite holds), deployed as ``bench-redis``; its keys are deleted after."""
    if not goldenpath_serving_available(built):
        print(
            "goldenpath skipped: goldenpath serving not available on this checkout (no gp deploy)"
        )
        yield None
        return
    port = free_port()
    name = "goldenpath-redis" if redis_url else "goldenpath"
    deployment = "bench-redis" if redis_url else "bench"
    log = tmp / f"{name}.log"
    env = {"GP_HOME": str(built.home)}
    if redis_url:
        env["GP_ONLINE"] = redis_url
        drop_redis_keys(redis_url, redis_namespace(built))
        started = time.perf_counter()
        done = subprocess.run(
            [str(GP), "features", "materialize"],
            cwd=built.project,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if done.returncode != 0:
            raise SystemExit(f"gp features materialize into Redis failed:\n{done.stderr}")
        print(
            f"materialised into {redis_url} in {time.perf_counter() - started:.1f} s "
            f"(gp features materialize, GP_ONLINE set)"
        )
    command = [str(GP), "deploy", MODEL, "--name", deployment, "--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    process = start_group(command, log=log, env=env, cwd=built.project)
    try:
        wait_until_up(f"{url}/v2/health/ready", process, log)
        predict = [
            json.dumps({"entities": {"user_id": u}, "request": {"currency": "EUR"}}).encode()
            for u in built.users
        ]
        infer = [v2_body(built.signature, r) for r in built.rows]
        routes = [
            Route("v1 predict", "/v1/predict", predict),
            Route("v2 infer", f"/v2/models/{V2_MODEL}/infer", infer),
        ]
        if built.zipf_users:
            zipf = [
                json.dumps({"entities": {"user_id": u}, "request": {"currency": "EUR"}}).encode()
                for u in built.zipf_users
            ]
            routes.insert(1, Route("v1 predict zipf", "/v1/predict", zipf))
        yield Target(name, url, port, routes)
    finally:
        served = listening_pids(port)
        subprocess.run(
            [str(GP), "deployments", "stop", deployment],
            env={**os.environ, **env},
            cwd=built.project,
            capture_output=True,
            timeout=60,
        )
        stop_group(process)
        for pid in served:
            try:
                os.kill(pid, signal.SIGKILL)  # still up after the stop: ours to end
                print(f"note: gp deployments stop left process {pid} running; killed it")
            except ProcessLookupError:
                pass
        if redis_url:
            drop_redis_keys(redis_url, redis_namespace(built))


def v2_body(signature: dict[str, Any], row: dict[str, Any]) -> bytes:
    """An Open Inference Protocol V2 request for one row."""
    inputs = []
    for spec in signature["inputs"]:
        text = spec["type"] == "string"
        value = row[spec["name"]]
        inputs.append(
            {
                "name": spec["name"],
                "shape": [1, 1],
                "datatype": "BYTES" if text else "FP32",
                "data": [str(value) if text else (None if value is None else float(value))],
            }
        )
    return json.dumps({"inputs": inputs}).encode()


def check_same_model(bare: list[float], mlflow: list[float]) -> None:
    """Bare (ONNX, float32) and MLflow (sklearn, float64) give the same probabilities."""
    worst = max(abs(a - b) for a, b in zip(bare, mlflow, strict=True))
    if worst > 1e-4:
        raise SystemExit(f"bare and MLflow disagree by up to {worst:.2e}: not the same model")
    print(f"bare and MLflow agree on {len(bare)} rows (largest difference {worst:.1e})")


def answers(target: Target) -> list[float]:
    """Each route's first answer must be a 200 with JSON; the probabilities of the first
    route's bodies (bare, mlflow) for the same-model check."""
    probabilities: list[float] = []
    for route in target.routes:
        for index, body in enumerate(route.bodies):
            answer = post_json(target.url + route.path, body)
            if route is not target.routes[0]:
                # The first body's answer only: the load's error count covers the rest (the
                # realistic workload has 65,536 bodies).
                print(f"{target.name} {route.name}: {json.dumps(answer)[:200]}")
                break
            if target.name == "bare":
                probabilities.append(float(answer["probability"]))
            elif target.name == "mlflow":
                probabilities.append(float(answer["predictions"][0][1]))
            elif index == 0:
                print(f"{target.name} {route.name}: {json.dumps(answer)[:200]}")
    return probabilities


# -- load -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """One measurement: rate None is wrk's maximum; latencies in seconds."""

    target: str
    route: str
    rate: int | None
    seconds: float
    requests: int
    errors: int
    p50: float
    p99: float

    @property
    def achieved(self) -> float:
        return self.requests / self.seconds


def require_tools(client: str) -> None:
    tools = ("wrk", client) if client == "hey" else ("wrk",)
    missing = [name for name in tools if shutil.which(name) is None]
    if missing:
        raise SystemExit(
            "; ".join(
                f"{name} is not installed: {MISSING_TOOL[name]}" for name in dict.fromkeys(missing)
            )
        )


# wrk's Lua hooks: request() POSTs the bodies in turn; with a rate, delay() (called before each
# request, on whichever connection is free) hands out send times 1/rate apart from one schedule
# shared by the 16 connections. A slot no connection was free for is dropped, not caught up:
# a target that cannot keep up shows as an achieved rate below the one asked for. LuaJIT's FFI
# reads CLOCK_MONOTONIC (Lua's os.time() counts seconds). wrk takes the delay in whole
# milliseconds, so a request may leave up to 1 ms early; the schedule itself does not drift.
_WRK_BODIES = """\
local bodies = {
%s
}
local i = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  i = i %% #bodies + 1
  return wrk.format(nil, nil, nil, bodies[i])
end
"""
_WRK_RATE = """\
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } gp_timespec;
int clock_gettime(int clock, gp_timespec *now);
]]
local clock = ffi.new("gp_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local interval = %r
local slot = nil
delay = function()
  local now = now_ms()
  if slot == nil or slot < now then slot = now end
  local wait = slot - now
  slot = slot + interval
  return wait
end
"""


def wrk_script(route: Route, folder: Path, rate: int | None = None) -> Path:
    """The Lua script for ``wrk -s``: the route's bodies, and with ``rate`` the schedule."""
    quoted = ",\n".join(f"  [==[{b.decode()}]==]" for b in route.bodies)
    text = _WRK_BODIES % quoted + ("" if rate is None else _WRK_RATE % (1000 / rate))
    script = folder / f"wrk-{len(list(folder.glob('wrk-*.lua')))}.lua"
    script.write_text(text, encoding="utf-8")
    return script


def wrk_command(target: Target, route: Route, seconds: int, script: Path) -> list[str]:
    """``wrk -t1 -c16 --latency``. One thread: the server has one worker, so one core is for
    it and one for the load generator."""
    return [
        "wrk",
        "-t1",
        f"-c{CONNECTIONS}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(script),
        target.url + route.path,
    ]


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def wrk_load(target: Target, route: Route, rate: int | None, out: str) -> Load:
    """Requests, errors (non-2xx answers and socket errors), p50 and p99 from wrk's output."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    p50 = re.search(r"^\s+50%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", out, re.M)
    if not (done and p50 and p99):
        raise SystemExit(f"cannot read wrk's output:\n{out}")
    errors = 0
    if found := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(found.group(1))
    if found := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    ):
        errors += sum(int(n) for n in found.groups())
    return Load(
        target.name,
        route.name,
        rate,
        float(done.group(2)) * _UNITS[done.group(3)],
        int(done.group(1)),
        errors,
        float(p50.group(1)) * _UNITS[p50.group(2)],
        float(p99.group(1)) * _UNITS[p99.group(2)],
    )


def max_throughput(target: Target, route: Route, seconds: int, folder: Path) -> Load:
    """wrk as fast as 16 connections go: the maximum throughput and its latencies."""
    command = wrk_command(target, route, seconds, wrk_script(route, folder))
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return wrk_load(target, route, None, out)


@contextmanager
def rate_running(
    client: str, target: Target, route: Route, rate: int, seconds: int, folder: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The load generator's processes at ``rate`` req/s, running; killed if still running
    when the block ends. ``client`` is ``wrk`` (one process, the Lua schedule) or ``hey``
    (:func:`hey_command`: 16 processes)."""
    processes: list[subprocess.Popen[bytes]] = []
    try:
        if client == "scheduled":
            bodies = folder / "rate-bodies.json"
            bodies.write_text(json.dumps([b.decode() for b in route.bodies]), encoding="utf-8")
            command = [
                sys.executable,
                str(HERE / "_rate_client.py"),
                target.url + route.path,
                str(bodies),
                str(rate),
                str(seconds),
                str(CONNECTIONS),
            ]
            with (folder / "rate-0.out").open("wb") as out:
                processes.append(subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL))
        elif client == "wrk":
            command = wrk_command(target, route, seconds, wrk_script(route, folder, rate))
            with (folder / "rate-0.out").open("wb") as out:
                processes.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT))
        else:
            for index in range(CONNECTIONS):
                command = hey_command(target, route, rate, seconds, folder, index)
                with (folder / f"rate-{index}.out").open("wb") as out:
                    processes.append(
                        subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL)
                    )
                time.sleep(1 / rate)
        yield processes
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def rate_result(
    client: str, target: Target, route: Route, rate: int, seconds: int, folder: Path
) -> Load:
    if client == "scheduled":
        return scheduled_load(target, route, rate, (folder / "rate-0.out").read_text())
    if client == "wrk":
        return wrk_load(target, route, rate, (folder / "rate-0.out").read_text())
    return hey_load(target, route, rate, seconds, folder)


def scheduled_load(target: Target, route: Route, rate: int, out: str) -> Load:
    """``_rate_client.py``'s figures: latencies from each request's intended send time; a slot
    never answered counts as an error and lowers the achieved rate."""
    try:
        figures = json.loads(out.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise SystemExit(f"cannot read _rate_client.py's output:\n{out}") from None
    if not figures["answered"]:
        raise SystemExit(f"_rate_client.py got no answers from {target.url}{route.path}")
    print(
        f"    (client lateness p50 {figures['late_p50'] * 1e3:.3f} ms, "
        f"p99 {figures['late_p99'] * 1e3:.3f} ms; included in the latencies)"
    )
    return Load(
        target.name,
        route.name,
        rate,
        float(figures["seconds"]),
        int(figures["answered"]),
        int(figures["errors"]) + int(figures["slots"]) - int(figures["answered"]),
        float(figures["p50"]),
        float(figures["p99"]),
    )


def fixed_rate(
    client: str, target: Target, route: Route, rate: int, seconds: int, folder: Path
) -> Load:
    """``rate`` requests/s for ``seconds`` over 16 connections."""
    with rate_running(client, target, route, rate, seconds, folder) as processes:
        for process in processes:
            process.wait(timeout=seconds + 60)
    return rate_result(client, target, route, rate, seconds, folder)


def hey_command(
    target: Target, route: Route, rate: int, seconds: int, folder: Path, index: int
) -> list[str]:
    """One of 16 ``hey -c 1`` processes (``-q`` is per worker: ``rate / 16`` each), each
    POSTing one of the route's bodies, started ``1/rate`` apart, CSV out.

    Not one ``hey -c 16``: its 16 workers start their tickers together, so each period's 16
    requests leave in one burst (81-84% of the gaps between requests under 0.1 ms here) and
    the last waits for the other 15: p50 1.8-3.2 ms instead of 0.2-0.6 ms against the bare app
    at 1,000 req/s. Separate processes spread that out, but 16 Go runtimes on 2 cores add
    their own noise to p99, hence wrk's Lua schedule by default (``--rate-client``).
    """
    body = folder / f"body-{index}.json"
    body.write_bytes(route.bodies[index % len(route.bodies)])
    return [
        "hey",
        "-z",
        f"{seconds}s",
        "-c",
        "1",
        "-q",
        f"{rate / CONNECTIONS:g}",
        "-m",
        "POST",
        "-T",
        "application/json",
        "-D",
        str(body),
        "-o",
        "csv",
        target.url + route.path,
    ]


def hey_load(target: Target, route: Route, rate: int, seconds: int, folder: Path) -> Load:
    """The 16 CSVs merged (one line per answered request: exact percentiles). A request that
    failed without an answer has no line; it shows as a lower achieved rate."""
    latencies: list[float] = []
    errors = 0
    for index in range(CONNECTIONS):
        for line in (folder / f"rate-{index}.out").read_text().splitlines()[1:]:
            fields = line.split(",")
            latencies.append(float(fields[0]))
            if not fields[6].startswith("2"):
                errors += 1
    if not latencies:
        raise SystemExit(f"hey got no answers from {target.url}{route.path}")
    values = np.asarray(latencies)
    return Load(
        target.name,
        route.name,
        rate,
        float(seconds),
        len(latencies),
        errors,
        float(np.quantile(values, 0.5)),
        float(np.quantile(values, 0.99)),
    )


def measure(
    client: str, target: Target, rates: Sequence[int], seconds: int, folder: Path
) -> list[Load]:
    """Per route: warm-up, wrk's maximum, then each fixed rate it sustained."""
    loads = []
    for route in target.routes:
        max_throughput(target, route, WARMUP_SECONDS, folder)
        best = max_throughput(target, route, seconds, folder)
        print(f"  {target.name} {route.name}: max {best.achieved:,.0f} req/s")
        loads.append(best)
        for rate in rates:
            if rate > best.achieved:
                print(f"  {target.name} {route.name}: {rate:,} req/s skipped (above its maximum)")
                continue
            load = fixed_rate(client, target, route, rate, seconds, folder)
            print(
                f"  {target.name} {route.name}: {rate:,} req/s -> {load.achieved:,.0f}, "
                f"p99 {load.p99 * 1e3:.2f} ms"
            )
            loads.append(load)
    return loads


# Redis paused: V2 infer (no online lookup) and /v1/predict (a lookup per request) loaded
# together, once with Redis answering and once with Redis paused for PAUSE_SECONDS from
# PAUSE_AT seconds in (DEBUG SLEEP when the server allows it, else CLIENT PAUSE).
STALL_V2_RATE = 500
STALL_V1_RATE = 100
PAUSE_AT = 3.0
PAUSE_SECONDS = 2


def pause_redis(url: str) -> str:
    """Stall Redis for :data:`PAUSE_SECONDS` from another connection; what was used."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30)
    try:
        allowed = client.config_get("enable-debug-command").get("enable-debug-command", "no")
        if allowed in ("yes", b"yes", "local", b"local"):
            client.execute_command("DEBUG", "SLEEP", str(PAUSE_SECONDS))  # returns after it
            return f"DEBUG SLEEP {PAUSE_SECONDS}"
        client.execute_command("CLIENT", "PAUSE", str(PAUSE_SECONDS * 1000))
        return f"CLIENT PAUSE {PAUSE_SECONDS * 1000} (DEBUG is disabled on this server)"
    finally:
        client.close()


def stalled(target: Target, redis_url: str, seconds: int, folder: Path) -> list[Load]:
    """V2 infer at :data:`STALL_V2_RATE` and /v1/predict (hot set) at :data:`STALL_V1_RATE`
    together for ``seconds``, from two ``_rate_client.py`` processes: first with Redis
    answering, then with Redis paused :data:`PAUSE_SECONDS` s from :data:`PAUSE_AT` s in
    (earlier in a run too short for that)."""
    import threading

    v1 = next(r for r in target.routes if r.name == "v1 predict")
    v2 = next(r for r in target.routes if r.name == "v2 infer")
    loads = []
    for paused in (False, True):
        folders = {name: folder / f"stall-{name}" for name in ("v1", "v2")}
        processes = []
        for name, route, rate in (("v2", v2, STALL_V2_RATE), ("v1", v1, STALL_V1_RATE)):
            folders[name].mkdir(exist_ok=True)
            bodies = folders[name] / "rate-bodies.json"
            bodies.write_text(json.dumps([b.decode() for b in route.bodies]), encoding="utf-8")
            command = [
                sys.executable,
                str(HERE / "_rate_client.py"),
                target.url + route.path,
                str(bodies),
                str(rate),
                str(seconds),
                str(CONNECTIONS),
            ]
            out = (folders[name] / "rate-0.out").open("wb")
            processes.append(subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL))
            out.close()
        how: list[str] = []
        pauser = None
        pause_at = min(PAUSE_AT, max(0.0, (seconds - PAUSE_SECONDS) / 2))
        if paused:
            time.sleep(pause_at)
            pauser = threading.Thread(target=lambda used=how: used.append(pause_redis(redis_url)))
            pauser.start()
        for process in processes:
            process.wait(timeout=seconds + 60)
        if pauser is not None:
            pauser.join()
            print(f"  Redis paused {PAUSE_SECONDS} s at {pause_at:g} s in with {how[0]}")
        beside = "Redis paused 2 s" if paused else "Redis answering"
        for name, route, rate in (("v2", v2, STALL_V2_RATE), ("v1", v1, STALL_V1_RATE)):
            text = (folders[name] / "rate-0.out").read_text()
            load = scheduled_load(target, route, rate, text)
            other = "v1 predict" if name == "v2" else "v2 infer"
            label = f"{route.name} (beside {other}; {beside})"
            loads.append(
                Load(
                    target.name,
                    label,
                    rate,
                    load.seconds,
                    load.requests,
                    load.errors,
                    load.p50,
                    load.p99,
                )
            )
            print(
                f"  {target.name} {label}: {rate:,} req/s -> {load.achieved:,.0f}, "
                f"p99 {load.p99 * 1e3:.2f} ms, {load.errors} errors"
            )
    return loads


@dataclass(frozen=True)
class Soak:
    target: str
    route: str
    samples: list[tuple[float, int]]  # (seconds since start, the server's RSS bytes)
    load: Load
    supervisor: list[tuple[float, int]]  # the same for the supervisor (empty: none)

    @property
    def slope_mb_per_min(self) -> float:
        return slope(self.samples)


def slope(samples: list[tuple[float, int]]) -> float:
    t = np.asarray([s[0] for s in samples])
    rss = np.asarray([s[1] for s in samples]) / 2**20
    return float(np.polyfit(t, rss, 1)[0] * 60) if len(t) > 1 else 0.0


def soak(client: str, target: Target, seconds: int, folder: Path, home: Path) -> Soak:
    """:data:`SOAK_RATE` req/s on the target's first route for ``seconds`` (as
    :func:`fixed_rate`), sampling meanwhile the RSS of the process listening on its port and,
    for goldenpath, of the deployment's supervisor (a second process beside the server)."""
    pids = listening_pids(target.port)
    if not pids:
        raise SystemExit(f"no process listens on port {target.port}")
    others = supervisor_pids(home) if target.name.startswith("goldenpath") else []
    route = target.routes[0]
    started = time.monotonic()

    def sample(elapsed: float) -> None:
        samples.append((elapsed, sum(rss_bytes(p) for p in pids)))
        if others:
            supervisor.append((elapsed, sum(rss_bytes(p) for p in others)))

    samples: list[tuple[float, int]] = []
    supervisor: list[tuple[float, int]] = []
    sample(0.0)
    with rate_running(client, target, route, SOAK_RATE, seconds, folder) as processes:
        while any(p.poll() is None for p in processes):
            time.sleep(min(1.0, SOAK_SAMPLE_SECONDS))
            elapsed = time.monotonic() - started
            if elapsed - samples[-1][0] >= SOAK_SAMPLE_SECONDS:
                sample(elapsed)
    sample(time.monotonic() - started)
    load = rate_result(client, target, route, SOAK_RATE, seconds, folder)
    return Soak(target.name, route.name, samples, load, supervisor)


# -- report -----------------------------------------------------------------------------------


def table(loads: Sequence[Load]) -> str:
    rows = [
        [
            load.target,
            load.route,
            "max (wrk)" if load.rate is None else f"{load.rate:,}",
            f"{load.achieved:,.0f}",
            f"{load.p50 * 1e3:.2f}",
            f"{load.p99 * 1e3:.2f}",
            f"{load.errors:,}",
        ]
        for load in loads
    ]
    headers = ["target", "route", "rate (req/s)", "achieved", "p50 (ms)", "p99 (ms)", "errors"]
    return markdown_table(headers, rows)


def verdicts(loads: Sequence[Load]) -> list[str]:
    def best(target: str, route: str | None = None) -> Load | None:
        return next(
            (
                x
                for x in loads
                if x.target == target and x.rate is None and (route is None or x.route == route)
            ),
            None,
        )

    ours = best("goldenpath", "v1 predict")
    if ours is None:
        return ["goldenpath: not yet measured (budgets not judged)"]
    lines = []
    at = next(
        (
            x
            for x in loads
            if x.target == "goldenpath" and x.route == "v1 predict" and x.rate == 1000
        ),
        None,
    )
    if at is not None:
        # Judged at the rate achieved: a run that fell short of 1,000 req/s did not measure
        # the p99 at 1,000 req/s (rounded to whole requests per second).
        achieved = round(at.achieved)
        ok = at.p99 * 1e3 < P99_BUDGET_MS and achieved >= 1000 and at.errors == 0
        lines.append(
            f"p99 at 1,000 req/s with online features: {at.p99 * 1e3:.2f} ms at an achieved "
            f"{achieved:,} req/s (budget < {P99_BUDGET_MS:g} ms at 1,000 achieved): "
            f"{'PASS' if ok else 'MISS'}"
        )
    for name, factor, word in (
        ("mlflow", VS_MLFLOW, "at least 10x"),
        ("bare", VS_BARE, "within 2x of"),
    ):
        theirs = best(name)
        if theirs is not None:
            ratio = ours.achieved / theirs.achieved
            ok = ratio >= factor
            lines.append(
                f"max throughput {ours.achieved:,.0f} req/s vs {name} {theirs.achieved:,.0f} "
                f"({ratio:.2f}x; budget {word}): {'PASS' if ok else 'MISS'}"
            )
    return lines


def soak_report(result: Soak) -> str:
    def memory(name: str, samples: list[tuple[float, int]]) -> str:
        rss = [s[1] / 2**20 for s in samples]
        return (
            f"{name} RSS start {rss[0]:.1f} MB, max {max(rss):.1f} MB, end {rss[-1]:.1f} MB, "
            f"slope {slope(samples):+.3f} MB/min ({len(rss)} samples)"
        )

    parts = [memory("server", result.samples)]
    if result.supervisor:
        parts.append(memory("supervisor", result.supervisor))
    return (
        f"soak {result.target} {result.route}: {result.load.seconds:.0f} s at {SOAK_RATE:,} "
        f"req/s (achieved {result.load.achieved:,.0f}, p99 {result.load.p99 * 1e3:.2f} ms, "
        f"{result.load.errors} errors); " + "; ".join(parts)
    )


def tool_version(tool: str) -> str:
    """The Debian package's version (neither tool has a --version that prints one)."""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", tool], capture_output=True, text=True
    )
    return done.stdout.strip() if done.returncode == 0 else "(version unknown)"


def versions() -> str:
    from importlib.metadata import version

    parts = [f"{name} {version(name)}" for name in ("onnxruntime", "starlette", "uvicorn")]
    for tool in ("wrk", "hey"):
        parts.append(f"{tool} {tool_version(tool)}")
    return ", ".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="bare,mlflow,goldenpath,goldenpath-redis")
    parser.add_argument(
        "--redis",
        default="redis://127.0.0.1:6379/14",
        help="the Redis of target goldenpath-redis (its keys are deleted afterwards)",
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    parser.add_argument("--rates", default="100,200,1000,2000", help="fixed rates, req/s")
    parser.add_argument(
        "--soak", type=int, default=300, help="seconds at 1,000 req/s sampling RSS (0 skips)"
    )
    parser.add_argument("--soak-target", default="goldenpath")
    parser.add_argument(
        "--zipf-users",
        type=int,
        default=ZIPF_USERS,
        help="users of the realistic workload (0: no zipf route; a quick check)",
    )
    parser.add_argument(
        "--rate-client",
        choices=("scheduled", "wrk", "hey"),
        default="scheduled",
        help="fixed rates from _rate_client.py (latency from the intended send time), wrk "
        "with a Lua schedule, or 16 hey processes (both time from the actual send)",
    )
    parser.add_argument(
        "--mlflow-python", type=Path, default=HERE.parent / ".venv-mlflow" / "bin" / "python"
    )
    args = parser.parse_args()
    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = sorted(set(targets) - {"bare", "mlflow", "goldenpath", "goldenpath-redis"})
    if unknown:
        raise SystemExit(
            f"unknown target(s) {', '.join(unknown)}: choose from "
            "bare,mlflow,goldenpath,goldenpath-redis"
        )
    if args.soak and args.soak_target not in targets:
        raise SystemExit(f"--soak-target {args.soak_target} is not in --targets")
    if args.duration < 1 or args.soak < 0:
        raise SystemExit("--duration must be at least 1 and --soak at least 0 (seconds)")
    rates = [int(r) for r in args.rates.split(",") if r.strip()]
    require_tools(args.rate_client)
    if "mlflow" in targets and not args.mlflow_python.exists():
        raise SystemExit(
            f"no {args.mlflow_python}: make bench-mlflow-env (or --targets bare,goldenpath)"
        )
    # SIGTERM ends the run like Ctrl-C: through every finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.2f}; {versions()}"
    )
    loads: list[Load] = []
    soaked: Soak | None = None
    with tempfile.TemporaryDirectory(prefix="gp-bench-serving-") as folder:
        tmp = Path(folder)
        built = build(tmp, args.zipf_users)
        probabilities: dict[str, list[float]] = {}
        for name in targets:
            starter = {
                "bare": lambda: start_bare(built, tmp),
                "mlflow": lambda: start_mlflow(built, tmp, args.mlflow_python),
                "goldenpath": lambda: start_goldenpath(built, tmp),
                "goldenpath-redis": lambda: start_goldenpath(built, tmp, args.redis),
            }[name]
            with starter() as target:
                if target is None:
                    if args.soak and name == args.soak_target:
                        print(f"soak skipped: {name} is not available")
                    continue
                probabilities[name] = answers(target)
                if name in ("bare", "mlflow") and {"bare", "mlflow"} <= set(probabilities):
                    check_same_model(probabilities["bare"], probabilities["mlflow"])
                print(f"{name} up at {target.url} (load average {os.getloadavg()[0]:.2f})")
                loads += measure(args.rate_client, target, rates, args.duration, tmp)
                if name == "goldenpath-redis":
                    loads += stalled(target, args.redis, args.duration, tmp)
                if args.soak and name == args.soak_target:
                    soaked = soak(args.rate_client, target, args.soak, tmp, built.home)
                    print(soak_report(soaked))
    print()
    print(table(loads))
    print()
    for line in verdicts(loads):
        print(line)
    if soaked is not None:
        print(soak_report(soaked))


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("\ninterrupted: every process the benchmark started has been stopped")
        sys.exit(130)
