"""Every example in README.md and docs/*.md runs as written (issue 12, point 1).

Each document runs in order in its own fresh workspace (GP_HOME) and a copy of
``docs/examples/`` (see tests/docs/blocks.py for what runs and how a block opts out, visibly).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.cli import inprocess
from tests.docs.blocks import REPO, Block, blocks, commands, documents
from tests.docs.runner import environment, run_document

pytestmark = pytest.mark.e2e


# Documents run side by side (each in its own workspace): gp's start-up is CPU-bound.
WORKERS = max(2, min(4, os.cpu_count() or 1))


@pytest.fixture(scope="module")
def outcomes(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[Path, list[str]]:
    """The failures of every selected document's examples (``-k`` runs only those)."""
    selected = [
        item.callspec.params["doc"]
        for item in request.session.items
        if getattr(item, "originalname", "") == "test_examples_run_as_written"
        and hasattr(item, "callspec")
    ]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        futures = {
            doc: pool.submit(run_document, doc, tmp_path_factory.mktemp(doc.stem))
            for doc in selected
        }
    return {doc: future.result() for doc, future in futures.items()}


# The first document's set-up runs every document: on a busy 2-core machine that can pass the
# suite's 300 s per test.
@pytest.mark.timeout(900)
@pytest.mark.parametrize("doc", documents(), ids=lambda p: str(p.relative_to(REPO)))
def test_examples_run_as_written(doc: Path, outcomes: dict[Path, list[str]]) -> None:
    failures = outcomes[doc]
    assert not failures, f"{len(failures)} example(s) failed:\n" + "\n".join(failures)


def test_a_failing_example_is_reported_with_file_line_and_command(tmp_path: Path) -> None:
    doc = tmp_path / "probe.md"
    doc.write_text(
        "# probe\n\n```sh\ngp data show nothing-here\n"
        "gp data show nothing-here   # exits 4: no workspace, even\n```\n\n"
        "```yaml\n# broken.contract.yaml\ncolumns: {a: {type: nope}}\n```\n\n"
        "```python\nraise SystemExit(3)\n```\n",
        encoding="utf-8",
    )
    failures = run_document(doc, tmp_path)
    assert len(failures) == 3, failures
    assert failures[0].startswith("probe.md:4: `gp data show nothing-here` exits 4, expected 0")
    assert "error: no workspace at" in failures[0]
    assert failures[1].startswith("probe.md:8: broken.contract.yaml does not load")
    assert failures[2].startswith("probe.md:13: python block exits 3")


def test_commands_are_split_as_a_reader_sees_them() -> None:
    block = Block(
        "x.md",
        10,
        "console",
        "$ gp a \\\n    --b c   # exits 3: denied\nerror: denied\n$ gp d  # (not run by the docs "
        "test: a server)\n",
    )
    found = commands(block)
    assert [(c.line, c.text, c.expected_exit, c.skipped) for c in found] == [
        (11, "gp a \\\n--b c   # exits 3: denied", 3, False),
        (14, "gp d  # (not run by the docs test: a server)", 0, True),
    ]
    assert all(b.language for b in blocks(REPO / "README.md"))


@pytest.mark.parametrize(
    ("command", "args"),
    [
        ("gp data head tx@1   # time travel", ["data", "head", "tx@1"]),
        (
            "gp -p fraud policy check a \\\n--attr x=1",
            ["-p", "fraud", "policy", "check", "a", "--attr", "x=1"],
        ),
        (
            """gp runs list --filter "metrics.auc > 0.8" --order-by 'a desc'""",
            ["runs", "list", "--filter", "metrics.auc > 0.8", "--order-by", "a desc"],
        ),
        ("gp audit checkpoint --json > anchor.json", None),
        ("gp principals add carol && gp principals add dave", None),
        ('gp runs show "$(gp runs list -q)"', None),
        ("gp runs compare $(gp runs list -q)", None),
        ("GP_ACTOR=carol gp approve x", None),
        ("gp data ingest tx ~/a.csv", None),
        ("gp data ingest tx *.csv", None),
        ("curl -s http://127.0.0.1:8731/v2/models/fraud", None),
        ("gp data head 'unclosed", None),
    ],
)
def test_only_plain_gp_commands_run_in_process(command: str, args: list[str] | None) -> None:
    assert inprocess.plain_gp(command) == args


def test_a_command_runs_alike_in_process_and_in_bash(tmp_path: Path) -> None:
    env = environment(tmp_path)
    for command in ("gp data show nothing-here", "gp data show nothing-here | cat"):
        code, out, err = inprocess.shell(command, cwd=tmp_path, env=env, timeout=60)
        assert (code, out) == ((4, "") if "|" not in command else (0, "")), (command, err)
        assert "error: no workspace at" in err and "Traceback" not in err
