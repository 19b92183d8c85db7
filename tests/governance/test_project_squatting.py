"""An ingest writes to the project it was authorised for, or not at all; racing creators too."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import goldenpath
from goldenpath import PermissionDenied
from goldenpath.core.errors import Conflict
from tests.conftest import write
from tests.server.conftest import serving


@pytest.fixture
def org(ws: goldenpath.Workspace, tmp_path: Path) -> Iterator[goldenpath.Workspace]:
    """'payroll' lives in project 'hr'; mallory contributes to 'sales' and views 'hr';
    bob contributes to both."""
    for project in ("sales", "hr"):
        ws.access.create_project(project)
    ws.principals.add("mallory")
    ws.access.grant("contributor", "mallory", project="sales")
    ws.access.grant("viewer", "mallory", project="hr")
    ws.principals.add("bob")
    for project in ("sales", "hr"):
        ws.access.grant("contributor", "bob", project=project)
    as_(ws, "alice", "hr").datasets.ingest("payroll", rows(tmp_path, "salary", 100))
    yield ws


def as_(ws: goldenpath.Workspace, who: str, project: str | None = None) -> goldenpath.Workspace:
    return goldenpath.connect(ws.stack.home, metadata=ws.stack.metadata, actor=who, project=project)


def rows(tmp_path: Path, label: str, count: int = 1) -> Path:
    lines = "".join(f"{label},{i}\n" for i in range(count))
    return write(tmp_path / f"{label}-{count}.csv", "who,amount\n" + lines)


def labels(ws: goldenpath.Workspace, name: str) -> set[str]:
    return set(ws.datasets.read(name).column("who").to_pylist())


def test_a_named_project_that_is_not_the_datasets_is_an_error(
    org: goldenpath.Workspace, tmp_path: Path
) -> None:
    with as_(org, "mallory", "sales") as mallory:
        # No role to write there: refused as such, still naming both projects.
        with pytest.raises(
            PermissionDenied,
            match=r"may not dataset\.write on project 'hr': dataset 'payroll' is in project "
            r"'hr', not 'sales'",
        ):
            mallory.datasets.ingest("payroll", rows(tmp_path, "mallory"))
        with pytest.raises(Conflict, match="'payroll' is in project 'hr', not 'sales'"):
            mallory.datasets.validate("payroll", rows(tmp_path, "mallory"))
    with (
        as_(org, "mallory", "hr") as mallory,
        pytest.raises(PermissionDenied, match="on project 'hr'"),
    ):
        mallory.datasets.ingest("payroll", rows(tmp_path, "mallory"))
    with as_(org, "bob", "sales") as bob, pytest.raises(Conflict, match="'hr'") as raised:
        bob.datasets.ingest("payroll", rows(tmp_path, "bob"))
    assert "--project hr" in (raised.value.hint or "")
    assert labels(org, "payroll") == {"salary"}
    assert [v.version for v in org.datasets.history("payroll")] == [1]


def test_no_named_project_writes_where_the_dataset_is_checked_there(
    org: goldenpath.Workspace, tmp_path: Path
) -> None:
    with as_(org, "mallory") as mallory, pytest.raises(PermissionDenied, match="project 'hr'"):
        mallory.datasets.ingest("payroll", rows(tmp_path, "mallory"))
    with as_(org, "bob") as bob:
        assert bob.datasets.ingest("payroll", rows(tmp_path, "bob")).version.version == 2
    assert labels(org, "payroll") == {"salary", "bob"}


def test_a_named_project_over_http_is_checked_too(
    org: goldenpath.Workspace, tmp_path: Path
) -> None:
    mallory = org.principals.create_token("mallory", expires_in="1h").secret
    bob = org.principals.create_token("bob", expires_in="1h").secret
    with serving(org) as url:
        with (
            goldenpath.connect(url, token=bob, project="sales") as remote,
            pytest.raises(Conflict, match="'hr', not 'sales'"),
        ):
            remote.datasets.ingest("payroll", rows(tmp_path, "bob"))
        for token, status in ((bob, 409), (mallory, 403)):
            with open(rows(tmp_path, "someone"), "rb") as handle:
                response = httpx.post(
                    url + "/api/v1/datasets/payroll/versions",
                    headers={"Authorization": f"Bearer {token}", "X-GP-Project": "sales"},
                    files={"file": ("m.csv", handle)},
                )
            assert response.status_code == status
            assert "in project 'hr', not 'sales'" in response.json()["detail"]
    assert labels(org, "payroll") == {"salary"}


def test_racing_creators_never_put_a_writers_rows_where_it_may_not_write(
    org: goldenpath.Workspace, tmp_path: Path
) -> None:
    """Each round: mallory ingests a new dataset into 'sales' (where she contributes) while
    the admin creates it in 'hr' (where she only views). Whoever creates it first, none of
    mallory's rows may end up in 'hr'. Today's code checked access before the lock and then
    appended into whatever it found."""
    big = rows(tmp_path, "mallory", 20_000)  # parsed before the lock: the admin gets there first
    small = rows(tmp_path, "admin")
    squatted = []
    for round_ in range(8):
        name = f"ledger_{round_}"
        start = threading.Barrier(2)

        def ingest(
            ws: goldenpath.Workspace,
            path: Path,
            name: str = name,
            start: threading.Barrier = start,
        ) -> None:
            start.wait()
            # Refused (either error) is fine: the assertion is on what was written.
            with contextlib.suppress(Conflict, PermissionDenied):
                ws.datasets.ingest(name, path)

        with as_(org, "mallory", "sales") as mallory, as_(org, "alice", "hr") as admin:
            threads = [
                threading.Thread(target=ingest, args=(mallory, big)),
                threading.Thread(target=ingest, args=(admin, small)),
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
        writers = {v.created_by for v in org.datasets.history(name)}
        if "mallory" in writers and project_of(org, name) == "hr":
            squatted.append(name)
    assert squatted == [], f"mallory's rows landed in project 'hr' in {squatted}"


def project_of(ws: goldenpath.Workspace, name: str) -> str:
    from sqlalchemy import select

    from goldenpath.store.tables import datasets, projects

    with ws.store.connect() as conn:
        return str(
            conn.execute(
                select(projects.c.name)
                .join(datasets, datasets.c.project_id == projects.c.id)
                .where(datasets.c.name == name)
            ).scalar_one()
        )
