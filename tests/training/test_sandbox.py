"""train.py runs with a scrubbed environment and, where Landlock is present, sees only its
work dir (read-write), its project and Python (read-only), nothing of the workspace, and no
network unless training.network: true."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from goldenpath.core.errors import InvalidInput, TrainingFailed
from goldenpath.training import sandbox
from goldenpath.training.config import load_training_config
from goldenpath.workspace import Workspace
from tests.training.conftest import write_train
from tests.training.test_containment import HONEST

ABI = sandbox.abi_version()[0]
needs_landlock = pytest.mark.skipif(ABI < 4, reason="needs Landlock ABI 4+ (Linux 6.7+)")


def test_the_environment_is_scrubbed_to_what_training_needs(tmp_path: Path) -> None:
    source = {
        "PATH": "/usr/bin",
        "LC_ALL": "C.UTF-8",
        "OMP_NUM_THREADS": "2",
        "GP_TOKEN": "gp_secret",
        "GP_AUDIT_KEY": "/keys/audit.pem",
        "AWS_SECRET_ACCESS_KEY": "aws",
        "DATABASE_URL": "postgresql://x",
        "MY_SETTING": "kept",
    }
    env = sandbox.child_environment(tmp_path, ["MY_SETTING", "GP_TOKEN"], source)
    assert env["PATH"] == "/usr/bin" and env["LC_ALL"] == "C.UTF-8"
    assert env["OMP_NUM_THREADS"] == "2" and env["MY_SETTING"] == "kept"
    assert env["HOME"] == str(tmp_path / "home") and env["TMPDIR"] == str(tmp_path / "tmp")
    for secret in ("GP_TOKEN", "GP_AUDIT_KEY", "AWS_SECRET_ACCESS_KEY", "DATABASE_URL"):
        assert secret not in env


def test_gp_yaml_may_not_pass_gp_variables_or_odd_names(project: Path) -> None:
    path = project / "gp.yaml"
    text = path.read_text(encoding="utf-8")
    for names, error in (("[GP_TOKEN]", "never passed"), ("['A B']", "not an environment")):
        path.write_text(
            text.replace("  time_limit: 300\n", f"  time_limit: 300\n  environment: {names}\n")
        )
        with pytest.raises(InvalidInput, match=error):
            load_training_config(project)


def test_a_protected_path_inside_an_allowed_folder_is_left_out(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "home" / "keys").mkdir(parents=True)
    (project / "src").mkdir()
    (project / "train.py").write_text("")
    protected = [str(project / "home")]
    roots = sandbox.allowed_roots(str(project), protected)
    assert sorted(roots) == [str(project / "src"), str(project / "train.py")]
    assert sandbox.allowed_roots(str(project / "home" / "keys"), protected) == []
    assert sandbox.allowed_roots(str(tmp_path / "other"), protected) == [str(tmp_path / "other")]


@pytest.fixture
def neighbour(tmp_path: Path) -> Path:
    """Another project's folder, beside this one."""
    folder = tmp_path / "churn"
    folder.mkdir()
    (folder / "secret.csv").write_text("user_id,ssn\n1,123-45-6789\n")
    return folder


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that accepts connections."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


def attack(project: Path, body: str) -> None:
    write_train(project, "import os, pathlib, socket\n\n\ndef train(ctx):\n" + body)


@needs_landlock
@pytest.mark.parametrize(
    "target",
    ["database", "audit key", "neighbour", "project write", "socket"],
)
def test_a_train_py_that_reaches_outside_its_run_fails_naming_the_sandbox(
    trained_ws: Workspace, project: Path, neighbour: Path, listener: int, target: str
) -> None:
    home = trained_ws.stack.home
    bodies = {
        "database": f"    pathlib.Path({str(home / 'gp.db')!r}).read_bytes()\n",
        "audit key": (
            f"    pathlib.Path({str(home / 'keys' / 'audit-ed25519.pem')!r}).read_bytes()\n"
        ),
        "neighbour": f"    pathlib.Path({str(neighbour / 'secret.csv')!r}).read_text()\n",
        "project write": f"    pathlib.Path({str(project / 'planted.py')!r}).write_text('x')\n",
        "socket": f"    socket.create_connection(('127.0.0.1', {listener}), timeout=5)\n",
    }
    assert (home / "gp.db").is_file() and (home / "keys" / "audit-ed25519.pem").is_file()
    attack(project, bodies[target])
    with pytest.raises(TrainingFailed) as failed:
        trained_ws.training.train(project)
    message = str(failed.value)
    assert "PermissionError" in message and "training sandbox" in message, message
    assert not (project / "planted.py").exists()
    run = trained_ws.runs.list()[0]
    assert run.status == "failed"
    assert run.environment["sandbox"]["landlock"] == ABI


@needs_landlock
def test_an_honest_train_py_trains_in_the_sandbox_and_the_log_says_so(
    trained_ws: Workspace, project: Path, listener: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_TOKEN", "gp_not_for_train_py")
    monkeypatch.setenv("MY_SETTING", "passed")
    path = project / "gp.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(
            "  time_limit: 300\n",
            "  time_limit: 300\n  network: true\n  environment: [MY_SETTING]\n",
        )
    )
    probe = (
        "def train(ctx):\n"
        "    import os, pathlib, socket, tempfile\n"
        "    assert 'GP_TOKEN' not in os.environ, 'the token reached train.py'\n"
        "    assert os.environ['MY_SETTING'] == 'passed'\n"
        "    pathlib.Path('scratch.txt').write_text('ok')  # its work dir is writable\n"
        "    tempfile.NamedTemporaryFile().close()  # and so is its TMPDIR\n"
        f"    socket.create_connection(('127.0.0.1', {listener}), timeout=5).close()\n"
        "    return _honest(ctx)\n"
    )
    write_train(project, HONEST + "\n\n_honest = train\n\n\n" + probe)
    result = trained_ws.training.train(project)
    run = trained_ws.runs.get(result.run_id)
    assert run.status == "finished"
    assert run.environment["sandbox"] == {
        "landlock": ABI,
        "filesystem": True,
        "network": "on",
        "reason": None,
    }
    log = trained_ws.runs.train_log(result.run_id)
    assert f"sandbox: Landlock ABI {ABI}: writes only its work dir" in log
    assert "network on (training.network: true)" in log


def test_a_promotion_policy_sees_whether_the_run_was_sandboxed(
    trained_ws: Workspace, project: Path
) -> None:
    from goldenpath.core.errors import PolicyDenied

    (trained_ws.stack.home / "policies").mkdir(exist_ok=True)
    (trained_ws.stack.home / "policies" / "models.yaml").write_text(
        "policies:\n  - name: prod-models-are-sandboxed\n    actions: [model.promote]\n"
        "    allow: '!object.sandboxed'\n    message: refuses sandboxed runs\n"
    )
    result = trained_ws.training.train(project)
    held = ABI > 0
    if held:  # the policy refuses a sandboxed run's model: it saw sandboxed == true
        with pytest.raises(PolicyDenied, match="prod-models-are-sandboxed"):
            trained_ws.models.promote(result.model, "champion", reason="test")
    else:
        trained_ws.models.promote(result.model, "champion", reason="test")


@needs_landlock
def test_a_workspace_inside_the_project_folder_stays_out_of_reach(project: Path) -> None:
    import goldenpath

    home = project / ".goldenpath"
    with goldenpath.connect(home, actor="alice", create=True) as ws:
        ws.datasets.ingest(
            "transactions",
            project / "transactions.csv",
            contract=project / "transactions.contract.yaml",
        )
        ws.features.apply(project / "features.py")
        attack(
            project,
            "    assert pathlib.Path('features.py').exists() is False  # cwd is the work dir\n"
            f"    pathlib.Path({str(project / 'features.py')!r}).read_text()  # allowed\n"
            f"    pathlib.Path({str(home / 'gp.db')!r}).read_bytes()\n",
        )
        with pytest.raises(TrainingFailed, match=r"PermissionError.*gp\.db.*training sandbox"):
            ws.training.train(project)
