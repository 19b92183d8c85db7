"""``monitor:`` in gp.yaml and config.yaml: validated with line numbers, by precedence; and
the migration of the monitoring table up and down on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from goldenpath.core.config import resolve_stack
from goldenpath.core.errors import InvalidInput
from goldenpath.store.engine import HEAD_REVISION, MIGRATIONS_DIR, open_store
from tests.conftest import write


@pytest.fixture(autouse=True)
def _no_monitor_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GP_MONITOR_INTERVAL", raising=False)
    monkeypatch.delenv("GP_MONITOR_WINDOW", raising=False)


def test_defaults_then_workspace_then_project_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    stack = resolve_stack(home, project_dir=project)
    assert (stack.monitor_interval, stack.monitor_window) == (30.0, 300.0)
    write(home / "config.yaml", "monitor:\n  interval: 1m\n  window: 1h\n")
    stack = resolve_stack(home, project_dir=project)
    assert (stack.monitor_interval, stack.monitor_window) == (60.0, 3600.0)
    write(project / "gp.yaml", "monitor:\n  interval: 10s\n")
    stack = resolve_stack(home, project_dir=project)
    assert (stack.monitor_interval, stack.monitor_window) == (10.0, 3600.0)
    monkeypatch.setenv("GP_MONITOR_INTERVAL", "2s")
    assert resolve_stack(home, project_dir=project).monitor_interval == 2.0


def test_a_bad_interval_names_the_file_and_line(tmp_path: Path) -> None:
    home, project = tmp_path / "home", tmp_path / "project"
    home.mkdir()
    project.mkdir()
    write(project / "gp.yaml", "name: fraud\nmonitor:\n  interval: often\n")
    with pytest.raises(InvalidInput) as raised:
        resolve_stack(home, project_dir=project)
    text = str(raised.value)
    assert "gp.yaml:3: monitor.interval" in text and "is not a duration" in text, text
    write(project / "gp.yaml", "monitor:\n  interval: 48h\n")
    with pytest.raises(InvalidInput, match="out of range"):
        resolve_stack(home, project_dir=project)
    write(project / "gp.yaml", "monitor:\n  every: 1s\n")
    with pytest.raises(InvalidInput, match="every"):
        resolve_stack(home, project_dir=project)


def test_a_window_shorter_than_the_interval_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    write(home / "config.yaml", "monitor:\n  interval: 5m\n  window: 1m\n")
    with pytest.raises(InvalidInput, match=r"shorter than monitor\.interval"):
        resolve_stack(home, project_dir=tmp_path)
    monkeypatch.setenv("GP_MONITOR_WINDOW", "soon")
    with pytest.raises(InvalidInput, match="GP_MONITOR_WINDOW"):
        resolve_stack(home, project_dir=tmp_path)


def test_the_monitoring_migration_goes_down_and_up(metadata_url: str) -> None:
    store = open_store(metadata_url)
    try:
        assert store.current_revision() == HEAD_REVISION == "0013"
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        with store.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "0012")
        assert "monitoring_figures" not in inspect(store.engine).get_table_names()
        store.migrate()
        assert store.current_revision() == "0013"
        assert "monitoring_figures" in inspect(store.engine).get_table_names()
    finally:
        store.dispose()
