"""Start-up: how long a fresh ``gp`` process takes to answer (issue 24, point 1).

Each command runs ``--repeat`` times (default 20) as a fresh process; the figure is the
median wall time, with the median CPU time (user + system, from the children's resource
usage) beside it: on a shared machine the wall time includes waiting for a core, the CPU
time does not. In the same run, the references: ``python -c pass`` (the interpreter alone)
and ``mlflow --help`` from MLflow's own virtualenv (``make bench-mlflow-env``; left out,
and said so, if it is not there).

Budgets (issue 24): ``gp --help`` and ``gp GROUP --help`` under 0.25 s; ``import goldenpath``
under 0.15 s; ``gp status``, ``gp data list``, ``gp runs list`` at 10,000 runs and ``gp models
list`` under 0.4 s. The 10,000-run workspace is built once with the batch calls and cached in
``benchmarks/.data/`` (shared with benchmarks/runs.py).

Run from the repository root::

    .venv/bin/python benchmarks/startup.py               # ~2 min, plus ~1 min the first time
    .venv/bin/python benchmarks/startup.py --repeat 5    # a quick check
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _report import markdown_table
from runs import big_workspace

ROOT = Path(__file__).resolve().parent
MLFLOW = ROOT.parent / ".venv-mlflow" / "bin" / "mlflow"
GP = Path(sys.executable).parent / "gp"


def measure(command: list[str], env: dict[str, str], repeat: int) -> tuple[float, float]:
    """Median wall and CPU seconds of ``repeat`` fresh runs of ``command`` (after one warm-up
    run, not counted, that fills the file cache); a failing command stops the benchmark."""
    subprocess.run(command, env=env, check=True, capture_output=True)
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, env=env, check=True, capture_output=True)
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="fresh processes per command")
    parser.add_argument("--runs", type=int, default=10_000, help="runs in the workspace")
    args = parser.parse_args()

    home = big_workspace(args.runs)
    # Without PYTHONDONTWRITEBYTECODE (which a test or CI environment may set): a user's
    # second and later commands load bytecode from __pycache__, so the warm-up run writes it
    # and the measured runs read it, as theirs do.
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith("GP_") and k != "PYTHONDONTWRITEBYTECODE"
        },
        "GP_HOME": str(home),
        "GP_ACTOR": "bench",
        "COLUMNS": "200",
    }
    python = sys.executable
    cases: list[tuple[str, list[str], float | None]] = [
        ("python -c pass (reference)", [python, "-c", "pass"], None),
        ("import goldenpath", [python, "-c", "import goldenpath"], 0.15),
        ("gp --help", [str(GP), "--help"], 0.25),
        ("gp runs --help", [str(GP), "runs", "--help"], 0.25),
        ("gp data --help", [str(GP), "data", "--help"], 0.25),
        ("gp status", [str(GP), "status"], 0.4),
        ("gp data list", [str(GP), "data", "list"], 0.4),
        (f"gp runs list ({args.runs:,} runs)", [str(GP), "runs", "list"], 0.4),
        ("gp models list", [str(GP), "models", "list"], 0.4),
    ]
    if MLFLOW.exists():
        cases.append(("mlflow --help (reference)", [str(MLFLOW), "--help"], None))
    rows = []
    for label, command, budget in cases:
        wall, cpu = measure(command, env, args.repeat)
        verdict = "" if budget is None else ("PASS" if wall < budget else "MISS")
        rows.append(
            (
                label,
                f"{wall * 1000:,.0f}",
                f"{cpu * 1000:,.0f}",
                "" if budget is None else f"{budget * 1000:,.0f}",
                verdict,
            )
        )
        print(f"  {label}: {wall * 1000:,.0f} ms wall, {cpu * 1000:,.0f} ms CPU", flush=True)
    load = os.getloadavg()
    print(
        f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; "
        f"median of {args.repeat} fresh processes each"
        + ("" if MLFLOW.exists() else "; mlflow not installed (make bench-mlflow-env)")
        + "\n"
    )
    print(markdown_table(["command", "wall ms", "CPU ms", "budget ms", "verdict (wall)"], rows))


if __name__ == "__main__":
    main()
