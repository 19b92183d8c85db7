"""gp up through the installed gp: a project folder to a served endpoint, nothing done when
nothing changed, a changed model out as a canary with no failed request, and bad projects
refused with the serving version untouched."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from pyarrow import csv

from goldenpath.templates.sample_data import transactions

pytestmark = pytest.mark.e2e
GP = str(Path(sys.executable).parent / "gp")


def gp(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GP, *args], env=env, capture_output=True, text=True, timeout=180, cwd=cwd
    )


def _project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The quickstart's project files, with data that ends now, in a folder of their own."""
    folder = tmp_path / "fraud"
    folder.mkdir()
    for name in ("features.py", "gp.yaml", "train.py", "transactions.contract.yaml"):
        source = resources.files("goldenpath.templates") / f"quickstart/{name}"
        (folder / name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    csv.write_csv(
        transactions(2_000, start=now - timedelta(days=20), span=timedelta(days=20)),
        folder / "transactions.csv",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    env["GP_HOME"] = str(tmp_path / "home")
    assert gp(env, folder, "init").returncode == 0
    return folder, env


@pytest.fixture
def project(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    folder, env = _project(tmp_path)
    yield folder, env
    gp(env, folder, "deployments", "stop", "fraud-api")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    """A project gp up has served once (tests put back what they change)."""
    folder, env = _project(tmp_path_factory.mktemp("served"))
    first = gp(env, folder, "up")
    assert first.returncode == 0, first.stderr
    yield folder, env
    gp(env, folder, "deployments", "stop", "fraud-api")


def _body(folder: Path) -> dict[str, Any]:
    """A request for the user of the newest transaction (whose features are fresh)."""
    rows = csv.read_csv(folder / "transactions.csv")
    user = int(rows.column("user_id")[-1].as_py())
    return {"entities": {"user_id": user}, "request": {"currency": "EUR"}}


def _deployment(env: dict[str, str], folder: Path) -> dict[str, Any]:
    shown = gp(env, folder, "deployments", "status", "fraud-api", "--json")
    assert shown.returncode == 0, shown.stderr
    return dict(json.loads(shown.stdout))


def test_up_serves_then_does_nothing_then_starts_a_canary_with_no_failed_request(
    project: tuple[Path, dict[str, str]],
) -> None:
    folder, env = project
    first = gp(env, folder, "up")
    assert first.returncode == 0, first.stderr
    assert "fraud@1 is champion" in first.stdout and "one prediction answered" in first.stdout
    status = _deployment(env, folder)
    assert (status["primary_version"], status["candidate_version"]) == (1, None)
    url, body = status["url"], _body(folder)
    assert httpx.post(f"{url}/v1/predict", json=body).status_code == 200

    again = gp(env, folder, "up", "--json")
    assert again.returncode == 0, again.stderr
    done = json.loads(again.stdout)
    assert done["changed"] is False and done["model"] is None
    models = json.loads(gp(env, folder, "models", "show", "fraud", "--json").stdout)
    assert models["version"] == 1  # nothing was trained

    # A change to what trains the model: a new version, out as a canary, while a client
    # keeps asking (every answer a 200).
    text = (folder / "gp.yaml").read_text(encoding="utf-8")
    (folder / "gp.yaml").write_text(text.replace("C: 1.0", "C: 0.5"), encoding="utf-8")
    answers: list[int] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            while not stop.is_set():
                answers.append(http.post(f"{url}/v1/predict", json=body).status_code)

    thread = threading.Thread(target=client)
    thread.start()
    try:
        third = gp(env, folder, "up")
    finally:
        stop.set()
        thread.join(timeout=30)
    assert third.returncode == 0, third.stderr
    assert (
        "canary 10% fraud@2" in third.stdout and "gp deployments promote fraud-api" in third.stdout
    )
    status = _deployment(env, folder)
    assert (status["primary_version"], status["candidate_version"]) == (1, 2)
    assert answers and set(answers) == {200}, sorted(set(answers))
    champion = json.loads(gp(env, folder, "models", "show", "fraud@champion", "--json").stdout)
    assert champion["version"] == 1  # the canary is not champion until promoted


@pytest.mark.parametrize(
    ("change", "code", "message"),
    [
        (lambda f: (f / "gp.yaml").write_text("nme: x\n" + (f / "gp.yaml").read_text()), 2, "nme"),
        (
            lambda f: (f / "gp.yaml").write_text(
                (f / "gp.yaml").read_text().replace("source: transactions.csv", "source: ../x.csv")
            ),
            2,
            "outside the project folder",
        ),
        (
            lambda f: (f / "gp.yaml").write_text(
                (f / "gp.yaml").read_text().replace("deploy:\n  name: fraud-api\n", "")
            ),
            2,
            "no deploy: section",
        ),
        (
            lambda f: (f / "train.py").write_text(
                (f / "train.py").read_text() + "\nraise RuntimeError('broken on purpose')\n"
            ),
            8,
            "broken on purpose",
        ),
    ],
    ids=["unknown-key", "path-outside", "no-deploy", "train-raises"],
)
def test_a_bad_project_is_refused_and_the_serving_version_stays(
    served: tuple[Path, dict[str, str]], change: Any, code: int, message: str
) -> None:
    folder, env = served
    kept = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    change(folder)
    try:
        refused = gp(env, folder, "up")
    finally:
        for name, content in kept.items():
            (folder / name).write_bytes(content)
    assert refused.returncode == code, refused.stdout + refused.stderr
    assert message in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    status = _deployment(env, folder)
    assert (status["primary_version"], status["candidate_version"]) == (1, None)
    answer = httpx.post(f"{status['url']}/v1/predict", json=_body(folder))
    assert answer.status_code == 200, answer.text


def test_up_outside_a_project_says_so(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    env["GP_HOME"] = str(tmp_path / "home")
    assert gp(env, tmp_path, "init").returncode == 0
    refused = gp(env, tmp_path, "up")
    assert refused.returncode == 2 and "gp up runs in a project folder" in refused.stderr
    shutil.rmtree(tmp_path / "home")
