"""Schemathesis against the server's own OpenAPI description: no 5xx, no schema violations.

Bounded (a few examples per operation) so it stays a test, not a fuzzing campaign.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import goldenpath
from tests.conftest import write
from tests.server.conftest import serving


@pytest.fixture(scope="module")
def admin_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    home: Path = tmp_path_factory.mktemp("fuzz") / "home"
    ws = goldenpath.connect(home, actor="alice", create=True)
    ws.datasets.ingest("tx", write(home.parent / "d.csv", "id,amount\n1,2.0\n"))
    token = ws.principals.create_token("alice", expires_in="1d").secret
    with serving(ws) as url:
        yield url, token
    ws.close()


def test_no_server_errors_and_responses_match_the_schema(
    admin_server: tuple[str, str],
) -> None:
    url, token = admin_server
    api = schemathesis.openapi.from_url(url + "/openapi.json")
    checks = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_schema_conformance,
    ]
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 25
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=5,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def exercise(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=checks)

            try:
                exercise()
            except Unsatisfiable:
                # No invalid input exists for an operation without parameters or body.
                assert mode is GenerationMode.NEGATIVE, operation.label
