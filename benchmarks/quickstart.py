"""``gp quickstart`` from nothing to the first live prediction (issue 26, budget under 15 s).

Each run is a fresh ``gp quickstart`` process in a fresh, empty ``HOME`` (so a fresh
workspace), timed from the process start to its exit (which comes after the prediction is
answered and logged), then its endpoint is stopped (not timed). The per-step times are the
ones ``gp quickstart`` prints: the ingest's progress lines (stderr), gp up's steps and the
training pipeline's (stdout). The figure is the median wall time with the median CPU time of
the quickstart process and its finished children beside it (the training child; not the deployment's
supervisor and server, which are still running when it exits).

Not measured here yet: the same path scripted with Feast and MLflow (issue 26 asks for it in
the same run); RESULTS.md gives the figure the issue measured for it.

Run from the repository root::

    .venv/bin/python benchmarks/quickstart.py              # 5 runs, ~1 min
    .venv/bin/python benchmarks/quickstart.py --repeat 1   # a quick check
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import markdown_table

GP = Path(sys.executable).parent / "gp"
STEP = re.compile(r"^\s+([a-z]+)\s+(\d+\.\d+)s$")  # the ingest's progress lines (stderr)
UP_STEP = re.compile(r"^([a-z]+)\s{2,}.*\((\d+\.\d+)s\)$")  # gp up's steps (stdout)


def one_run(repeat_index: int) -> tuple[float, float, dict[str, float]]:
    """Wall and CPU seconds of one ``gp quickstart`` from nothing, and its steps' seconds."""
    with tempfile.TemporaryDirectory(prefix=f"gp-quickstart-{repeat_index}-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GP_")}
        env.pop("XDG_DATA_HOME", None)
        env["HOME"] = tmp
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        done = subprocess.run(
            [str(GP), "quickstart"], env=env, capture_output=True, text=True, cwd=tmp
        )
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            if done.returncode != 0:
                raise SystemExit(f"gp quickstart failed:\n{done.stdout}\n{done.stderr}")
            steps = {
                f"ingest: {m.group(1)}": float(m.group(2))
                for line in done.stderr.splitlines()
                if (m := STEP.match(line))
            }
            steps |= {
                m.group(1): float(m.group(2))
                for line in done.stdout.splitlines()
                if (m := UP_STEP.match(line))
            }
            trained = re.search(r"^\s+train\s+\S+ in (\d+\.\d+)s", done.stdout, re.M)
            if trained:
                steps["train (child)"] = float(trained.group(1))
        finally:
            subprocess.run(
                [str(GP), "deployments", "stop", "fraud-api"], env=env, capture_output=True
            )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="fresh quickstarts")
    args = parser.parse_args()
    results = [one_run(i) for i in range(args.repeat)]
    walls = [w for w, _, _ in results]
    cpus = [c for _, c, _ in results]
    names = list(dict.fromkeys(name for _, _, steps in results for name in steps))
    print(
        f"gp quickstart, nothing to a live prediction: {args.repeat} runs on "
        f"{platform.machine()} ({os.cpu_count()} cores), Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d')}"
    )
    print(
        markdown_table(
            ["what", "median s", "min s", "max s"],
            [
                ("whole (wall)", *_three(walls)),
                ("whole (CPU, with children)", *_three(cpus)),
                *((name, *_three([s[name] for _, _, s in results if name in s])) for name in names),
            ],
        )
    )
    median = statistics.median(walls)
    print(f"budget 15 s: {'met' if median < 15 else 'MISSED'} ({median:.1f} s median)")


def _three(values: list[float]) -> tuple[str, str, str]:
    return (
        f"{statistics.median(values):.2f}",
        f"{min(values):.2f}",
        f"{max(values):.2f}",
    )


if __name__ == "__main__":
    main()
