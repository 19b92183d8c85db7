"""gp quickstart: the golden path on generated data, from nothing to a live prediction, through
the installed gp."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e
GP = str(Path(sys.executable).parent / "gp")


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    env["HOME"] = str(tmp_path / "home")  # the per-user default workspace, empty
    env.pop("XDG_DATA_HOME", None)
    return env


def _gp(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GP, *args], env=env, capture_output=True, text=True, timeout=180, cwd=cwd
    )


def _endpoint(out: str) -> tuple[str, str]:
    """The served URL and the live prediction's request id quickstart printed."""
    url = re.search(r"deploy\s+fraud-api: serving fraud@1 at (http://127\.0\.0\.1:\d+)", out)
    request_id = re.search(r"\(request id ([0-9A-Z]{26})\)", out)
    assert url and request_id, out
    return url.group(1), request_id.group(1)


def test_quickstart_from_nothing_to_a_live_prediction_and_again(tmp_path: Path) -> None:
    env = _env(tmp_path)
    first = _gp(env, tmp_path, "quickstart")
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "transactions@1: 4,984 rows appended (a new dataset)" in out
    assert "16 rows quarantined" in out
    assert "fraud@1 is champion" in out and "try next" in out
    url, request_id = _endpoint(out)
    # The endpoint it leaves running answers, with fresh features (the sample ends now).
    answer = httpx.post(
        f"{url}/v1/predict", json={"entities": {"user_id": 42}, "request": {"currency": "EUR"}}
    )
    assert answer.status_code == 200, answer.text
    assert all(f["status"] == "present" for f in answer.json()["features"].values()), answer.json()
    # The printed prediction is in the log already (quickstart waits for it).
    shown = _gp(env, tmp_path, "predictions", "show", request_id, "--json")
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    assert record["request_id"] == request_id and record["model_version"] == 1
    assert record["features"]["amount"]["source"] == "user_tx@1"

    # Again: its own workspace is replaced, the old endpoint stopped first.
    again = _gp(env, tmp_path, "quickstart")
    assert again.returncode == 0, again.stderr
    assert "(replaced)" in again.stdout.splitlines()[0]
    new_url, _ = _endpoint(again.stdout)
    if new_url != url:
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/v2/health/live")
    listed = json.loads(_gp(env, tmp_path, "deployments", "list", "--json").stdout)
    assert [(d["name"], d["status"]) for d in listed] == [("fraud-api", "running")]
    stopped = _gp(env, tmp_path, "deployments", "stop", "fraud-api")
    assert stopped.returncode == 0, stopped.stderr
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{new_url}/v2/health/live")


def test_quickstart_in_a_workspace_it_did_not_make_keeps_it_and_is_idempotent(
    tmp_path: Path,
) -> None:
    """A workspace that existed before is used as it is, never removed; the same generated
    rows twice are not a new version (issue 12, point 4), so nothing is quarantined twice."""
    env = _env(tmp_path)
    home = tmp_path / "mine"
    assert _gp(env, tmp_path, "-w", str(home), "init").returncode == 0
    (home / "keep.txt").write_text("mine\n", encoding="utf-8")
    first = _gp(env, tmp_path, "-w", str(home), "quickstart", "--data-only")
    assert first.returncode == 0, first.stderr
    assert "transactions@1: 4,984 rows appended (a new dataset)" in first.stdout
    assert "deploy fraud-api" not in first.stdout  # --data-only: no training, no endpoint
    held = _gp(env, tmp_path, "-w", str(home), "data", "quarantine", "transactions", "--json")
    assert len(json.loads(held.stdout)) == 16
    again = _gp(env, tmp_path, "-w", str(home), "quickstart", "--data-only")
    assert again.returncode == 0, again.stderr
    assert "transactions: unchanged; this batch is already in transactions@1" in again.stdout
    assert (home / "keep.txt").read_text(encoding="utf-8") == "mine\n"
    assert f"rm -rf {home / 'quickstart'}" in again.stdout  # it offers to remove its files only
