"""Run one document's examples, in order, in a fresh workspace; return readable failures."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from goldenpath.core.config import ProjectConfig, WorkspaceConfig
from goldenpath.core.errors import GoldenpathError
from goldenpath.core.yamlfile import load_yaml_model
from goldenpath.data.contracts import load_contract
from goldenpath.governance.policies import load_policies
from goldenpath.training.config import load_training_config
from tests.cli import inprocess
from tests.docs.blocks import EXAMPLES, LANGUAGES, Block, blocks, commands, yaml_target

BIN = Path(sys.executable).parent
OUTPUT_CHARS = 1500  # of a failing command's stdout and stderr, each


def environment(tmp: Path) -> dict[str, str]:
    """A new user's shell: ``gp`` on PATH, a fresh GP_HOME, no other GP_* setting, and
    ``PORT``, a port free now, for the examples that choose where a deployment listens
    (``gp deploy ... --port "$PORT"``): documents run side by side, never on a fixed port."""
    with inprocess.LOCK:  # not while an in-process command has the environment changed
        env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
    env.pop("XDG_DATA_HOME", None)
    env["HOME"] = str(tmp / "user")
    env["GP_HOME"] = str(tmp / "workspace")
    env["PORT"] = str(_free_port())
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(label: str, text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    if len(text) > OUTPUT_CHARS:
        text = "..." + text[-OUTPUT_CHARS:]
    return f"\n  {label}:\n    " + text.replace("\n", "\n    ")


def _check_yaml(block: Block, cwd: Path, home: Path) -> str | None:
    target = yaml_target(block)
    if target is None:
        return (
            f"{block.where}: a yaml block must say which file it is on its first line "
            "(# NAME.contract.yaml, # <workspace>/config.yaml, # <workspace>/policies/NAME.yaml)"
        )
    try:
        if target == "<workspace>/config.yaml":
            scratch = cwd.parent / "config-check" / "config.yaml"
            scratch.parent.mkdir(exist_ok=True)
            scratch.write_text(block.text, encoding="utf-8")
            load_yaml_model(scratch, WorkspaceConfig, docs="docs/configuration.md")
        elif target.startswith("<workspace>/policies/"):
            path = home / "policies" / target.removeprefix("<workspace>/policies/")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(block.text, encoding="utf-8")
            load_policies(path.parent)
        elif target.endswith(".contract.yaml") and "/" not in target:
            path = cwd / target
            if path.exists() and path.read_text(encoding="utf-8") != block.text:
                return (
                    f"{block.where}: the block differs from docs/examples/{target}, "
                    "which the examples use: make them the same"
                )
            path.write_text(block.text, encoding="utf-8")
            load_contract(path)
        elif target.endswith("/gp.yaml"):
            path = cwd / target
            if not path.exists() or path.read_text(encoding="utf-8") != block.text:
                return (
                    f"{block.where}: the block differs from docs/examples/{target}, "
                    "which the examples use: make them the same"
                )
            load_yaml_model(path, ProjectConfig, docs="docs/configuration.md")
            load_training_config(path.parent)
        else:
            return f"{block.where}: no loader for {target!r} (a contract, config or policy file)"
    except GoldenpathError as exc:
        return f"{block.where}: {target} does not load: {exc}"
    return None


def run_document(doc: Path, tmp: Path) -> list[str]:
    """Run every example of ``doc``; each failure names the file, the line and the command."""
    cwd = tmp / "examples"
    if EXAMPLES.is_dir():
        shutil.copytree(EXAMPLES, cwd)
    else:
        cwd.mkdir()
    env = environment(tmp)
    home = Path(env["GP_HOME"])
    failures: list[str] = []
    for block in blocks(doc):
        if block.language not in LANGUAGES:
            failures.append(
                f"{block.where}: unknown fence language {block.language!r}: use sh, console, "
                "python or yaml for examples, text for output and synopses"
            )
            continue
        if block.skipped or block.language in ("text", ""):
            continue
        if block.language == "yaml":
            problem = _check_yaml(block, cwd, home)
            if problem:
                failures.append(problem)
        elif block.language == "python":
            done = subprocess.run(
                [sys.executable, "-"],
                input=block.text,
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            if done.returncode != 0:
                failures.append(
                    f"{block.where}: python block exits {done.returncode}"
                    + _tail("stderr", done.stderr)
                )
        else:
            for command in commands(block):
                if command.skipped:
                    continue
                code, stdout, stderr = inprocess.shell(command.text, cwd=cwd, env=env, timeout=180)
                if code != command.expected_exit:
                    failures.append(
                        f"{command.where}: `{command.text}` exits {code}, "
                        f"expected {command.expected_exit}"
                        + _tail("stdout", stdout)
                        + _tail("stderr", stderr)
                    )
    return failures
