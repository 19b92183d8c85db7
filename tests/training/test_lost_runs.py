"""A lost run ends: a ``gp train`` killed with SIGKILL shows ``failed`` ("process lost") on the
next read, audited once, on SQLite and PostgreSQL; a run whose heartbeat stopped is lost to any
reader; a reused pid is not mistaken for the run's process."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

import goldenpath
from goldenpath.core import processes
from goldenpath.core.clock import utcnow
from goldenpath.core.limits import Limits
from goldenpath.store.tables import audit_events, runs
from goldenpath.training.runs import lost_because
from goldenpath.workspace import Workspace
from tests.training.conftest import EXAMPLE, PROJECT_FILES

GP = Path(sys.executable).parent / "gp"

# A train(ctx) that says it has started (with its pid) and then waits, so that the test can
# kill gp train while its child trains.
WAITING_TRAIN = """\
import os, pathlib, time


def train(ctx):
    pathlib.Path("started").write_text(str(os.getpid()))  # in its work dir, its cwd
    time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat", "rb") as handle:  # a zombie is not alive
        return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"


@pytest.fixture
def train_project(tmp_path: Path, metadata_url: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """The example project with a waiting train.py, its data ingested and features applied on
    each metadata backend, and the environment that makes ``gp`` use that workspace."""
    project = tmp_path / "fraud"
    project.mkdir()
    for name in PROJECT_FILES:
        shutil.copy(EXAMPLE / name, project / name)
    (project / "train.py").write_text(WAITING_TRAIN, encoding="utf-8")
    home = tmp_path / "home"
    with goldenpath.connect(home, metadata=metadata_url, actor="alice", create=True) as ws:
        ws.datasets.ingest(
            "transactions",
            project / "transactions.csv",
            contract=project / "transactions.contract.yaml",
        )
        ws.features.apply(project / "features.py")
    env = {
        **os.environ,
        "GP_HOME": str(home),
        "GP_METADATA": metadata_url,
        "GP_ACTOR": "alice",
        "COLUMNS": "200",
    }
    env.pop("GP_SERVER", None)
    yield project, env


def _gp(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [str(GP), *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return json.loads(done.stdout)


def _start_training(project: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """``gp train`` started, and the pid of its training process once train(ctx) runs."""
    scratch = Path(env["GP_HOME"])
    trainer = subprocess.Popen(
        [str(GP), "train", str(project)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while True:
        markers = [m for m in scratch.glob("**/gp-train-*/started") if m.read_text()]
        if markers:
            return trainer, int(markers[0].read_text())
        assert trainer.poll() is None, "gp train ended before train(ctx) ran"
        assert time.monotonic() < deadline, "train(ctx) did not start"
        time.sleep(0.1)


def test_a_sigkilled_gp_train_is_failed_on_the_next_runs_list(
    train_project: tuple[Path, dict[str, str]], metadata_url: str
) -> None:
    project, env = train_project
    trainer, child_pid = _start_training(project, env)
    try:
        (running,) = _gp(env, "runs", "list", "--json")
        assert running["status"] == "running"  # alive: not judged lost while it trains
        ws = goldenpath.connect(env["GP_HOME"], metadata=metadata_url, actor="alice")
        with ws, ws.store.connect() as conn:
            beat = conn.execute(
                select(runs.c.heartbeat_at).where(runs.c.id == running["id"])
            ).scalar()
        assert beat is not None and (utcnow() - beat).total_seconds() < 60  # gp train beats
        trainer.send_signal(signal.SIGKILL)
        trainer.wait(10)
        (lost,) = _gp(env, "runs", "list", "--json")
        assert lost["id"] == running["id"] and lost["status"] == "failed"
        assert lost["error"]["step"] == "lost"
        assert lost["error"]["message"].startswith("process lost: process ")
        assert lost["ended_at"] is not None
        again = _gp(env, "runs", "show", lost["id"], "--json")
        assert again["status"] == "failed"
    finally:
        if _alive(child_pid):
            os.kill(child_pid, signal.SIGKILL)
    ws = goldenpath.connect(env["GP_HOME"], metadata=metadata_url, actor="alice")
    with ws, ws.store.connect() as conn:
        events = conn.execute(
            select(audit_events.c.action, audit_events.c.details).where(
                audit_events.c.object_ref == lost["id"], audit_events.c.action == "run.fail"
            )
        ).all()
    assert len(events) == 1  # marked and audited once, though read three times
    assert "process lost" in str(events[0].details)


def _open_run(ws: Workspace, process: dict[str, Any] | None, beat_age_s: float | None) -> str:
    run = ws.runs.start(experiment="lost")
    beat = None if beat_age_s is None else utcnow() - timedelta(seconds=beat_age_s)
    with ws.store.begin() as conn:
        conn.execute(
            update(runs).where(runs.c.id == run.id).values(process=process, heartbeat_at=beat)
        )
    return run.id


def test_a_stale_heartbeat_is_lost_to_any_reader_and_marked_once(ws: Workspace) -> None:
    elsewhere = {"pid": 1, "started": 1, "boot_id": "x", "host": "another-host"}
    stale = _open_run(ws, elsewhere, beat_age_s=121)
    fresh = _open_run(ws, elsewhere, beat_age_s=5)
    silent = _open_run(ws, elsewhere, beat_age_s=None)  # no heartbeat, no machine to ask
    by_id = {r.id: r for r in ws.runs.list(experiment="lost")}
    assert by_id[stale].status == "failed"
    assert "no heartbeat for 121 s" in (by_id[stale].error or {})["message"]
    assert by_id[fresh].status == "running" and by_id[silent].status == "running"
    # Two readers that judged the same run at once: only the first marks (and audits) it.
    other = _open_run(ws, elsewhere, beat_age_s=500)
    with ws.store.connect() as conn:
        seen = conn.execute(select(runs.c.heartbeat_at).where(runs.c.id == other)).scalar()
    assert ws.runs.mark_lost(other, seen, "test") is True
    assert ws.runs.mark_lost(other, seen, "test") is False
    with ws.store.connect() as conn:
        count = conn.execute(
            select(audit_events.c.id).where(
                audit_events.c.object_ref == other, audit_events.c.action == "run.fail"
            )
        ).all()
    assert len(count) == 1
    # A heartbeat written after the judgement keeps the run running.
    late = _open_run(ws, elsewhere, beat_age_s=500)
    with ws.store.connect() as conn:
        seen = conn.execute(select(runs.c.heartbeat_at).where(runs.c.id == late)).scalar()
    assert ws.runs._beat(late)
    assert ws.runs.mark_lost(late, seen, "test") is False
    assert ws.runs.get(late).status == "running"


def test_a_run_of_this_live_process_is_not_lost_and_a_reused_pid_is_not_it(
    local_ws: Workspace,
) -> None:
    me = processes.identity()
    assert processes.is_alive(me) is True
    run = local_ws.runs.start(experiment="lost")
    assert local_ws.runs.get(run.id).status == "running"
    # The same pid with another start time is another process: the run's is gone.
    reused = {**me, "started": me["started"] + 1}
    assert processes.is_alive(reused) is False
    assert lost_because(reused, None, utcnow(), Limits()) is not None
    # Another boot of this machine: gone too; another machine: cannot tell.
    assert processes.is_alive({**me, "boot_id": "another-boot"}) is False
    assert processes.is_alive({**me, "host": "another-host"}) is None
    run.end()


def test_a_heartbeat_limit_shorter_than_two_beats_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from goldenpath.core.errors import InvalidInput
    from goldenpath.core.limits import resolve_limits

    monkeypatch.setenv("GP_LIMIT_RUN_LOST_AFTER_SECONDS", "6")
    with pytest.raises(InvalidInput, match="at least twice run_heartbeat_seconds"):
        resolve_limits()
    monkeypatch.setenv("GP_LIMIT_RUN_LOST_AFTER_SECONDS", "10")
    assert resolve_limits().run_lost_after_seconds == 10


def test_a_script_that_exits_without_ending_its_run_leaves_it_lost(local_ws: Workspace) -> None:
    script = (
        "import goldenpath\n"
        f"ws = goldenpath.connect({str(local_ws.stack.home)!r}, actor='alice')\n"
        "run = ws.runs.start('forgotten')\n"
        "run.log_metric('auc', 0.7)\n"
        "print(run.id)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    info = local_ws.runs.get(done.stdout.strip())
    assert info.metrics == {"auc": 0.7}  # what it logged is kept
    assert info.status == "failed" and (info.error or {})["step"] == "lost"
