"""``make mutants``: mutation testing (mutmut 3) of the modules that decide correctness.

    python tools/mutants.py                      every target, one after the other
    python tools/mutants.py serving/traffic ...  the named targets only
    python tools/mutants.py --list               the targets, their functions and tests

Each target is one source file (optionally only some of its functions) and the test files
that cover it. The target runs in a working folder of its own, ``.mutants/<target>/``, so
mutmut's caches (``mutants/`` there) never mix two targets' test selections; the folder is
rebuilt on every run, so every figure comes from this run. mutmut's settings are in
``[tool.mutmut]`` of pyproject.toml; this driver adds, per target, the file to mutate
(``only_mutate``) and the tests to run (``pytest_add_cli_args_test_selection``).

For each mutant mutmut runs only the tests whose stats run reached the mutated function.
Code reached only in a child process (the inference server of ``gp deploy``, a crash test's
flush) leaves no trace in that stats run: such a function gets every test of its target. The
child processes import the mutated copy (``PYTHONPATH`` points at it) and see the mutant under
test through ``MUTANT_UNDER_TEST``, which they inherit.

The results (status of every mutant, the diff of every one not killed) go to
``.mutants/<target>/results.json``; the summary table printed at the end is the one in
docs/testing.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / ".mutants"


@dataclass(frozen=True)
class Target:
    source: str  # under src/goldenpath/, without .py
    tests: tuple[str, ...]
    functions: tuple[str, ...] = ()  # empty: every function of the file
    about: str = ""

    @property
    def path(self) -> str:
        return f"src/goldenpath/{self.source}.py"

    @property
    def module(self) -> str:
        return "goldenpath." + self.source.replace("/", ".")

    def patterns(self) -> list[str]:
        """mutmut mutant-name globs: ``module.x_func__mutmut_N`` or ``module.xǁClassǁmethod…``."""
        if not self.functions:
            return [f"{self.module}.*"]
        out = []
        for name in self.functions:
            out += [f"{self.module}.x_{name}__mutmut_*", f"{self.module}.xǁ*ǁ{name}__mutmut_*"]
        return out


TARGETS: dict[str, Target] = {
    "features/offline": Target(
        "features/offline/duckdb",
        (
            "tests/features/test_point_in_time.py",
            "tests/features/test_ties_through_delta.py",
            "tests/features/test_consistency.py",
        ),
        about="the point-in-time join, TTL and windows offline",
    ),
    "features/online_values": Target(
        "features/online_values",
        ("tests/features/online/test_online.py", "tests/features/test_consistency.py"),
        about="windows and TTL online (aggregations at read time)",
    ),
    "features/online/sqlite": Target(
        "features/online/sqlite",
        ("tests/features/online/test_online.py", "tests/features/online/test_crash.py"),
        about="online tie-breaks, TTL pruning (SQLite)",
    ),
    "features/online/redis": Target(
        "features/online/redis",
        ("tests/features/online/test_online.py",),
        about="online tie-breaks (Redis)",
    ),
    "features/push": Target(
        "features/materialize",
        ("tests/features/online/test_online.py", "tests/features/online/test_sources.py"),
        functions=("tag_batch",),
        about="push tagging",
    ),
    "features/definitions": Target(
        "features/definitions",
        ("tests/features/test_definitions.py",),
        functions=("version", "_hashed", "definition_hash", "spec", "as_dict"),
        about="definition hashing",
    ),
    "serving/traffic": Target(
        "serving/traffic",
        ("tests/serving/test_traffic.py",),
        about="the traffic split",
    ),
    "server/guard": Target(
        "server/guard",
        ("tests/server/test_bodies.py",),
        about="control-plane body limits",
    ),
    "server/json_body": Target(
        "server/json_body",
        ("tests/server/test_bodies.py", "tests/server/test_hostile_json.py"),
        about="control-plane JSON bodies",
    ),
    "serving/body": Target(
        "serving/app",
        ("tests/serving/test_hostile_bodies.py", "tests/serving/test_bad_requests.py"),
        functions=("_body", "_too_large", "_read_body"),
        about="inference-server body limits",
    ),
    "registry/gates": Target(
        "registry/gates",
        (
            "tests/registry/test_gates.py",
            "tests/registry/test_service.py",
            "tests/registry/test_promotion_governance.py",
        ),
        about="promotion gates",
    ),
    "registry/parity": Target(
        "registry/service",
        ("tests/registry/test_service.py",),
        functions=("_parity", "_check_inputs"),
        about="ONNX parity at registration",
    ),
    "training/rerun": Target(
        "training/pipeline",
        ("tests/training/test_reproducibility.py", "tests/training/test_runs.py"),
        functions=("rerun",),
        about="gp runs rerun",
    ),
    "serving/prediction_log": Target(
        "serving/prediction_log",
        ("tests/serving/test_prediction_log.py",),
        functions=(
            "flush_spool",
            "_flush_batches",
            "_finish",
            "_recover",
            "_remove_stale_temp",
            "_set_aside",
            "_write_dead_letters",
            "_read_spool",
            "spool_files",
        ),
        about="the prediction log's flush and recovery",
    ),
    "core/deadlines": Target(
        "core/deadlines",
        ("tests/core/test_deadlines.py",),
        about="stopping pure-Python work at a deadline (the policy time limit)",
    ),
    "training/sandbox": Target(
        "training/sandbox",
        ("tests/training/test_sandbox.py",),
        functions=("child_environment", "allowed_roots", "_inside", "plan", "_fs_rights"),
        about="what train.py may reach: its environment and filesystem view",
    ),
    "governance/access": Target(
        "governance/access",
        ("tests/governance/test_access.py", "tests/governance/test_project_squatting.py"),
        about="authorization checks",
    ),
    "governance/roles": Target(
        "governance/roles",
        ("tests/governance/test_access.py",),
        about="roles and their permissions",
    ),
}


CHILD_SITE = """\
import os

if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    os.environ["MUTANT_UNDER_TEST"] = ""
"""


@dataclass
class Outcome:
    target: str
    seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)
    survivors: dict[str, str] = field(default_factory=dict)  # mutant name -> diff
    error: str | None = None


def prepare(name: str) -> Path:
    """A fresh working folder for ``name`` that sees the project through symlinks."""
    folder = WORK / name.replace("/", "-")
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for entry in ("src", "tests", "docs", "pyproject.toml"):
        (folder / entry).symlink_to(ROOT / entry)
    return folder


def run_one(name: str, max_children: int | None) -> int:
    """Run one target in this process (the parent runs each target in a child of its own)."""
    target = TARGETS[name]
    folder = prepare(name)
    os.chdir(folder)
    # Child processes the tests start (the inference server, a crash test's flush) import
    # the mutated copy and see the mutant under test through the environment they inherit.
    # mutmut's stats run records only this process's calls; in a child, its trampolines would
    # look for mutmut's settings in the child's working folder and fail: there a stats run is
    # a run of the original code.
    site = folder / "child-site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(CHILD_SITE)
    os.environ["PYTHONPATH"] = os.pathsep.join([str(folder / "mutants" / "src"), str(site)])

    from mutmut import configuration

    configuration.reset_config()
    config = dataclasses.replace(
        configuration.config(),
        only_mutate=[target.path],
        pytest_add_cli_args_test_selection=list(target.tests),
    )
    configuration._config = config

    import mutmut.__main__ as mm
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.mutation.diff_apply import get_diff_for_mutant
    from mutmut.state import state
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.format_utils import mangled_name_from_mutant_name

    collect = mm.collect_or_load_stats

    def collect_then_cover_children(runner: Any, **kwargs: Any) -> None:
        collect(runner, **kwargs)
        every_test = set(state().duration_by_test)
        data = SourceFileMutationData(path=Path(target.path))
        data.load()
        for key in data.exit_code_by_key:
            function = mangled_name_from_mutant_name(key)
            if not state().tests_by_mangled_function_name.get(function):
                state().tests_by_mangled_function_name[function] = set(every_test)

    mm.collect_or_load_stats = collect_then_cover_children  # type: ignore[assignment]

    started = time.monotonic()
    outcome = Outcome(name)
    try:
        mm._run(target.patterns(), max_children)
    except SystemExit as exc:
        if exc.code not in (0, None):
            outcome.error = f"mutmut stopped with exit code {exc.code}"
    outcome.seconds = round(time.monotonic() - started, 1)

    import fnmatch

    data = SourceFileMutationData(path=Path(target.path))
    data.load()
    for key, code in sorted(data.exit_code_by_key.items()):
        if not any(fnmatch.fnmatch(key, p) for p in target.patterns()):
            continue
        status = status_by_exit_code[code]
        outcome.counts[status] = outcome.counts.get(status, 0) + 1
        if status != "killed":
            outcome.survivors[key] = f"[{status}]\n" + get_diff_for_mutant(key, path=target.path)
    (folder / "results.json").write_text(json.dumps(dataclasses.asdict(outcome), indent=1))
    return 0 if outcome.error is None else 1


def row(outcome: dict[str, Any]) -> str:
    counts = dict(outcome["counts"])
    total = sum(counts.values())
    killed = counts.pop("killed", 0)
    survived = counts.pop("survived", 0)
    timeout = counts.pop("timeout", 0)
    score = f"{100 * (killed + timeout) / total:.0f}%" if total else "-"
    minutes = f"{outcome['seconds'] / 60:.1f} min"
    note = ", ".join([f"{n} {status}" for status, n in counts.items()] + [outcome["error"] or ""])
    return (
        f"| {outcome['target']} | {killed} | {survived} | {timeout} | {total} | {score} | "
        f"{minutes} | {note.strip(', ')} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("targets", nargs="*", help="targets to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the targets and stop")
    parser.add_argument("--max-children", type=int, default=None)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.one:
        return run_one(args.one, args.max_children)
    if args.list:
        for name, target in TARGETS.items():
            functions = ", ".join(target.functions) or "every function"
            print(f"{name}: {target.path} ({functions}): {target.about}")
            for test in target.tests:
                print(f"    {test}")
        return 0
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        print(f"unknown target(s) {unknown}; choose from: {', '.join(TARGETS)}", file=sys.stderr)
        return 2
    names = args.targets or list(TARGETS)
    rows = []
    failed = False
    for name in names:
        print(f"== {name}", flush=True)
        command = [sys.executable, __file__, "--one", name]
        if args.max_children:
            command += ["--max-children", str(args.max_children)]
        code = subprocess.call(command, cwd=ROOT)
        results = WORK / name.replace("/", "-") / "results.json"
        if not results.exists():
            print(f"{name}: no results (exit code {code})", file=sys.stderr)
            failed = True
            continue
        outcome = json.loads(results.read_text())
        failed = failed or code != 0
        for mutant, diff in outcome["survivors"].items():
            print(f"--- {mutant} {diff}")
        rows.append(row(outcome))
    print("| target | killed | survived | timeout | total | score | time | other |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
