from __future__ import annotations

import warnings
from pathlib import Path

import pytest

import goldenpath
from goldenpath.core.config import (
    NOT_BUILT_YET,
    StackSettings,
    not_built_choices,
    resolve_home,
    resolve_stack,
    setting_effects,
)
from goldenpath.core.errors import InvalidInput
from tests.conftest import write


def test_defaults_live_under_the_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    stack = resolve_stack(tmp_path / "home")
    assert stack.metadata == f"sqlite:///{tmp_path / 'home' / 'gp.db'}"
    assert stack.storage == str(tmp_path / "home" / "storage")
    assert (stack.online, stack.runtime) == ("sqlite", "local")
    assert set(stack.sources.values()) == {"default"}


def test_precedence_argument_env_project_workspace_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write(
        home / "config.yaml",
        "storage: ws-storage\nonline: redis://127.0.0.1:6379/0\n"
        "runtime: kubernetes\nmetadata: sqlite:///ws.db\n",
    )
    project = tmp_path / "project"
    project.mkdir()
    write(
        project / "gp.yaml",
        "name: demo\nstack:\n  runtime: local\n  online: sqlite\n  storage: project-storage\n",
    )
    monkeypatch.setenv("GP_ONLINE", "redis://127.0.0.1:6379/1")
    monkeypatch.setenv("GP_STORAGE", "/env/storage")
    stack = resolve_stack(home, StackSettings(storage="/arg/storage"), project_dir=project)
    assert stack.storage == "/arg/storage" and stack.sources["storage"] == "argument"
    assert stack.online == "redis://127.0.0.1:6379/1" and stack.sources["online"] == "environment"
    assert stack.runtime == "local" and stack.sources["runtime"].endswith("gp.yaml")
    assert stack.metadata == f"sqlite:///{home / 'ws.db'}"
    assert stack.sources["metadata"].endswith("config.yaml")


def test_a_typo_in_the_workspace_config_names_the_key_and_line(tmp_path: Path) -> None:
    write(tmp_path / "config.yaml", "storage: /x\nmetadta: sqlite:///y.db\n")
    with pytest.raises(InvalidInput) as caught:
        resolve_stack(tmp_path)
    assert "config.yaml:2: metadta" in caught.value.message


def test_a_wrong_key_names_the_page_that_lists_the_file_s_keys(tmp_path: Path) -> None:
    """Each kind of file points at its own page: config.yaml and gp.yaml at configuration.md,
    gp.yaml's training section at training.md, a contract at contracts.md, a policy file at
    governance.md (not every one at contracts.md)."""
    from goldenpath.data.contracts import ContractError, load_contract
    from goldenpath.governance.policies import load_policies
    from goldenpath.training.config import load_training_config

    home, project, policies = tmp_path / "home", tmp_path / "project", tmp_path / "policies"
    for folder in (home, project, policies):
        folder.mkdir()
    write(home / "config.yaml", "storage: /x\nmetadta: sqlite:///y.db\n")
    write(project / "gp.yaml", "name: demo\nstak:\n  runtime: local\n")
    write(tmp_path / "t.contract.yaml", "columns:\n  amount: {type: float, mni: 0}\n")
    write(policies / "p.yaml", "policies:\n  - name: p\n    actoins: [model.promote]\n")
    cases = [
        (lambda: resolve_stack(home), "config.yaml:2", "docs/configuration.md"),
        (
            lambda: resolve_stack(tmp_path, project_dir=project),
            "gp.yaml:2",
            "docs/configuration.md",
        ),
        (
            lambda: load_contract(tmp_path / "t.contract.yaml"),
            "contract.yaml:2",
            "docs/contracts.md",
        ),
        (lambda: load_policies(policies), "p.yaml:3", "docs/governance.md"),
    ]
    for load, where, page in cases:
        with pytest.raises((InvalidInput, ContractError)) as caught:
            load()
        assert where in caught.value.message, caught.value.message
        assert caught.value.hint == f"fix that line; see {page} for the accepted keys", where
    write(project / "gp.yaml", "name: demo\ntraining:\n  modle: fraud\n")
    with pytest.raises(InvalidInput) as caught:
        load_training_config(project)
    assert "gp.yaml:3: training.modle" in caught.value.message, caught.value.message
    assert caught.value.hint == "fix that line; see docs/training.md for the accepted keys"


def test_bad_values_are_explained(tmp_path: Path) -> None:
    write(tmp_path / "config.yaml", "runtime: docker\n")
    with pytest.raises(InvalidInput, match=r"config.yaml:1: runtime: .*local.*kubernetes"):
        resolve_stack(tmp_path)


def test_home_comes_from_flag_then_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GP_HOME", str(tmp_path / "env"))
    assert resolve_home(tmp_path / "flag") == ((tmp_path / "flag").resolve(), "--workspace")
    assert resolve_home(None) == ((tmp_path / "env").resolve(), "GP_HOME")
    monkeypatch.delenv("GP_HOME")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert resolve_home(None) == ((tmp_path / "xdg" / "goldenpath").resolve(), "default")


def test_a_bad_environment_variable_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GP_RUNTIME", "docker")
    with pytest.raises(InvalidInput, match=r"GP_RUNTIME: .*local.*kubernetes") as caught:
        resolve_stack(tmp_path)
    assert "GP_RUNTIME" in (caught.value.hint or "")


# -- settings that nothing uses yet (issue 12, point 8) ------------------------------------------


def test_runtime_kubernetes_is_in_effect_and_warns_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Serving (issue 15) built both runtimes: choosing Kubernetes no longer warns."""
    monkeypatch.chdir(tmp_path)
    home = tmp_path / "home"
    goldenpath.connect(home, actor="alice", create=True).close()
    write(home / "config.yaml", "online: redis://127.0.0.1:6379/0\nruntime: kubernetes\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ws = goldenpath.connect(home, actor="alice")
    status = ws.status().as_dict()
    assert set(status["effect"].values()) == {"in effect"}
    assert (status["stack"]["runtime"], status["stack"]["serving"]) == ("kubernetes", "deployment")
    ws.close()


def test_the_default_stack_warns_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ws = goldenpath.connect(tmp_path / "home", actor="alice", create=True)
        effect = ws.status().effect
        ws.close()
    assert effect is not None and set(effect.values()) == {"in effect"}


def test_building_a_backend_is_one_entry_in_one_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GP_ONLINE", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("GP_RUNTIME", "kubernetes")
    stack = resolve_stack(tmp_path / "home")
    # The feature store (issue 13) deleted the online lines, serving (15) the runtime lines.
    assert setting_effects(stack)["online"] == setting_effects(stack)["runtime"] == "in effect"
    assert not_built_choices(stack) == []
    # A backend not built yet is one entry: it warns and status says so; deleting it lifts both.
    monkeypatch.setitem(NOT_BUILT_YET, ("runtime", "kubernetes"), "a future runtime")
    assert not_built_choices(stack) == [
        "runtime: kubernetes is set (environment) but not built yet: a future runtime"
    ]
    monkeypatch.delitem(NOT_BUILT_YET, ("runtime", "kubernetes"))
    assert not_built_choices(stack) == []
    assert setting_effects(stack)["runtime"] == "in effect"
