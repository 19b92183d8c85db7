"""What a run records about where it ran: Python, packages, platform, the git commit."""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# The packages whose versions decide what a model is (and how it converts to ONNX).
PACKAGES = (
    "goldenpath",
    "numpy",
    "pandas",
    "pyarrow",
    "scikit-learn",
    "scipy",
    "lightgbm",
    "xgboost-cpu",
    "xgboost",
    "onnx",
    "onnxruntime",
    "skl2onnx",
    "onnxmltools",
    "skops",
    "duckdb",
    "deltalake",
)
GIT_SECONDS = 5


def package_versions() -> dict[str, str]:
    found = {}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def git_state(directory: Path) -> dict[str, Any] | None:
    """The commit the project is at and whether its tree has uncommitted changes; None when
    it is not in a git repository (or git is not installed)."""
    git = shutil.which("git")
    if git is None:
        return None

    def run(*args: str) -> str | None:
        try:
            done = subprocess.run(
                [git, *args],
                cwd=directory,
                capture_output=True,
                text=True,
                timeout=GIT_SECONDS,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    if commit is None:
        return None
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def capture(project_dir: Path, seed: int) -> dict[str, Any]:
    """The environment of a run."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": package_versions(),
        "git": git_state(project_dir),
        "seed": seed,
    }
