"""Long commands show progress on stderr: a live display on a terminal, plain lines when
piped, nothing under --json."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

import goldenpath
from goldenpath.cli import progress as cli_progress
from goldenpath.governance import audit_verify

GP = Path(sys.executable).parent / "gp"


def on_terminal(
    args: list[str], env: dict[str, str], cwd: Path | None = None
) -> tuple[int, str, str]:
    """Run ``args`` with stderr on a pseudo-terminal (stdout to a file): the exit code,
    stdout, and what the terminal received."""
    master, slave = pty.openpty()
    out_path = Path(env["GP_HOME"]).parent / "stdout.txt"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=out, stderr=slave, env=env, cwd=cwd
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the process closed its end
                break
            if not data:
                break
            chunks.append(data)
        code = proc.wait(timeout=300)
    os.close(master)
    return code, out_path.read_text(), b"".join(chunks).decode("utf-8", "replace")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    with goldenpath.connect(home, actor="alice", create=True) as ws:
        for i in range(30):
            ws.access.create_project(f"p{i}")
    return home


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    env.update(GP_HOME=str(home), GP_ACTOR="alice", TERM="xterm-256color", COLUMNS="120")
    env.pop("NO_COLOR", None)
    return env


def test_audit_verify_shows_a_live_display_on_a_terminal(home: Path) -> None:
    code, out, terminal = on_terminal([str(GP), "audit", "verify"], environment(home))
    assert code == 0, terminal
    assert "audit trail intact" in out
    assert "audit verify: chain" in terminal  # the live line, with its spinner
    assert "\x1b[" in terminal  # drawn with terminal controls
    assert "  chain" in terminal  # and the step's line once it ends


def test_piped_it_prints_plain_lines_and_under_json_nothing(home: Path) -> None:
    env = environment(home)
    piped = subprocess.run(
        [str(GP), "audit", "verify"], env=env, capture_output=True, text=True, check=True
    )
    assert piped.stderr.splitlines()[0].startswith("  chain ")
    assert "\x1b[" not in piped.stderr
    quiet = subprocess.run(
        [str(GP), "audit", "verify", "--json"], env=env, capture_output=True, text=True, check=True
    )
    assert quiet.stderr == ""


def test_the_chain_check_reports_how_far_it_is(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(audit_verify, "PROGRESS_EVERY", 10)
    heard: list[tuple[int, int | None]] = []

    class Recorder(cli_progress.StepProgress):
        def count(self, done: int, total: int | None = None) -> None:
            heard.append((done, total))

    with goldenpath.connect(home, actor="alice") as ws:
        result = ws.audit.verify(progress=Recorder("audit verify"))
    assert result.ok
    assert heard and heard[0] == (10, result.events)
    assert [done for done, _ in heard] == list(range(10, result.events + 1, 10))


def test_a_counted_step_prints_plain_progress_lines_when_piped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli_progress, "PLAIN_EVERY_SECONDS", 0.0)
    shown = cli_progress.StepProgress("audit verify")
    with shown.step("chain"):
        shown.count(10_000, 30_000)
        shown.count(20_000, 30_000)
    hidden = cli_progress.StepProgress("audit verify", enabled=False)
    with hidden.step("chain"):
        hidden.count(10_000, 30_000)
    lines = capsys.readouterr().err.splitlines()
    assert lines[:2] == ["  chain     10,000 of 30,000", "  chain     20,000 of 30,000"]
    assert lines[2].startswith("  chain ") and lines[2].endswith("s")
    assert len(lines) == 3
