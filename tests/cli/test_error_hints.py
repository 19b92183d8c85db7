"""An error's hint is in ``str(error)`` (a notebook traceback shows only that), and is shown
once wherever an error is printed or crosses a boundary (issue 12, point 10).
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

import goldenpath
from goldenpath.core.errors import GoldenpathError, NotFound
from tests.cli.inprocess import gp
from tests.e2e.test_cli import ACTOR, Gp, assert_user_error
from tests.server.conftest import serving


def test_str_of_a_no_workspace_error_carries_its_hint(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(NotFound) as caught:
        goldenpath.connect(missing)
    error = caught.value
    assert str(error) == f"{error.message}\nhint: create one with: gp init --workspace {missing}"
    assert error.message.startswith(f"no workspace at {missing} ")
    # An error without a hint is its message alone.
    assert str(GoldenpathError("plain")) == "plain"


@pytest.mark.e2e
def test_the_cli_prints_the_hint_once(tmp_path: Path) -> None:
    gp = Gp(tmp_path, tmp_path / "nowhere")
    run = gp.run("data", "list", code=None)
    message = assert_user_error(run, 4, f"no workspace at {tmp_path / 'nowhere'}")
    assert message.count("gp init --workspace") == 1, str(run)
    assert run.err.count("hint:") == 1, str(run)


def test_an_http_error_round_trip_keeps_detail_and_hint_apart(tmp_path: Path) -> None:
    with goldenpath.connect(tmp_path / "home", actor=ACTOR, create=True) as ws:
        token = ws.principals.create_token(ACTOR).secret
        with serving(ws) as url:
            raw = httpx.get(
                f"{url}/api/v1/datasets/nope", headers={"Authorization": f"Bearer {token}"}
            )
            with goldenpath.connect(url, token=token) as remote, pytest.raises(NotFound) as caught:
                remote.datasets.get("nope")
            over_http = {"GP_SERVER": url, "GP_TOKEN": token}
            shown = gp("data", "show", "nope", env=over_http)
            new_policy = gp("policy", "new", "restricted-data", env=over_http)
    body = raw.json()
    assert raw.status_code == 404
    assert body["detail"] == "no dataset named 'nope'"
    assert body["hint"] == "list datasets with: gp data list"
    error = caught.value
    assert (error.message, error.hint) == (body["detail"], body["hint"])
    assert str(error).count("gp data list") == 1
    assert shown.code == 4, str(shown)
    assert shown.err == "error: no dataset named 'nope'\nhint: list datasets with: gp data list\n"
    # gp policy new writes into the workspace's folder: not through a server.
    assert new_policy.code == 2 and "without GP_SERVER" in new_policy.err, str(new_policy)
    assert not (tmp_path / "home" / "policies").exists()
