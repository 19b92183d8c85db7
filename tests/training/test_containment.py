"""The training process cannot outlive or escape its run: processes train.py starts are gone
when the run ends (a grandchild that sleeps, one that calls setsid()), a SIGKILL of gp train
takes the training process and its grandchildren with it, and the work dir it left is removed
at the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from goldenpath.core.ids import new_id
from goldenpath.training import containment
from goldenpath.workspace import Workspace
from tests.training.conftest import EXAMPLE, write_train

GP = Path(sys.executable).parent / "gp"
HONEST = (EXAMPLE / "train.py").read_text(encoding="utf-8")

# train(ctx) starts a grandchild that sleeps (after setsid() if SETSID), waits until it runs
# (its command line carries TOKEN: found in /proc whatever the pid namespace), then trains.
FORKING = (
    HONEST
    + """

_honest_train = train


def _grandchild_running(token):
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if token.encode() in handle.read():
                    return True
        except OSError:
            pass
    return False


def train(ctx):
    import sys, time

    if os.fork() == 0:
        if SETSID:
            os.setsid()
        if os.fork() == 0:  # detached twice: its parent exits at once
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", TOKEN])
        os._exit(0)
    deadline = time.monotonic() + 30
    while not _grandchild_running(TOKEN):
        assert time.monotonic() < deadline, "the grandchild did not start"
        time.sleep(0.05)
    if WAIT:
        pathlib.Path(MARKER).write_text("started")
        time.sleep(600)
    return _honest_train(ctx)
"""
)


def forking_train(project: Path, *, setsid: bool, wait: bool = False) -> str:
    token = f"gp-test-grandchild-{new_id()}"
    header = (
        f"import os, pathlib\nSETSID = {setsid}\nTOKEN = {token!r}\nWAIT = {wait}\n"
        "MARKER = 'started'\n"  # in its work dir, its cwd: the project is read-only
    )
    write_train(project, header + FORKING)
    return token


def processes_with(text: str) -> list[int]:
    """Host pids whose command line holds ``text`` (zombies have none)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if text.encode() in handle.read():
                    found.append(int(entry))
        except OSError:
            pass
    return found


def _namespaces() -> bool:
    # The module loaded from its file, as the keeper is: importing goldenpath starts threads,
    # and a threaded process cannot enter a user namespace.
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import importlib.util as u, sys; "
            f"s = u.spec_from_file_location('c', {containment.__file__!r}); "
            "m = u.module_from_spec(s); s.loader.exec_module(m); "
            "sys.exit(0 if m.enter_namespace() is None else 1)",
        ],
        check=False,
    )
    return probe.returncode == 0


needs_namespaces = pytest.mark.skipif(
    not _namespaces(), reason="this kernel gives no PID namespace to unprivileged processes"
)


@needs_namespaces
@pytest.mark.parametrize("setsid", [False, True], ids=["grandchild", "setsid-grandchild"])
def test_what_train_py_starts_is_gone_when_its_run_finishes(
    trained_ws: Workspace, project: Path, setsid: bool
) -> None:
    token = forking_train(project, setsid=setsid)
    try:
        result = trained_ws.training.train(project)
        assert result.model == "fraud@1"  # a successful run
        assert processes_with(token) == []
        log = trained_ws.runs.get(result.run_id)
        assert log.status == "finished"
    finally:
        for pid in processes_with(token):
            os.kill(pid, signal.SIGKILL)


@needs_namespaces
def test_the_train_log_says_which_containment_the_run_had(
    trained_ws: Workspace, project: Path
) -> None:
    result = trained_ws.training.train(project)
    digest = next(
        a["digest"]
        for a in trained_ws.runs.get(result.run_id).artifacts
        if a["name"] == "train.log"
    )
    from goldenpath.core.artifacts import ArtifactStore

    text = ArtifactStore(trained_ws.storage_root).read_bytes(digest).decode()
    assert f"containment: {containment.NAMESPACE}" in text


@needs_namespaces
def test_a_sigkilled_gp_train_leaves_no_process_and_its_work_dir_goes_at_the_next_start(
    trained_ws: Workspace, project: Path
) -> None:
    token = forking_train(project, setsid=True, wait=True)
    home = trained_ws.stack.home
    env = {**os.environ, "GP_HOME": str(home), "GP_ACTOR": "alice"}
    env.pop("GP_SERVER", None)
    trainer = subprocess.Popen(
        [str(GP), "train", str(project)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    scratch = trained_ws.storage_root / "tmp"
    try:
        deadline = time.monotonic() + 120
        while not list(scratch.glob("gp-train-*/started")):
            assert trainer.poll() is None, "gp train ended before train(ctx) ran"
            assert time.monotonic() < deadline, "train(ctx) did not start"
            time.sleep(0.1)
        (workdir,) = list(scratch.glob("gp-train-*"))
        assert processes_with(token) and processes_with(str(workdir))  # all running
        trainer.send_signal(signal.SIGKILL)
        trainer.wait(10)
        deadline = time.monotonic() + 10
        while processes_with(token) or processes_with(str(workdir)):
            assert time.monotonic() < deadline, "a process outlived the SIGKILLed gp train"
            time.sleep(0.05)
        assert workdir.is_dir()  # nobody could remove it...
        write_train(project, HONEST)
        trained_ws.training.train(project)
        assert not workdir.exists()  # ...until the next start
    finally:
        trainer.kill()
        for pid in processes_with(token):
            os.kill(pid, signal.SIGKILL)


def test_a_work_dir_of_a_live_process_is_kept(trained_ws: Workspace, project: Path) -> None:
    from goldenpath.training.pipeline import sweep_stale_work_dirs, write_owner

    scratch = trained_ws.storage_root / "tmp"
    mine = scratch / "gp-train-mine"
    gone = scratch / "gp-train-gone"
    for path in (mine, gone):
        path.mkdir(parents=True)
    write_owner(mine)
    write_owner(gone)
    text = (gone / "owner.json").read_text()
    (gone / "owner.json").write_text(text.replace('"started": ', '"started": 1'))
    sweep_stale_work_dirs(scratch)
    assert mine.is_dir() and not gone.exists()
