"""Every process that reads a dataset exits 0 (issue 11, point 3).

With deltalake's default Python file system, Arrow's C++ I/O threads could outlive the
interpreter's teardown and the process aborted at exit (SIGABRT, exit 134, "terminate called
without an active exception") in roughly one run in six to one in two, after its work had
succeeded. A single run proves nothing, so each test starts many fresh interpreters, in
parallel batches, and asserts every exit code. On the old read path 50 runs all exiting 0 had
a chance well under 1 in 1,000.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

import goldenpath
from tests.conftest import write

pytestmark = pytest.mark.e2e

RUNS = 50
PARALLEL = (os.cpu_count() or 1) + 2  # the children mostly import; a few more than cores
TIMEOUT = 90  # a run still alive then hung at exit (the old read path also deadlocked)
ACTOR = "exit-user"
FILES = 6  # appends, so a version spans several Parquet files (the scans run concurrently)

# Fresh interpreters that ingest nothing: each opens the workspace, takes one read path, and
# lets the interpreter tear down straight after it (the moment the old code aborted).
# ``head`` stops scanning early with reads of other files still queued: the old path crashed
# (SIGSEGV/SIGABRT) or hung at exit in 9 runs of 10 here.
READS = [
    'ws.datasets.read("tx@1")',
    f'ws.datasets.read("tx@{FILES}", ["amount"])',
    "ws.datasets.head('tx', 5)",
    "ws.datasets.quarantine('tx')",
    "ws.datasets.read_pandas('tx')",
]
READER = """
import sys
import goldenpath

ws = goldenpath.connect(sys.argv[1], actor=sys.argv[2])
result = {read}
print(len(result))
"""

CONTRACT = """\
on_violation: quarantine
columns:
  id: {type: int, nullable: false}
  amount: {type: float, min: 0}
"""


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    return {**env, "GP_ACTOR": ACTOR}


def _run_many(commands: Sequence[Sequence[str]]) -> list[subprocess.CompletedProcess[str]]:
    def one(command: Sequence[str]) -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                command, capture_output=True, text=True, timeout=TIMEOUT, env=_env(), check=False
            )
        except subprocess.TimeoutExpired as hung:  # killed by subprocess.run
            return subprocess.CompletedProcess(command, -9, "", f"hung at exit: {hung}")

    with ThreadPoolExecutor(PARALLEL) as pool:
        return list(pool.map(one, commands))


def _summary(done: list[subprocess.CompletedProcess[str]]) -> str:
    codes = [d.returncode for d in done]
    bad = next((d for d in done if d.returncode != 0), None)
    detail = "" if bad is None else f"\nfirst failure's stderr:\n{bad.stderr[-2000:]}"
    return (
        f"exit codes {sorted(set(codes))}, {sum(c != 0 for c in codes)} of {len(codes)} bad{detail}"
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace whose ``tx`` has FILES versions (one Parquet file each), 3 rows quarantined."""
    base = tmp_path_factory.mktemp("clean-exit")
    contract = write(base / "contract.yaml", CONTRACT)
    with goldenpath.connect(base / "home", actor=ACTOR, create=True) as ws:
        for n in range(FILES):
            rows = [f"{i},{i * 0.5}\n" for i in range(2000)] + (["1,-1\n"] * 3 if n else [])
            batch = write(base / f"batch{n}.csv", "id,amount\n" + "".join(rows))
            # The same rows each time from version 3: force records every one.
            ws.datasets.ingest("tx", batch, contract=contract if n == 1 else None, force=True)
    return base / "home"


def test_a_script_that_reads_a_dataset_exits_0_every_time(home: Path) -> None:
    commands = [
        [sys.executable, "-c", READER.format(read=READS[i % len(READS)]), str(home), ACTOR]
        for i in range(RUNS)
    ]
    done = _run_many(commands)
    assert all(d.returncode == 0 for d in done), _summary(done)
    assert {d.stdout for d in done} == {"2000\n", f"{2000 * FILES}\n", "5\n", "15\n"}


def test_gp_commands_that_read_exit_0(home: Path, tmp_path: Path) -> None:
    """The CLI's read commands (and ingests, which scan for the profile) exit 0."""
    gp = str(Path(sys.executable).parent / "gp")
    more = write(tmp_path / "more.csv", "id,amount\n" + "".join(f"{i},1\n" for i in range(50)))
    with goldenpath.connect(tmp_path / "own", actor=ACTOR, create=True):
        pass
    reads = [
        [gp, "--workspace", str(home), "data", *args]
        for args in (["head", "tx"], ["quarantine", "tx"], ["head", "tx@2"]) * 2
    ]
    ingest = [gp, "--workspace", str(tmp_path / "own"), "data", "ingest", "x", str(more)]
    done = _run_many([*reads, ingest, ingest])
    assert all(d.returncode == 0 for d in done), _summary(done)
